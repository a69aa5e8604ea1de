# Copyright (c) monai-mamba contributors. Licensed under the Apache License, Version 2.0.
"""VMamba's hierarchical encoder returning every stage's features, as Swin-UMamba uses it (``VSSMEncoder``)."""

from __future__ import annotations

import re
from collections.abc import Sequence

import torch
import torch.nn as nn

from monai_mamba.blocks.patch_ops import PatchEmbed, PatchMerging
from monai_mamba.blocks.vss_stage import VSSStage

__all__ = ["VMambaEncoder"]


def init_vmamba_weights(module: nn.Module) -> None:
    """VMamba's ``_init_weights``: Linear ``trunc_normal(std=0.02)`` with zero bias, LayerNorm (1, 0)."""
    if isinstance(module, nn.Linear):
        nn.init.trunc_normal_(module.weight, std=0.02)
        if module.bias is not None:
            nn.init.zeros_(module.bias)
    elif isinstance(module, nn.LayerNorm):
        nn.init.ones_(module.weight)
        nn.init.zeros_(module.bias)


class VMambaEncoder(nn.Module):
    """Patch embedding, then stages of VSS blocks with patch merging between them (VMamba-Tiny by default).

    Module names follow Swin-UMamba's ``VSSMEncoder`` (``patch_embed``, ``layers.i.blocks``, ``downsamples.i``), so
    a VMamba checkpoint maps onto it by renaming ``layers.i.downsample`` to ``downsamples.i``.

    Args:
        in_channels: input channels.
        patch_size: of the patch embedding.
        depths: VSS blocks per stage.
        dims: channels per stage.
        d_state: SSM state size.
        drop_path_rate: largest stochastic-depth rate (linear over all blocks).
        spatial_dims: 2 or 3.
        ss2d_kwargs: further ``SS2D`` arguments.

    Shapes:
        ``(b, in_channels, *spatial)`` -> a list: the input itself, then each stage's output channels-first,
        ``(b, dims[i], *spatial / (patch_size * 2**i))``.
    """

    def __init__(
        self,
        in_channels: int,
        patch_size: int = 4,
        depths: Sequence[int] = (2, 2, 9, 2),
        dims: Sequence[int] = (96, 192, 384, 768),
        d_state: int = 16,
        drop_path_rate: float = 0.2,
        spatial_dims: int = 2,
        **ss2d_kwargs,
    ) -> None:
        super().__init__()
        rates = torch.linspace(0, drop_path_rate, sum(depths)).tolist()
        self.patch_embed = PatchEmbed(patch_size, in_channels, dims[0], spatial_dims)
        self.layers = nn.ModuleList(
            VSSStage(dims[i], rates[sum(depths[:i]) : sum(depths[: i + 1])], d_state, spatial_dims, **ss2d_kwargs)
            for i in range(len(depths))
        )
        self.downsamples = nn.ModuleList(PatchMerging(dims[i], spatial_dims) for i in range(len(depths) - 1))
        self.apply(init_vmamba_weights)

    @staticmethod
    def vmamba_key(key: str) -> str:
        """This encoder's name for a VMamba checkpoint tensor: ``layers.i.downsample`` becomes ``downsamples.i``."""
        return re.sub(r"^layers\.(\d+)\.downsample\.", r"downsamples.\1.", key)

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        features = [x]
        x = self.patch_embed(x)
        for i, layer in enumerate(self.layers):
            x = layer(x)
            features.append(x.movedim(-1, 1))
            if i < len(self.downsamples):
                x = self.downsamples[i](x)
        return features

# Copyright (c) monai-mamba contributors. Licensed under the Apache License, Version 2.0.
"""Swin-UMamba-dagger, the variant of Swin-UMamba (Liu et al., MICCAI 2024) with a Mamba decoder, as in the official
code (``JiarunLiu/Swin-UMamba``, ``nnunetv2/nets/SwinUMambaD.py``)."""

from __future__ import annotations

import torch
import torch.nn as nn
from monai.networks.layers.factories import Conv
from monai.networks.nets import DynUNet

from monai_mamba.blocks import FinalPatchExpandX4, PatchExpand, VMambaEncoder, VSSStage
from monai_mamba.blocks.input_checks import check_channels_first
from monai_mamba.features import ULevels

__all__ = ["SwinUMambaD"]


class _MambaDecoder(nn.Module):
    """The official ``UNetResDecoder``: per level, deepest first, ``PatchExpand`` -> concat the skip ->
    ``Linear(2C -> C)`` -> 2 VSS blocks -> 1x1 seg head; then ``FinalPatchExpandX4`` -> 1x1 head."""

    def __init__(
        self, dims: tuple[int, ...], out_channels: int, drop_path_rate: float, spatial_dims: int, **ss2d_kwargs
    ):
        super().__init__()
        levels = len(dims) - 1
        rates = torch.linspace(drop_path_rate, 0, 2 * levels).tolist()
        conv = Conv[Conv.CONV, spatial_dims]
        self.expand_layers = nn.ModuleList(PatchExpand(dims[-s], spatial_dims) for s in range(1, levels + 1))
        self.expand_layers.append(FinalPatchExpandX4(dims[0], spatial_dims))
        self.stages = nn.ModuleList(
            VSSStage(dims[-(s + 1)], rates[2 * (s - 1) : 2 * s], spatial_dims=spatial_dims, **ss2d_kwargs)
            for s in range(1, levels + 1)
        )
        self.stages.append(nn.Identity())
        self.concat_back_dim = nn.ModuleList(
            nn.Linear(2 * dims[-(s + 1)], dims[-(s + 1)]) for s in range(1, levels + 1)
        )
        self.seg_layers = nn.ModuleList(conv(dims[-(s + 1)], out_channels, kernel_size=1) for s in range(1, levels + 1))
        self.seg_layers.append(conv(dims[0], out_channels, kernel_size=1))

    def forward(self, skips: list[torch.Tensor]) -> list[torch.Tensor]:
        """``skips``: channels-first encoder features, deepest last; returns the heads' logits, full resolution
        first."""
        x = skips[-1]
        outputs = []
        for s, (expand, stage, head) in enumerate(zip(self.expand_layers, self.stages, self.seg_layers)):
            x = expand(x.movedim(1, -1))
            if s < len(self.concat_back_dim):
                x = self.concat_back_dim[s](torch.cat([x, skips[-(s + 2)].movedim(1, -1)], dim=-1))
            x = stage(x).movedim(-1, 1)
            outputs.append(head(x))
        return outputs[::-1]


class SwinUMambaD(nn.Module):
    """Swin-UMamba-dagger: VMamba-Tiny encoder (patch size 4, no stem) and a Mamba decoder.

    Structure (official code): ``vssm_encoder`` as in ``SwinUMamba`` but with a patch size of 4 on the input;
    ``decoder`` three times ``PatchExpand`` -> concat the skip -> ``Linear(2C -> C)`` -> 2 VSS blocks (drop-path
    0.2 -> 0 over the 6 blocks) -> 1x1 seg head at C = 384, 192, 96; then ``FinalPatchExpandX4`` -> 1x1 head. Every
    convolution gets He initialisation (``kaiming_normal_``, a = 1e-2, zero bias) as nnU-Net's ``InitWeights_He``,
    after VMamba's init of the Linear and LayerNorm layers. With ``deep_supervision`` the network returns, in training
    mode, the logits at H, H/4, H/8, H/16 (full resolution first); otherwise the full-resolution map.

    Args:
        spatial_dims: 2 (3 builds the same design on 3-D blocks, without pretraining).
        in_channels: input channels.
        out_channels: classes.
        deep_supervision: return every head's output while training.
        drop_path_rate: of the encoder and (decreasing) of the decoder.
        ss2d_kwargs: further ``SS2D`` arguments.

    Shapes:
        ``(b, in_channels, *spatial)`` -> ``(b, out_channels, *spatial)`` (or the deep-supervision list);
        spatial sizes must be divisible by 32.
    """

    # the levels of features across the U (monai_mamba.features.default_u_levels)
    u_levels = ULevels(
        ("vssm_encoder.layers.0", "vssm_encoder.layers.1", "vssm_encoder.layers.2"),
        ("decoder.stages.2", "decoder.stages.1", "decoder.stages.0"),
        channels_last=True,
    )

    def __init__(
        self,
        spatial_dims: int = 2,
        in_channels: int = 1,
        out_channels: int = 14,
        deep_supervision: bool = True,
        drop_path_rate: float = 0.2,
        **ss2d_kwargs,
    ) -> None:
        super().__init__()
        self.spatial_dims, self.in_channels, self.deep_supervision = spatial_dims, in_channels, deep_supervision
        dims = (96, 192, 384, 768)
        self.vssm_encoder = VMambaEncoder(
            in_channels,
            patch_size=4,
            depths=(2, 2, 9, 2),
            dims=dims,
            drop_path_rate=drop_path_rate,
            spatial_dims=spatial_dims,
            **ss2d_kwargs,
        )
        self.decoder = _MambaDecoder(dims, out_channels, drop_path_rate, spatial_dims, **ss2d_kwargs)
        self.apply(DynUNet.initialize_weights)  # nnU-Net's He init: kaiming_normal_(a=0.01), zero bias

    def vmamba_checkpoint_filter(self, key: str, tensor: torch.Tensor) -> list[tuple[str, torch.Tensor]]:
        """Where the official loader puts a VMamba ImageNet tensor: into ``vssm_encoder`` (``layers.i.downsample`` ->
        ``downsamples.i``), except ``norm.*`` and ``head.*``, and except ``patch_embed.*`` when the network's input
        is not RGB (208 tensors load for 3 input channels, 204 otherwise)."""
        if key.split(".")[0] in ("norm", "head") or (key.startswith("patch_embed.") and self.in_channels != 3):
            return []
        return [("vssm_encoder." + VMambaEncoder.vmamba_key(key), tensor)]

    def forward(self, x: torch.Tensor) -> torch.Tensor | list[torch.Tensor]:
        check_channels_first(
            "SwinUMambaD",
            x,
            self.in_channels,
            self.spatial_dims,
            32,
            "resize, pad or crop to a multiple of 32 (e.g. monai.transforms.DivisiblePadd(k=32)).",
        )
        outputs = self.decoder(self.vssm_encoder(x))
        return outputs if self.deep_supervision and self.training else outputs[0]

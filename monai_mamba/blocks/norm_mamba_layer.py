# Copyright (c) monai-mamba contributors. Licensed under the Apache License, Version 2.0.
"""U-Mamba's Mamba layer (Ma, Li and Wang 2024; ``MambaLayer`` in ``nnunetv2/nets/UMamba{Bot,Enc}_{2,3}d.py``)."""

from __future__ import annotations

import torch
import torch.nn as nn

from monai_mamba.blocks.mamba_layer import MambaLayer
from monai_mamba.blocks.tokens import layer_input, layer_precision, map_tokens

__all__ = ["NormMambaLayer"]


class NormMambaLayer(nn.Module):
    """``Mamba(LayerNorm(t))`` over the tokens ``t`` of a channels-first feature map, with no residual, in float32
    also under float16 autocast (as the official layer), in bfloat16 autocast's precision under it (``tokens``).

    Tokens are the raster-ordered voxels (``d_model`` = channels), or, with ``channel_tokens`` (U-Mamba Enc's stages
    whose feature map has no more voxels than channels), the channels (``d_model`` = the number of voxels: the layer
    then fits one spatial size only).

    Args:
        d_model: channels, or with ``channel_tokens`` the voxels of the feature map.
        channel_tokens: the channels are the tokens.
        d_state, d_conv, expand: of the Mamba layer (16, 4, 2).
        scan_backend: selective-scan backend; None picks per device.

    Shapes:
        ``(b, c, *spatial)`` -> ``(b, c, *spatial)`` in float32 (float64 for float64 input; under bfloat16
        autocast the projection's bfloat16).
    """

    def __init__(
        self,
        d_model: int,
        channel_tokens: bool = False,
        d_state: int = 16,
        d_conv: int = 4,
        expand: int = 2,
        scan_backend: str | None = None,
    ) -> None:
        super().__init__()
        self.d_model, self.channel_tokens = int(d_model), channel_tokens
        self.norm = nn.LayerNorm(self.d_model)
        self.mamba = MambaLayer(self.d_model, d_state=d_state, d_conv=d_conv, expand=expand, scan_backend=scan_backend)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        features = x.shape[2:].numel() if self.channel_tokens else (x.shape[1] if x.dim() > 1 else -1)
        if x.dim() < 3 or features != self.d_model:
            what = "voxels per channel" if self.channel_tokens else "channels"
            raise ValueError(
                f"NormMambaLayer expects (batch, channels, *spatial) with {self.d_model} {what}, got shape "
                f"{tuple(x.shape)}"
                + (
                    "; its tokens are the channels, so it takes the patch size it was built for."
                    if self.channel_tokens
                    else "."
                )
            )
        if not self.channel_tokens:
            return map_tokens(x, self._tokens)
        with layer_precision(x):
            return self._tokens(layer_input(x).flatten(2)).reshape(x.shape)

    def _tokens(self, tokens: torch.Tensor) -> torch.Tensor:
        return self.mamba(self.norm(tokens))

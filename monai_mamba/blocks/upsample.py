# Copyright (c) monai-mamba contributors. Licensed under the Apache License, Version 2.0.
"""The decoders' upsampling of the nnU-Net-based Mamba U-Nets (MambaClinix, U-Mamba: ``UpsampleLayer``)."""

from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F
from monai.networks.layers.factories import Conv
from monai.utils import ensure_tuple_rep

__all__ = ["NearestUpsampleConv"]


class NearestUpsampleConv(nn.Module):
    """Nearest-neighbour upsampling by ``scale``, then a 1x1 convolution with bias.

    Args:
        spatial_dims: 2 or 3. in_channels, out_channels: widths.
        scale: int or per axis (the stride of the encoder stage below).

    Shapes:
        ``(b, in, *spatial)`` -> ``(b, out, *spatial * scale)``.
    """

    def __init__(self, spatial_dims: int, in_channels: int, out_channels: int, scale: int | tuple[int, ...]) -> None:
        super().__init__()
        self.scale = tuple(float(s) for s in ensure_tuple_rep(scale, spatial_dims))
        self.conv = Conv[Conv.CONV, spatial_dims](in_channels, out_channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(F.interpolate(x, scale_factor=self.scale, mode="nearest"))

# Copyright (c) monai-mamba contributors. Licensed under the Apache License, Version 2.0.
"""Patch embedding, merging and expanding of VMamba / Swin-Unet / Mamba-UNet, channels-last, in 2-D and 3-D.

The 2-D classes match the official modules (``PatchEmbed2D``, ``PatchMerging2D``, ``PatchExpand``,
``FinalPatchExpand_X4``) in parameter names, shapes and element order; ``spatial_dims=3`` applies the same
rule to three axes (patch merging: MONAI's ``PatchMergingV2``, whose 2-D order is VMamba's).
"""

from __future__ import annotations

import torch
import torch.nn as nn
from monai.networks.layers.factories import Conv
from monai.networks.nets.swin_unetr import PatchMergingV2

from monai_mamba.blocks.input_checks import check_channels_first, check_channels_last

__all__ = ["PatchEmbed", "PatchMerging", "PatchExpand", "FinalPatchExpandX4", "PatchEmbed2D", "PatchMerging2D"]


def _unshuffle_channels_last(x: torch.Tensor, scale: int) -> torch.Tensor:
    """``(b, *S, scale^nd * c) -> (b, *(s * scale), c)``, the channel index read as ``(p_0, ..., p_{nd-1}, c)``
    with ``p_i`` the offset along spatial axis ``i`` (einops ``b h w (p1 p2 c) -> b (h p1) (w p2) c``)."""
    spatial = x.shape[1:-1]
    nd = len(spatial)
    x = x.reshape(x.shape[0], *spatial, *([scale] * nd), -1)
    order = [0] + [a for i in range(nd) for a in (1 + i, 1 + nd + i)] + [1 + 2 * nd]
    return x.permute(order).reshape(x.shape[0], *(s * scale for s in spatial), -1)


class PatchEmbed(nn.Module):
    """Non-overlapping patch embedding: ``Conv(k = s = patch_size)`` then LayerNorm, channels-last output.

    Shapes: ``(b, in_channels, *spatial)`` -> ``(b, *(spatial / patch_size), embed_dim)``.
    """

    def __init__(
        self, patch_size: int = 4, in_channels: int = 3, embed_dim: int = 96, spatial_dims: int = 2, norm: bool = True
    ) -> None:
        super().__init__()
        self.patch_size, self.in_channels, self.spatial_dims = patch_size, in_channels, spatial_dims
        self.proj = Conv[Conv.CONV, spatial_dims](in_channels, embed_dim, kernel_size=patch_size, stride=patch_size)
        self.norm = nn.LayerNorm(embed_dim) if norm else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_channels_first(
            "PatchEmbed",
            x,
            self.in_channels,
            self.spatial_dims,
            self.patch_size,
            f"crop or pad the input to a multiple of patch_size={self.patch_size}.",
        )
        return self.norm(self.proj(x).movedim(1, -1))


class PatchMerging(PatchMergingV2):
    """Swin patch merging, MONAI's ``PatchMergingV2`` (gather each ``2^nd`` neighbourhood into the channels,
    LayerNorm, Linear to ``2C`` without bias) with a clear error for odd sizes instead of padding them.

    In 2-D the neighbours are Swin/VMamba's ``[0::2, 0::2], [1::2, 0::2], [0::2, 1::2], [1::2, 1::2]``; in 3-D
    MONAI's order (the last axis varying fastest).

    Args:
        dim: input channels ``C``.
        spatial_dims: 2 or 3.

    Shapes: ``(b, *spatial, C)`` -> ``(b, *(spatial / 2), 2C)``; spatial sizes must be even.
    """

    def __init__(self, dim: int, spatial_dims: int = 2) -> None:
        super().__init__(dim, spatial_dims=spatial_dims)
        self.spatial_dims = spatial_dims

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_channels_last(type(self).__name__, x, self.dim, self.spatial_dims, multiple=2)
        return super().forward(x)


class PatchExpand(nn.Module):
    """Swin-Unet patch expanding: Linear to ``2^nd * C / 2`` channels, rearrange into a ``2x`` larger map of
    ``C / 2`` channels, LayerNorm.

    Shapes: ``(b, *spatial, C)`` -> ``(b, *(2 * spatial), C / 2)``.
    """

    def __init__(self, dim: int, spatial_dims: int = 2) -> None:
        super().__init__()
        self.dim, self.spatial_dims = dim, spatial_dims
        self.expand = nn.Linear(dim, 2 ** (spatial_dims - 1) * dim, bias=False)
        self.norm = nn.LayerNorm(dim // 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_channels_last(type(self).__name__, x, self.dim, self.spatial_dims)
        return self.norm(_unshuffle_channels_last(self.expand(x), 2))


class FinalPatchExpandX4(nn.Module):
    """Swin-Unet's final 4x patch expanding: Linear to ``4^nd * C``, rearrange into a ``4x`` larger map of ``C``
    channels, LayerNorm.

    Shapes: ``(b, *spatial, C)`` -> ``(b, *(4 * spatial), C)``.
    """

    def __init__(self, dim: int, spatial_dims: int = 2) -> None:
        super().__init__()
        self.dim, self.spatial_dims = dim, spatial_dims
        self.expand = nn.Linear(dim, 4**spatial_dims * dim, bias=False)
        self.norm = nn.LayerNorm(dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_channels_last(type(self).__name__, x, self.dim, self.spatial_dims)
        return self.norm(_unshuffle_channels_last(self.expand(x), 4))


# the names of the official 2-D modules
PatchEmbed2D = PatchEmbed
PatchMerging2D = PatchMerging

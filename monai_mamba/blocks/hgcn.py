# Copyright (c) monai-mamba contributors. Licensed under the Apache License, Version 2.0.
"""MambaClinix's hierarchical gated convolution (HGCN) block (Bian et al., "MambaClinix: Hierarchical Gated
Convolution and Mamba-Based U-Net for Enhanced 3D Medical Image Segmentation", 2024), as in the official code
(``CYB08/MambaClinix-PyTorch``, ``nnunetv2/nets/MambaClinix_3d.py``: ``hgConv``, ``HGCN_BLOCK``)."""

from __future__ import annotations

import torch
import torch.nn as nn
from monai.networks.layers import DropPath
from monai.networks.layers.convutils import same_padding
from monai.networks.layers.factories import Conv
from monai.utils import ensure_tuple_rep

from monai_mamba.blocks.layer_norm import ChannelsFirstLayerNorm

__all__ = ["HGCNBlock", "HighOrderGatedConv"]


class HighOrderGatedConv(nn.Module):
    """High-order gated convolution of order ``k`` (``hgConv``).

    Channel dims ``d = [c/2^(k-1), ..., c/2, c]``. ``proj_in`` (1x1, ``c -> 2c``) splits into a base of ``d[0]``
    channels and ``sum(d)`` channels that go through one depthwise ``kernel_size`` convolution (times ``scale``)
    and are split into ``e_0..e_{k-1}`` of widths ``d``; then ``x = base + e_0`` and, for ``i = 1..k-1``,
    ``x = proj_i(x) + e_i`` with 1x1 convolutions ``proj_i: d[i-1] -> d[i]``; ``proj_out`` (1x1, ``c -> c``).

    The gating is **additive**, as the paper's Eq. 6 and the official code; HorNet's ``gnconv``, which this
    follows, multiplies (``x = proj_i(x) * e_i``).

    Args:
        spatial_dims: 2 or 3.
        channels: ``c`` (divisible by ``2^(order-1)``).
        order: ``k``, the number of gating steps.
        kernel_size: of the depthwise convolution.
        scale: factor on the depthwise output (1).
        bias: of the ``proj_in`` and depthwise convolutions (the 1x1 ``proj_i``/``proj_out`` always have one).

    Shapes:
        ``(b, c, *spatial)`` -> ``(b, c, *spatial)``.
    """

    def __init__(
        self,
        spatial_dims: int,
        channels: int,
        order: int = 3,
        kernel_size: int | tuple[int, ...] = 3,
        scale: float = 1.0,
        bias: bool = True,
    ) -> None:
        super().__init__()
        if order < 1 or channels % 2 ** (order - 1):
            raise ValueError(
                f"HighOrderGatedConv: channels={channels} must be divisible by 2^(order-1) = "
                f"{2 ** (order - 1)} (order={order})."
            )
        conv = Conv[Conv.CONV, spatial_dims]
        self.dims = [channels // 2**i for i in range(order)][::-1]
        self.scale = scale
        kernel = ensure_tuple_rep(kernel_size, spatial_dims)
        self.proj_in = conv(channels, 2 * channels, 1, bias=bias)
        self.dwconv = conv(
            sum(self.dims), sum(self.dims), kernel, padding=same_padding(kernel), bias=bias, groups=sum(self.dims)
        )
        self.projs = nn.ModuleList(conv(self.dims[i], self.dims[i + 1], 1) for i in range(order - 1))
        self.proj_out = conv(channels, channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        base, rest = torch.split(self.proj_in(x), (self.dims[0], sum(self.dims)), dim=1)
        gates = torch.split(self.dwconv(rest) * self.scale, self.dims, dim=1)
        x = base + gates[0]
        for proj, gate in zip(self.projs, gates[1:]):
            x = proj(x) + gate
        return self.proj_out(x)


class HGCNBlock(nn.Module):
    """Hierarchical gated convolution block (``HGCN_BLOCK``), with transform width ``t``::

        h = conv1x1(x)                                   # c -> t, bias
        h = h + DropPath(gamma * hgConv(LN(h)))          # layer scale gamma (t,), initialised to layer_scale
        out = x + DropPath(conv_k(LeakyReLU(conv_k(LN(h)))))   # t -> c -> c, bias, no normalisation

    ``LN`` are channels-first LayerNorms (eps = ``layer_scale``, 1e-6 as the official code).

    Args:
        spatial_dims: 2 or 3.
        channels: ``c``.
        transform_channels: ``t`` (MambaClinix: ``c // 2``).
        order: of the gated convolution (MambaClinix: stage index + 2).
        kernel_size: of the gated convolution's depthwise conv and of the two output convolutions.
        drop_path: stochastic-depth rate of both residual branches.
        layer_scale: initial value of ``gamma`` and the LayerNorms' eps.
        negative_slope: of the LeakyReLU.

    Shapes:
        ``(b, c, *spatial)`` -> ``(b, c, *spatial)``.
    """

    def __init__(
        self,
        spatial_dims: int,
        channels: int,
        transform_channels: int | None = None,
        order: int = 3,
        kernel_size: int | tuple[int, ...] = 3,
        drop_path: float = 0.0,
        layer_scale: float = 1e-6,
        negative_slope: float = 1e-2,
    ) -> None:
        super().__init__()
        conv = Conv[Conv.CONV, spatial_dims]
        transform = transform_channels or channels // 2
        kernel = ensure_tuple_rep(kernel_size, spatial_dims)
        padding = same_padding(kernel)
        self.transform = conv(channels, transform, 1)
        self.norm1 = ChannelsFirstLayerNorm(transform, eps=layer_scale)
        self.gated_conv = HighOrderGatedConv(spatial_dims, transform, order, kernel)
        self.gamma = nn.Parameter(torch.full((transform,), layer_scale))
        self.norm2 = ChannelsFirstLayerNorm(transform, eps=layer_scale)
        self.conv1 = conv(transform, channels, kernel, padding=padding)
        self.act = nn.LeakyReLU(negative_slope, inplace=True)
        self.conv2 = conv(channels, channels, kernel, padding=padding)
        self.drop_path = DropPath(drop_path) if drop_path > 0 else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.transform(x)
        gamma = self.gamma.view(1, -1, *([1] * (x.dim() - 2)))
        h = h + self.drop_path(gamma * self.gated_conv(self.norm1(h)))
        return x + self.drop_path(self.conv2(self.act(self.conv1(self.norm2(h)))))

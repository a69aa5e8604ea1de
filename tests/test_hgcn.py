# Copyright (c) monai-mamba contributors. Licensed under the Apache License, Version 2.0.
"""HGCN block and high-order gated convolution: dims per order, parameters, numerics vs the official formulas."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from monai_mamba.blocks import HGCNBlock, HighOrderGatedConv


@pytest.mark.parametrize("channels, order, dims", [(16, 2, [8, 16]), (32, 3, [8, 16, 32]), (64, 4, [8, 16, 32, 64])])
def test_dims_per_order(channels, order, dims):
    conv = HighOrderGatedConv(3, channels, order)
    assert conv.dims == dims
    assert conv.proj_in.weight.shape == (2 * channels, channels, 1, 1, 1)
    assert conv.dwconv.weight.shape == (sum(dims), 1, 3, 3, 3)  # depthwise over everything but the base
    assert [p.weight.shape[:2] for p in conv.projs] == [(dims[i + 1], dims[i]) for i in range(order - 1)]


def test_channels_must_split_into_the_orders():
    with pytest.raises(ValueError, match="divisible by 2\\^\\(order-1\\) = 8"):
        HighOrderGatedConv(3, 12, order=4)


def _official_gated_conv(conv: HighOrderGatedConv, x: torch.Tensor) -> torch.Tensor:
    """hgConv.forward of the official code, written out with the same weights."""
    y = F.conv3d(x, conv.proj_in.weight, conv.proj_in.bias)
    base, expanded = torch.split(y, (conv.dims[0], sum(conv.dims)), dim=1)
    ex = F.conv3d(expanded, conv.dwconv.weight, conv.dwconv.bias, padding=1, groups=sum(conv.dims))
    parts = torch.split(ex, conv.dims, dim=1)
    out = base + parts[0]
    for i, proj in enumerate(conv.projs):
        out = F.conv3d(out, proj.weight, proj.bias) + parts[i + 1]  # additive (HorNet multiplies)
    return F.conv3d(out, conv.proj_out.weight, conv.proj_out.bias)


def _layer_norm_channels_first(x, weight, bias, eps):
    mean = x.mean(1, keepdim=True)
    var = ((x - mean) ** 2).mean(1, keepdim=True)
    shape = (1, -1, 1, 1, 1)
    return (x - mean) / torch.sqrt(var + eps) * weight.view(shape) + bias.view(shape)


def test_block_matches_the_official_forward_with_the_same_weights():
    torch.manual_seed(0)
    block = HGCNBlock(3, 16, order=3).double().eval()
    with torch.no_grad():  # move every parameter off its initial value, gamma included
        for p in block.parameters():
            p.add_(torch.randn_like(p) * 0.1)
    x = torch.randn(2, 16, 6, 5, 4, dtype=torch.float64)
    h = F.conv3d(x, block.transform.weight, block.transform.bias)
    n1 = _layer_norm_channels_first(h, block.norm1.weight, block.norm1.bias, 1e-6)
    h = h + block.gamma.view(1, -1, 1, 1, 1) * _official_gated_conv(block.gated_conv, n1)
    n2 = _layer_norm_channels_first(h, block.norm2.weight, block.norm2.bias, 1e-6)
    out = F.leaky_relu(F.conv3d(n2, block.conv1.weight, block.conv1.bias, padding=1), 0.01)
    expected = x + F.conv3d(out, block.conv2.weight, block.conv2.bias, padding=1)
    torch.testing.assert_close(block(x), expected)


def test_block_parameters_and_layer_scale_init():
    block = HGCNBlock(3, 64, order=2)
    assert block.gamma.shape == (32,) and torch.all(block.gamma == 1e-6)
    assert block.transform.weight.shape == (32, 64, 1, 1, 1) and block.transform.bias is not None
    assert block.conv1.weight.shape == (64, 32, 3, 3, 3) and block.conv2.weight.shape == (64, 64, 3, 3, 3)
    # 1x1 64->32, LN, gated conv (proj_in 32->64, dw 48, proj 16->32, proj_out), gamma, LN, two k3 convs
    expected = (
        (64 * 32 + 32)
        + 64
        + (32 * 64 + 64)
        + (48 * 27 + 48)
        + (16 * 32 + 32)
        + (32 * 32 + 32)
        + 32
        + 64
        + (32 * 64 * 27 + 64)
        + (64 * 64 * 27 + 64)
    )
    assert sum(p.numel() for p in block.parameters()) == expected


def test_two_dimensional_block_and_drop_path_in_training():
    block = HGCNBlock(2, 8, order=2, drop_path=0.5)
    x = torch.randn(4, 8, 10, 10)
    assert block.eval()(x).shape == x.shape
    block.train()
    out = block(x)
    assert out.shape == x.shape and torch.isfinite(out).all()

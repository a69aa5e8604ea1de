# Copyright (c) monai-mamba contributors. Licensed under the Apache License, Version 2.0.
"""ResidualConvBlock: nnU-Net's BasicBlockD skip (pool, 1x1 conv without bias, norm) and the
1x1-conv skip (strided in U-Mamba)."""

from __future__ import annotations

import pytest
import torch
import torch.nn as nn

from monai_mamba.blocks import ResidualConvBlock


def _count(module):
    return sum(p.numel() for p in module.parameters())


def test_strided_block_pools_then_projects_without_bias():
    block = ResidualConvBlock(3, 8, 16, 3, stride=(2, 2, 1))
    kinds = [type(m).__name__ for m in block.skip]
    assert kinds == ["AvgPool3d", "Conv3d", "InstanceNorm3d"] and block.skip[1].bias is None
    assert block(torch.randn(1, 8, 8, 8, 4)).shape == (1, 16, 4, 4, 4)
    # two k3 convs with bias, two affine norms, 1x1 skip without bias + its norm
    assert _count(block) == (8 * 16 * 27 + 16) + (16 * 16 * 27 + 16) + 2 * 32 + 8 * 16 + 32


def test_same_shape_block_has_an_identity_skip():
    block = ResidualConvBlock(2, 4, 4)
    assert len(block.skip) == 0
    torch.manual_seed(0)
    x = torch.randn(1, 4, 6, 6)
    y = block.act(block.norm1(block.conv1(x)))
    torch.testing.assert_close(block(x), nn.functional.leaky_relu(block.norm2(block.conv2(y)) + x, 0.01))


def test_decoder_projection_is_a_biased_1x1_conv_and_other_choices_are_refused():
    block = ResidualConvBlock(3, 32, 16, projection="conv")
    assert isinstance(block.skip, nn.Conv3d) and block.skip.bias is not None
    with pytest.raises(ValueError, match="projection must be"):
        ResidualConvBlock(3, 4, 4, projection="bottleneck")
    # U-Mamba's BasicResBlock: the 1x1 conv carries the stride, and is there also when widths match
    strided = ResidualConvBlock(2, 4, 4, stride=(2, 1), projection="conv")
    assert strided.skip.stride == (2, 1) and strided.skip.kernel_size == (1, 1)
    x = torch.randn(1, 4, 6, 6)
    y = strided.act(strided.norm1(strided.conv1(x)))
    expected = nn.functional.leaky_relu(strided.norm2(strided.conv2(y)) + strided.skip(x), 0.01)
    torch.testing.assert_close(strided(x), expected)
    assert strided(x).shape == (1, 4, 3, 6)

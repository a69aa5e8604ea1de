# Copyright (c) monai-mamba contributors. Licensed under the Apache License, Version 2.0.
import pytest
import torch

from monai_mamba.blocks import MambaLayer, RVMLayer
from monai_mamba.nets import LightMUNet


@pytest.mark.parametrize(
    "spatial_dims, in_channels, out_channels, count",
    [(2, 3, 2, 5_011_765), (2, 1, 2, 5_011_683), (3, 1, 3, 5_015_766)],
)
def test_parameter_counts_equal_the_official_code(spatial_dims, in_channels, out_channels, count):
    net = LightMUNet(spatial_dims, in_channels, out_channels)
    assert sum(p.numel() for p in net.parameters()) == count
    mamba = sum(p.numel() for m in net.modules() if isinstance(m, MambaLayer) for p in m.parameters())
    assert mamba == 4_277_440
    assert sum(isinstance(m, RVMLayer) for m in net.modules()) == 21


def test_module_tree_uses_the_official_names():
    keys = set(LightMUNet(2, 1, 2).state_dict())
    for key in (
        "convInit.0.conv.weight",
        "convInit.1.conv.weight",
        "down_layers.0.1.conv1.mamba.A_log",
        "down_layers.1.0.0.proj.weight",
        "down_layers.3.4.norm2.weight",
        "up_samples.0.0.conv.weight",
        "up_layers.2.0.skip_scale",
        "conv_final.2.1.conv.bias",
    ):
        assert key in keys, key


@pytest.mark.parametrize("spatial_dims, shape", [(2, (2, 1, 32, 48)), (3, (1, 1, 16, 16, 24))])
def test_output_shapes_and_backward(spatial_dims, shape):
    net = LightMUNet(spatial_dims, 1, 3, init_filters=8)
    x = torch.randn(shape)
    out = net(x)
    assert out.shape == (shape[0], 3, *shape[2:])
    out.mean().backward()
    assert all(p.grad is not None for p in net.parameters())


def test_spatial_size_not_divisible_by_8_is_refused_clearly():
    with pytest.raises(ValueError, match=r"divisible by 8, got \(30, 32\).*DivisiblePadd"):
        LightMUNet(2, 1, 2, init_filters=8)(torch.zeros(1, 1, 30, 32))


@pytest.mark.parametrize("shape", [(1, 3, 32, 32), (1, 1, 16, 16, 16)])
def test_wrong_channels_or_dimensionality_are_refused_clearly(shape):
    with pytest.raises(ValueError, match=r"LightMUNet \(spatial_dims=2\) expects input \(batch, in_channels=1"):
        LightMUNet(2, 1, 2, init_filters=8)(torch.zeros(shape))

# Copyright (c) monai-mamba contributors. Licensed under the Apache License, Version 2.0.
import pytest
import torch

from monai_mamba.blocks import VSSBlock
from monai_mamba.nets import MambaUNet


@pytest.mark.parametrize("out_channels, count", [(4, 19_121_664), (9, 19_122_144)])
def test_parameter_counts_equal_the_official_code(out_channels, count):
    net = MambaUNet(in_channels=3, out_channels=out_channels)
    assert sum(p.numel() for p in net.parameters()) == count
    assert sum(isinstance(m, VSSBlock) for m in net.modules()) == 8 + 6


def test_3d_variant_parameter_count_and_shapes():
    net = MambaUNet(spatial_dims=3, in_channels=1, out_channels=3)
    assert sum(p.numel() for p in net.parameters()) == 24_641_184
    assert tuple(net.patch_embed.proj.weight.shape) == (96, 1, 4, 4, 4)
    assert tuple(net.layers[0].downsample.reduction.weight.shape) == (192, 768)  # 8 neighbours x 96 -> 192
    small = MambaUNet(spatial_dims=3, in_channels=1, out_channels=3, feature_size=8)
    x = torch.randn(1, 1, 32, 32, 64)
    out = small(x)
    assert out.shape == (1, 3, 32, 32, 64)
    out.mean().backward()


def test_2d_shapes_with_free_input_channels():
    net = MambaUNet(in_channels=1, out_channels=4, feature_size=8)
    assert net(torch.randn(2, 1, 64, 96)).shape == (2, 4, 64, 96)


def test_drop_path_rates_mirror_the_encoder():
    net = MambaUNet()
    encoder = [b.drop_path.drop_prob for layer in net.layers for b in layer.blocks]
    torch.testing.assert_close(torch.tensor(encoder), torch.linspace(0, 0.2, 8))
    decoder = [b.drop_path.drop_prob for layer in net.layers_up[1:] for b in layer.blocks]
    assert decoder == encoder[4:6] + encoder[2:4] + encoder[0:2]  # decoder stage of level l: encoder stage l's rates


def test_official_module_names():
    keys = set(MambaUNet().state_dict())
    for key in (
        "patch_embed.proj.weight",
        "layers.3.blocks.1.self_attention.A_logs",
        "layers.2.downsample.reduction.weight",
        "norm.weight",
        "layers_up.0.expand.weight",
        "layers_up.1.upsample.expand.weight",
        "layers_up.3.blocks.1.ln_1.weight",
        "concat_back_dim.3.bias",
        "norm_up.weight",
        "up.expand.weight",
        "output.weight",
    ):
        assert key in keys, key
    assert "layers_up.3.upsample.expand.weight" not in keys and "concat_back_dim.0.weight" not in keys
    assert not any(".resample." in k for k in keys)
    assert len(keys) == len(dict(MambaUNet().named_parameters()))  # no alias registers a module twice


def test_input_not_divisible_by_32_is_refused_clearly():
    with pytest.raises(ValueError, match=r"divisible by 32, got \(224, 200\)"):
        MambaUNet(in_channels=1, feature_size=8)(torch.zeros(1, 1, 224, 200))


def test_wrong_channel_count_is_refused_clearly():
    with pytest.raises(ValueError, match=r"in_channels=1.*got shape \(1, 3, 64, 64\)"):
        MambaUNet(in_channels=1, feature_size=8)(torch.zeros(1, 3, 64, 64))

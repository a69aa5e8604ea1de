# Copyright (c) monai-mamba contributors. Licensed under the Apache License, Version 2.0.
import pytest
import torch

from monai_mamba.nets import SwinUMamba, SwinUMambaD
from monai_mamba.weights import load_vmamba_pretrained


def test_parameter_count_equals_the_official_code():
    assert sum(p.numel() for p in SwinUMamba(in_channels=1, out_channels=14).parameters()) == 59_889_368


def test_deep_supervision_while_training_full_resolution_at_inference():
    net = SwinUMamba(in_channels=1, out_channels=3)
    x = torch.randn(1, 1, 64, 96)
    outputs = net(x)
    assert [tuple(o.shape) for o in outputs] == [(1, 3, 64, 96), (1, 3, 32, 48), (1, 3, 16, 24), (1, 3, 8, 12)]
    net.eval()
    with torch.no_grad():
        assert net(x).shape == (1, 3, 64, 96)
    assert SwinUMamba(out_channels=3, deep_supervision=False)(x).shape == (1, 3, 64, 96)


def test_official_module_names():
    keys = set(SwinUMamba().state_dict())
    for key in (
        "stem.0.weight",
        "stem.1.weight",
        "vssm_encoder.patch_embed.proj.weight",
        "vssm_encoder.layers.2.blocks.8.self_attention.A_logs",
        "vssm_encoder.downsamples.2.reduction.weight",
        "encoder1.layer.conv1.conv.weight",
        "decoder6.transp_conv.conv.weight",
        "out_layers.3.conv.conv.weight",
    ):
        assert key in keys, key
    assert tuple(SwinUMamba().vssm_encoder.patch_embed.proj.weight.shape) == (96, 48, 2, 2)


@pytest.mark.parametrize("in_channels", [1, 3])
def test_vmamba_weights_load_as_the_official_loader(in_channels, vmamba_tiny_checkpoint, vmamba_tiny_checkpoint_file):
    checkpoint = vmamba_tiny_checkpoint
    net = SwinUMamba(in_channels=in_channels)
    report = load_vmamba_pretrained(net, vmamba_tiny_checkpoint_file)
    assert len(report.loaded) == 205 and not report.adapted
    assert set(report.skipped) == {
        "norm.weight",
        "norm.bias",
        "head.weight",
        "head.bias",
        "patch_embed.proj.weight",
        "patch_embed.proj.bias",
        "patch_embed.norm.weight",
    }
    state = net.state_dict()
    assert torch.equal(
        state["vssm_encoder.downsamples.1.reduction.weight"], checkpoint["layers.1.downsample.reduction.weight"]
    )
    assert torch.equal(state["vssm_encoder.patch_embed.norm.bias"], checkpoint["patch_embed.norm.bias"])


def test_input_not_divisible_by_32_is_refused_clearly():
    with pytest.raises(ValueError, match=r"divisible by 32, got \(64, 40\)"):
        SwinUMamba()(torch.zeros(1, 1, 64, 40))


def test_dagger_parameter_count_and_deep_supervision_resolutions():
    net = SwinUMambaD(in_channels=1, out_channels=14)
    assert sum(p.numel() for p in net.parameters()) == 27_497_720
    small = SwinUMambaD(in_channels=1, out_channels=3)
    x = torch.randn(1, 1, 64, 96)
    assert [tuple(o.shape[2:]) for o in small(x)] == [(64, 96), (16, 24), (8, 12), (4, 6)]
    small.eval()
    with torch.no_grad():
        assert small(x).shape == (1, 3, 64, 96)


def test_dagger_convolutions_are_he_initialised():
    net = SwinUMambaD(out_channels=3)
    head = net.decoder.seg_layers[-1]
    assert torch.count_nonzero(head.bias) == 0
    depthwise = net.vssm_encoder.layers[0].blocks[0].self_attention.conv2d
    assert torch.count_nonzero(depthwise.bias) == 0  # nnU-Net's InitWeights_He zeroes every conv bias
    fan_in = 192 * 3 * 3 // 192
    expected_std = (2 / (1 + 1e-4) / fan_in) ** 0.5
    assert abs(depthwise.weight.std().item() / expected_std - 1) < 0.15


@pytest.mark.parametrize("in_channels, loaded", [(1, 204), (3, 208)])
def test_dagger_vmamba_weights_load_as_the_official_loader(in_channels, loaded, vmamba_tiny_checkpoint_file):
    report = load_vmamba_pretrained(SwinUMambaD(in_channels=in_channels), vmamba_tiny_checkpoint_file)
    assert len(report.loaded) == loaded
    assert {"norm.weight", "head.bias"} <= set(report.skipped)
    assert ("patch_embed.proj.weight" in report.skipped) == (in_channels != 3)

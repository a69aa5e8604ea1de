# Copyright (c) monai-mamba contributors. Licensed under the Apache License, Version 2.0.
import pytest
import torch
from vmamba_helpers import random_vmamba_tiny_checkpoint

from monai_mamba.nets import SwinUMamba
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
    for key in ("stem.0.weight", "stem.1.weight", "vssm_encoder.patch_embed.proj.weight",
                "vssm_encoder.layers.2.blocks.8.self_attention.A_logs", "vssm_encoder.downsamples.2.reduction.weight",
                "encoder1.layer.conv1.conv.weight", "decoder6.transp_conv.conv.weight", "out_layers.3.conv.conv.weight"):
        assert key in keys, key
    assert tuple(SwinUMamba().vssm_encoder.patch_embed.proj.weight.shape) == (96, 48, 2, 2)


@pytest.mark.parametrize("in_channels", [1, 3])
def test_vmamba_weights_load_as_the_official_loader(in_channels, tmp_path):
    path = tmp_path / "vmamba.pth"
    checkpoint = random_vmamba_tiny_checkpoint()
    torch.save({"model": checkpoint}, path)
    net = SwinUMamba(in_channels=in_channels)
    report = load_vmamba_pretrained(net, path)
    assert len(report.loaded) == 205 and not report.adapted
    assert set(report.skipped) == {"norm.weight", "norm.bias", "head.weight", "head.bias", "patch_embed.proj.weight",
                                   "patch_embed.proj.bias", "patch_embed.norm.weight"}
    state = net.state_dict()
    assert torch.equal(state["vssm_encoder.downsamples.1.reduction.weight"], checkpoint["layers.1.downsample.reduction.weight"])
    assert torch.equal(state["vssm_encoder.patch_embed.norm.bias"], checkpoint["patch_embed.norm.bias"])


def test_input_not_divisible_by_32_is_refused_clearly():
    with pytest.raises(ValueError, match=r"divisible by 32, got \(64, 40\)"):
        SwinUMamba()(torch.zeros(1, 1, 64, 40))

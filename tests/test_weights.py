# Copyright (c) monai-mamba contributors. Licensed under the Apache License, Version 2.0.
import argparse

import pytest
import torch

from monai_mamba.nets import MambaUNet
from monai_mamba.weights import load_trained_network, load_vmamba_pretrained


def test_loads_what_the_official_loader_loads(vmamba_tiny_checkpoint, vmamba_tiny_checkpoint_file):
    model = MambaUNet(in_channels=3, out_channels=4)
    report = load_vmamba_pretrained(model, vmamba_tiny_checkpoint_file)
    assert len(report.loaded) == 197 and not report.adapted
    # skipped: the classifier head and blocks 2-8 of stage 2 (Mamba-UNet has 2 blocks per stage)
    assert len(report.skipped) == 2 + 7 * 13
    assert {"head.weight", "head.bias", "layers.2.blocks.8.ln_1.weight"} <= set(report.skipped)
    assert "layers.0.downsample.reduction.weight" not in report.skipped
    checkpoint = vmamba_tiny_checkpoint
    state = model.state_dict()
    assert torch.equal(
        state["layers.1.blocks.0.self_attention.A_logs"], checkpoint["layers.1.blocks.0.self_attention.A_logs"]
    )
    # decoder stage 3 <- encoder stage 0, stage 1 <- stage 2
    assert torch.equal(
        state["layers_up.3.blocks.1.self_attention.x_proj_weight"],
        checkpoint["layers.0.blocks.1.self_attention.x_proj_weight"],
    )
    assert torch.equal(state["layers_up.1.blocks.0.ln_1.bias"], checkpoint["layers.2.blocks.0.ln_1.bias"])
    assert set(report.missing) == set(state) - set(report.loaded)
    assert "output.weight" in report.missing and "concat_back_dim.1.weight" in report.missing


def test_one_channel_model_gives_the_official_output_for_a_grey_image(tmp_path, vmamba_tiny_checkpoint):
    """The official code repeats a 1-channel image to 3; the adapted kernel makes that unnecessary.

    In float64 throughout (checkpoint included): random weights amplify any rounding through 14 blocks."""
    path = tmp_path / "vmamba64.pth"
    torch.save({"model": {k: v.double() for k, v in vmamba_tiny_checkpoint.items()}}, path)
    torch.manual_seed(0)
    rgb, grey = MambaUNet(in_channels=3).double().eval(), MambaUNet(in_channels=1).double().eval()
    load_vmamba_pretrained(rgb, path)
    report = load_vmamba_pretrained(grey, path)
    assert "patch_embed.proj.weight" in report.adapted and len(report.loaded) == 197
    grey.load_state_dict({k: v for k, v in rgb.state_dict().items() if k != "patch_embed.proj.weight"}, strict=False)
    image = torch.randn(1, 1, 64, 64, dtype=torch.float64)
    with torch.no_grad():
        expected = rgb(image.repeat(1, 3, 1, 1))
        torch.testing.assert_close(grey(image), expected, rtol=1e-9, atol=1e-9 * expected.abs().max().item())


def test_pickled_objects_are_refused_with_the_fix(tmp_path, vmamba_tiny_checkpoint):
    path = tmp_path / "old.pth"
    torch.save({"model": vmamba_tiny_checkpoint, "config": argparse.Namespace(lr=1)}, path)
    with pytest.raises(ValueError, match=r"(?s)pickled Python objects.*torch.save\(\{'model': c\['model'\]\}"):
        load_vmamba_pretrained(MambaUNet(), path)


def test_missing_file_is_named(tmp_path):
    with pytest.raises(FileNotFoundError, match="pretrained checkpoint not found: .*nope.pth"):
        load_vmamba_pretrained(MambaUNet(), tmp_path / "nope.pth")


def test_load_trained_network_round_trip_and_errors(tmp_path):
    torch.manual_seed(0)
    trained, fresh = torch.nn.Linear(3, 2), torch.nn.Linear(3, 2)
    torch.save(trained.state_dict(), tmp_path / "reconstruction.pt")
    assert load_trained_network(fresh, tmp_path / "reconstruction.pt") is fresh
    assert torch.equal(fresh.weight, trained.weight)
    with pytest.raises(FileNotFoundError, match=r"missing\.pt not found\. Train stage 1 first"):
        load_trained_network(fresh, tmp_path / "missing.pt", "Train stage 1 first.")
    with pytest.raises(
        RuntimeError,
        match=r"other network settings .* tensor 'weight' has shape \[2, 4\] here, \[2, 3\] "
        r"in reconstruction\.pt",
    ):
        load_trained_network(torch.nn.Linear(4, 2), tmp_path / "reconstruction.pt")

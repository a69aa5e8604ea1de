# Copyright (c) monai-mamba contributors. Licensed under the Apache License, Version 2.0.
"""bundles/mamba_unet: configs parse; train (from VMamba weights) -> inference -> evaluate on tiny volumes."""

from __future__ import annotations

import csv
import subprocess
import sys

import nibabel as nib
import pytest
import torch
from bundle_helpers import run_bundle, run_torchrun, tiny_dataset
from monai.bundle import ConfigParser

from monai_mamba.bundles import import_official_weights
from monai_mamba.nets import MambaUNet

BUNDLE = "mamba_unet"
METRICS = {
    "val_mean_dice",
    "val_mean_iou",
    "val_hd95",
    "val_asd",
    "val_missed_classes",
    "val_accuracy",
    "val_precision",
    "val_sensitivity",
    "val_specificity",
}


def _tiny(tmp_path, num_classes=4, **extra):
    data = tiny_dataset(tmp_path, 3, num_classes, [32, 32, 6])
    return {
        "bundle_root": str(tmp_path / "bundle"),
        "dataset_dir": data,
        "image_size": [32, 32],
        "network_def#feature_size": 8,
        **extra,
    }


def test_train_from_vmamba_weights_then_inference_and_evaluate(tmp_path, caplog, vmamba_tiny_checkpoint_file):
    weights = vmamba_tiny_checkpoint_file
    overrides = _tiny(
        tmp_path,
        max_iterations=4,
        iterations_per_epoch=2,
        batch_size=4,
        slices_per_volume=2,
        pretrained_path=str(weights),
        **{"network_def#feature_size": 96},
    )
    with caplog.at_level("INFO", logger="monai_mamba.weights"):
        run_bundle(BUNDLE, ["train.yaml"], **overrides)
    assert "loaded 197 tensors (1 adapted)" in caplog.text
    models = tmp_path / "bundle" / "models"
    assert (models / "model.pt").is_file()
    assert torch.load(models / "checkpoint_epoch=2.pt", weights_only=True)["trainer"]["iteration"] == 4

    run_bundle(
        BUNDLE,
        ["inference.json"],
        **{k: overrides[k] for k in ("bundle_root", "dataset_dir", "image_size")},
        **{"network_def#feature_size": 96},
    )
    (prediction,) = (tmp_path / "bundle" / "predictions").glob("*_seg.nii.gz")
    assert nib.load(prediction).shape == (32, 32, 6)  # the input volume's geometry, slice by slice

    run_bundle(BUNDLE, ["train.yaml", "evaluate.yaml"], **overrides)
    with open(tmp_path / "bundle" / "eval" / "metrics.csv") as f:
        assert {row[0] for row in csv.reader(f)} == METRICS


@pytest.mark.slow
def test_multi_gpu_config_runs_two_cpu_processes_on_gloo(tmp_path):
    run_torchrun(
        BUNDLE,
        ["train.yaml", "multi_gpu_train.yaml"],
        **_tiny(
            tmp_path,
            max_iterations=2,
            iterations_per_epoch=1,
            batch_size=2,
            slices_per_volume=2,
            **{"network_def#feature_size": 8},
        ),
    )
    assert (tmp_path / "bundle" / "models" / "checkpoint_epoch=2.pt").is_file()


@pytest.mark.slow
def test_official_checkpoint_imports_into_the_bundle_and_predicts(tmp_path):
    """A .pth as the official training script writes it (``MambaUnet`` wrapper: ``mamba_unet.`` prefix, 3-channel
    patch embedding fed a grey image repeated to 3 channels) -> ``import-weights mamba_unet`` -> the bundle's
    network gives the official output on grey images, and ``monai.bundle run`` predicts with it; a Synapse (9-class)
    checkpoint needs its overlay, and the refusal says which tensor disagrees."""
    torch.manual_seed(0)
    official = MambaUNet(2, in_channels=3, out_channels=4).eval()  # the official VSSM's module tree, 3 channels
    checkpoint = tmp_path / "mambaunet_best_model.pth"
    torch.save({f"mamba_unet.{k}": v for k, v in official.state_dict().items()}, checkpoint)
    output = tmp_path / "imported"
    command = [sys.executable, "-m", "monai_mamba.bundles", "import-weights", BUNDLE, str(checkpoint), "--output"]
    subprocess.run([*command, str(output)], check=True, capture_output=True)

    parser = ConfigParser()
    parser.read_config(str(output / "configs" / "inference.json"))
    parser.update({"bundle_root": str(output)})
    network = parser.get_parsed_content("network_def").eval()
    network.load_state_dict(torch.load(output / "models" / "model.pt", weights_only=True))
    grey = torch.rand(1, 1, 224, 224)
    with torch.no_grad():
        torch.testing.assert_close(network(grey), official(grey.repeat(1, 3, 1, 1)), atol=1e-4, rtol=1e-4)

    data = tiny_dataset(tmp_path, 3, 4, [32, 32, 6])
    subprocess.run(
        [sys.executable, "-m", "monai.bundle", "run", "--config_file", str(output / "configs" / "inference.json"),
         "--dataset_dir", data],
        check=True, capture_output=True,
    )  # fmt: skip
    (prediction,) = (output / "predictions").glob("*_seg.nii.gz")
    assert nib.load(prediction).shape == (32, 32, 6)

    synapse = MambaUNet(2, in_channels=3, out_channels=9)
    torch.save({f"mamba_unet.{k}": v for k, v in synapse.state_dict().items()}, checkpoint)
    refused = subprocess.run([*command, str(tmp_path / "acdc")], capture_output=True, text=True)
    assert (
        refused.returncode != 0 and "other shape (1): output.weight: (9, 96, 1, 1) vs (4, 96, 1, 1)" in refused.stderr
    )
    import_official_weights(BUNDLE, checkpoint, tmp_path / "synapse", overlays="synapse")
    assert torch.load(tmp_path / "synapse" / "models" / "model.pt", weights_only=True)["output.weight"].shape[0] == 9

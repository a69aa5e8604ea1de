# Copyright (c) monai-mamba contributors. Licensed under the Apache License, Version 2.0.
"""bundles/mamba_unet: configs parse; train (from VMamba weights) -> inference -> evaluate on tiny volumes."""

from __future__ import annotations

import csv

import nibabel as nib
import pytest
import torch
from bundle_helpers import run_bundle, run_torchrun, tiny_dataset

BUNDLE = "mamba_unet"
METRICS = {
    "val_mean_dice",
    "val_mean_iou",
    "val_hd95",
    "val_asd",
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

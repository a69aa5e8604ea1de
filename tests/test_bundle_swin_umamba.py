# Copyright (c) monai-mamba contributors. Licensed under the Apache License, Version 2.0.
"""bundles/swin_umamba: configs parse for both networks; train from VMamba weights with the encoder frozen, then
inference and evaluation (Dice, NSD) on tiny data."""

from __future__ import annotations

import csv

import nibabel as nib
import pytest
import torch
from bundle_helpers import run_bundle, run_torchrun, tiny_dataset

from monai_mamba.data import make_demo_dataset

BUNDLE = "swin_umamba"


def test_train_pretrained_and_frozen_then_inference_and_evaluate(
    tmp_path, caplog, vmamba_tiny_checkpoint, vmamba_tiny_checkpoint_file
):
    weights = vmamba_tiny_checkpoint_file
    overrides = {
        "bundle_root": str(tmp_path / "bundle"),
        "dataset_dir": tiny_dataset(tmp_path, 2, 4, 32),
        "patch_size": [32, 32],
        "max_epochs": 2,
        "batch_size": 2,
        "pretrained_path": str(weights),
        "freeze_epochs": 1,
    }
    with caplog.at_level("INFO", logger="monai_mamba.weights"):
        workflow = run_bundle(BUNDLE, ["train.yaml"], **overrides)
    assert "loaded 205 tensors" in caplog.text
    network = workflow.parser.get_parsed_content("network")
    assert all(p.requires_grad for p in network.parameters())  # unfrozen after epoch 1
    models = tmp_path / "bundle" / "models"
    first = torch.load(models / "checkpoint_epoch=1.pt", weights_only=True)["model"]
    second = torch.load(models / "checkpoint_epoch=2.pt", weights_only=True)["model"]
    key = "vssm_encoder.layers.0.blocks.0.self_attention.x_proj_weight"
    assert torch.equal(first[key], vmamba_tiny_checkpoint["layers.0.blocks.0.self_attention.x_proj_weight"])
    assert not torch.equal(first[key], second[key])  # frozen in epoch 1, trained in epoch 2

    run_bundle(BUNDLE, ["inference.json"], **{k: overrides[k] for k in ("bundle_root", "dataset_dir", "patch_size")})
    (prediction,) = (tmp_path / "bundle" / "predictions").glob("*_seg.nii.gz")
    assert nib.load(prediction).shape == (32, 32)

    run_bundle(BUNDLE, ["train.yaml", "evaluate.yaml"], **overrides)
    with open(tmp_path / "bundle" / "eval" / "metrics.csv") as f:
        assert {row[0] for row in csv.reader(f)} == {
            "val_mean_dice",
            "val_nsd",
            "val_hd95",
            "val_asd",
            "val_missed_classes",
        }


def test_microscopy_instances_trained_as_three_classes_and_scored_by_f1(tmp_path):
    data = make_demo_dataset(
        tmp_path / "cells", size=32, num_training=2, num_validation=2, num_testing=1, instance_labels=True
    )
    overrides = {
        "bundle_root": str(tmp_path / "bundle"),
        "dataset_dir": data,
        "patch_size": [32, 32],
        "in_channels": 1,
        "max_epochs": 1,
        "batch_size": 2,
    }
    run_bundle(BUNDLE, ["train.yaml", "microscopy.yaml"], **overrides)
    run_bundle(BUNDLE, ["train.yaml", "evaluate.yaml", "microscopy.yaml"], **overrides)
    with open(tmp_path / "bundle" / "eval" / "metrics.csv") as f:
        metrics = {name: float(value) for name, value in csv.reader(f)}
    assert set(metrics) == {"val_mean_dice", "val_f1"} and 0.0 <= metrics["val_f1"] <= 1.0


@pytest.mark.slow
@pytest.mark.parametrize("network_name", ["SwinUMamba", "SwinUMambaD"])
def test_multi_gpu_config_runs_two_cpu_processes_on_gloo(network_name, tmp_path, vmamba_tiny_checkpoint_file):
    """Pretrained, with the encoder frozen in epoch 1 and trained in epoch 2, in both processes."""
    weights = vmamba_tiny_checkpoint_file
    run_torchrun(
        BUNDLE,
        ["train.yaml", "multi_gpu_train.yaml"],
        bundle_root=str(tmp_path / "bundle"),
        dataset_dir=tiny_dataset(tmp_path, 2, 4, 32),
        patch_size=[32, 32],
        max_epochs=2,
        batch_size=1,
        network_name=network_name,
        pretrained_path=str(weights),
        freeze_epochs=1,
    )
    assert (tmp_path / "bundle" / "models" / "checkpoint_epoch=2.pt").is_file()

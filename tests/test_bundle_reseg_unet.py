# Copyright (c) monai-mamba contributors. Licensed under the Apache License, Version 2.0.
"""bundles/reseg_unet: configs parse; stage 1 -> stage 2 (frozen stage-1 net) -> inference -> evaluate on tiny data."""

from __future__ import annotations

import csv

import nibabel as nib
import pytest
import torch
from bundle_helpers import (
    build_config_ids,
    error_messages,
    run_bundle,
    run_torchrun,
    tiny_dataset,
)

BUNDLE = "reseg_unet"


# the demo, both stages, in a few iterations
TINY_DEMO = dict(
    demo=True,
    reconstruction_iterations=2,
    max_iterations=2,
    iterations_per_epoch=1,
    batch_size=2,
    slices_per_volume=2,
)


def _tiny(tmp_path, num_classes=4, **extra):
    data = tiny_dataset(tmp_path, 3, num_classes, [32, 32, 6])
    return {
        "bundle_root": str(tmp_path / "bundle"),
        "dataset_dir": data,
        "image_size": [32, 32],
        "network_factory#channels": [4, 8, 16, 32, 64],
        **extra,
    }


def _stage1(tmp_path):
    """A stage-1 checkpoint (what train_reconstruction.yaml writes)."""
    overrides = _tiny(tmp_path, reconstruction_iterations=2, iterations_per_epoch=1, batch_size=2, slices_per_volume=2)
    run_bundle(BUNDLE, ["train.yaml", "train_reconstruction.yaml"], **overrides)
    return overrides


@pytest.mark.parametrize(
    "target, args",
    [
        ("monai_mamba.nets.LightMUNet", {"spatial_dims": 2, "init_filters": 8}),
        ("monai_mamba.nets.MambaUNet", {"spatial_dims": 2, "feature_size": 16}),
    ],
)
def test_the_network_is_one_config_value(target, args, tmp_path):
    parser = build_config_ids(
        BUNDLE,
        ["train.yaml"],
        ["reconstruction_network_def"],
        {**_tiny(tmp_path), "network_factory": {"_target_": target, "_mode_": "callable", **args}},
    )
    segmentation, reconstruction = (
        parser.get_parsed_content("network_def"),
        parser.get_parsed_content("reconstruction_network_def"),
    )
    assert type(segmentation).__name__ == target.rsplit(".", 1)[1] == type(reconstruction).__name__
    with torch.no_grad():
        assert segmentation.eval()(torch.zeros(1, 1, 32, 32)).shape[1] == 4  # classes
        assert reconstruction.eval()(torch.zeros(1, 1, 32, 32)).shape[1] == 1  # the image's channels


def test_stage_2_without_stage_1_says_which_command_makes_it(tmp_path):
    with pytest.raises(Exception) as error:
        run_bundle(BUNDLE, ["train.yaml"], **_tiny(tmp_path, max_iterations=2, iterations_per_epoch=1))
    message = error_messages(error.value)
    assert "reconstruction.pt" in message and "train_reconstruction.yaml" in message


def test_both_stages_then_inference_and_evaluate(tmp_path):
    overrides = _stage1(tmp_path)
    models = tmp_path / "bundle" / "models"
    stage1 = torch.load(models / "reconstruction.pt", weights_only=True)
    assert (
        torch.load(models / "reconstruction" / "checkpoint_epoch=2.pt", weights_only=True)["trainer"]["iteration"] == 2
    )

    workflow = run_bundle(BUNDLE, ["train.yaml"], **{**overrides, "max_iterations": 2})
    frozen = workflow.parser.get_parsed_content("frozen_reconstruction_network")
    assert not frozen.training and not any(p.requires_grad for p in frozen.parameters())
    for key, value in frozen.state_dict().items():  # weights and BatchNorm statistics as stage 1 left them
        assert torch.equal(value.cpu(), stage1[key]), key
    assert workflow.parser.get_parsed_content("loss").last_terms["alignment"] > 0
    assert (models / "model.pt").is_file() and (models / "checkpoint_epoch=2.pt").is_file()

    inference = {k: overrides[k] for k in ("bundle_root", "dataset_dir", "image_size", "network_factory#channels")}
    run_bundle(BUNDLE, ["inference.json"], **inference)
    (prediction,) = (tmp_path / "bundle" / "predictions").glob("*_seg.nii.gz")
    assert nib.load(prediction).shape == (32, 32, 6)

    run_bundle(BUNDLE, ["train.yaml", "evaluate.yaml"], **overrides)
    eval_dir = tmp_path / "bundle" / "eval"
    with open(eval_dir / "metrics.csv") as f:
        assert {row[0] for row in csv.reader(f)} == {"val_mean_dice", "val_hd95", "val_asd", "val_missed_classes"}
    with open(eval_dir / "val_mean_dice_raw.csv") as f:  # per case and class, as the paper's tables
        header = next(csv.reader(f))
    assert header == ["filename", "class0", "class1", "class2", "mean"]


def test_demo_runs_stage_1_then_stage_2_in_one_command(tmp_path, caplog):
    overrides = _tiny(tmp_path, **TINY_DEMO)
    with caplog.at_level("INFO"):
        run_bundle(BUNDLE, ["train.yaml"], **overrides)
    models = tmp_path / "bundle" / "demo" / "acdc" / "models"  # the demo's own run folder
    assert (models / "reconstruction.pt").is_file() and (models / "model.pt").is_file()
    assert caplog.text.index("weights written to") < caplog.text.index("loaded UNet from")


@pytest.mark.slow
def test_multi_gpu_config_runs_both_stages_in_two_cpu_processes_on_gloo(tmp_path):
    overrides = _tiny(tmp_path, **TINY_DEMO)
    run_torchrun(BUNDLE, ["train.yaml", "multi_gpu_train.yaml"], **overrides)
    models = tmp_path / "bundle" / "demo" / "acdc" / "models"
    assert (models / "reconstruction.pt").is_file() and (models / "checkpoint_epoch=2.pt").is_file()

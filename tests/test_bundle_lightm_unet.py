# Copyright (c) monai-mamba contributors. Licensed under the Apache License, Version 2.0.
"""bundles/lightm_unet: configs parse, and train -> inference -> evaluate -> resume on tiny generated data."""

from __future__ import annotations

import csv
import math
import shutil
import subprocess

import nibabel as nib
import pytest
import torch
from bundle_helpers import (
    BUNDLES,
    run_bundle,
    run_torchrun,
    tiny_dataset,
)
from torch._dynamo.testing import CompileCounterWithBackend

from monai_mamba.nets import LightMUNet

BUNDLE = "lightm_unet"
TASKS = {
    # task: (extra config files, spatial dims, classes, patch size)
    "2d": ([], 2, 2, [32, 32]),
    "3d": (["lits_3d.yaml"], 3, 3, [16, 16, 16]),
}


def _tiny_overrides(tmp_path, task, epochs=1):
    extra, dims, classes, patch = TASKS[task]
    data = tiny_dataset(tmp_path, dims, classes, patch[0])
    return dict(
        bundle_root=str(tmp_path / "bundle"),
        dataset_dir=data,
        patch_size=patch,
        max_epochs=epochs,
        batch_size=1,
        samples_per_image=1,
        **{"network_def#init_filters": 8},
    )


def _inference_overrides(overrides):
    """Of a training run's overrides, those inference.json takes: the same bundle, data, patch and network."""
    keys = ("bundle_root", "dataset_dir", "patch_size", "network_def#init_filters")
    return {key: overrides[key] for key in keys}


@pytest.mark.parametrize("task", ["2d", "3d"])
def test_train_inference_evaluate_end_to_end(task, tmp_path):
    extra, dims, classes, patch = TASKS[task]
    overrides = _tiny_overrides(tmp_path, task)
    run_bundle(BUNDLE, ["train.yaml", *extra], **overrides)
    models = tmp_path / "bundle" / "models"
    assert (models / "model.pt").is_file() and (models / "checkpoint_epoch=1.pt").is_file()
    assert any((tmp_path / "bundle" / "logs").iterdir())  # TensorBoard events

    run_bundle(BUNDLE, ["inference.json", *extra], **_inference_overrides(overrides))
    predictions = list((tmp_path / "bundle" / "predictions").glob("*_seg.nii.gz"))
    assert len(predictions) == 1
    prediction = nib.load(predictions[0]).get_fdata()
    assert prediction.shape[:dims] == tuple(patch) and prediction.max() < classes

    run_bundle(BUNDLE, ["train.yaml", *extra, "evaluate.yaml"], **overrides)
    with open(tmp_path / "bundle" / "eval" / "metrics.csv") as f:
        metrics = {name: float(value) for name, value in csv.reader(f)}
    assert set(metrics) == {
        "val_mean_dice",
        "val_mean_iou",
        "val_hd95",
        "val_asd",
        "val_missed_classes",
        "val_precision",
        "val_recall",
    }
    assert 0.0 <= metrics["val_mean_dice"] <= 1.0
    # an untrained-for-long network misses classes; the distances stay finite and the misses are counted
    assert all(math.isfinite(v) for v in metrics.values()) and metrics["val_missed_classes"] >= 0
    with open(tmp_path / "bundle" / "eval" / "val_hd95_raw.csv") as f:
        header = next(csv.reader(f))
    assert header == ["filename", *(f"class{c}" for c in range(classes - 1)), "mean"]  # per case and class


@pytest.mark.slow
def test_multi_gpu_config_runs_two_cpu_processes_on_gloo(tmp_path):
    overrides = _tiny_overrides(tmp_path, "2d")
    run_torchrun(BUNDLE, ["train.yaml", "multi_gpu_train.yaml"], **overrides)
    assert (tmp_path / "bundle" / "models" / "checkpoint_epoch=1.pt").is_file()


@pytest.mark.slow
def test_compile_setting_trains_a_compiled_network_and_saves_plain_weights(tmp_path):
    """The bundle's plumbing of torch.compile (settings, engines, checkpoints, inference). compile_kwargs reaches
    torch.compile: the aot_eager backend keeps the test to dynamo and AOTAutograd (inductor's C++ code generation,
    minutes here, is tested on a network in tests/test_compile.py)."""
    overrides = _tiny_overrides(tmp_path, "2d", epochs=2)
    backend = CompileCounterWithBackend("aot_eager")  # counts the graphs it compiles
    workflow = run_bundle(BUNDLE, ["train.yaml"], compile=True, compile_kwargs={"backend": backend}, **overrides)
    trainer = workflow.parser.get_parsed_content("train#trainer")
    assert isinstance(trainer.network, torch._dynamo.eval_frame.OptimizedModule)
    assert backend.frame_count >= 2  # compile_kwargs reached torch.compile: the training and validation graphs
    models = tmp_path / "bundle" / "models"
    first = torch.load(models / "checkpoint_epoch=1.pt", weights_only=True)["model"]
    second = torch.load(models / "checkpoint_epoch=2.pt", weights_only=True)["model"]
    assert not any(key.startswith("_orig_mod") for key in second)  # the plain module's keys: inference loads them
    assert any(not torch.equal(first[key], second[key]) for key in first)  # the compiled steps trained the weights
    LightMUNet(2, 1, 2, init_filters=8).load_state_dict(torch.load(models / "model.pt", weights_only=True))

    # inference.json compiles the network too, and writes the label maps eager inference writes
    predict = _inference_overrides(overrides)
    predictions = tmp_path / "bundle" / "predictions"
    run_bundle(BUNDLE, ["inference.json"], **predict)
    eager = {path.name: nib.load(path) for path in predictions.glob("*_seg.nii.gz")}
    eager = {name: (image.get_fdata(), image.affine) for name, image in eager.items()}
    shutil.rmtree(predictions)
    backend = CompileCounterWithBackend("aot_eager")
    workflow = run_bundle(BUNDLE, ["inference.json"], compile=True, compile_kwargs={"backend": backend}, **predict)
    assert isinstance(workflow.parser.get_parsed_content("evaluator").network, torch._dynamo.eval_frame.OptimizedModule)
    assert backend.frame_count >= 1
    compiled = {path.name: nib.load(path) for path in predictions.glob("*_seg.nii.gz")}
    assert eager and compiled.keys() == eager.keys()
    for name, (labels, affine) in eager.items():  # the same labels, in the input's geometry
        assert (compiled[name].get_fdata() == labels).all() and (compiled[name].affine == affine).all()


@pytest.mark.skipif(shutil.which("git") is None, reason="needs git")
def test_what_a_bundle_run_writes_is_ignored_by_git():
    """Tests write to tmp folders; a developer's own runs write into the bundle folder, which git ignores."""
    for name in ("models", "logs", "eval", "predictions", "demo"):
        ignored = subprocess.run(["git", "check-ignore", "-q", f"{BUNDLE}/{name}/"], cwd=BUNDLES).returncode == 0
        assert ignored, f"{name}/ is not ignored by git"

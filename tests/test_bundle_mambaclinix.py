# Copyright (c) monai-mamba contributors. Licensed under the Apache License, Version 2.0.
"""bundles/mambaclinix: configs parse; plan -> train -> inference -> evaluate on tiny generated 3-D data."""

from __future__ import annotations

import csv
import json

import nibabel as nib
import pytest
import torch
from bundle_helpers import (
    build_config_ids,
    config_paths,
    error_messages,
    run_bundle,
    run_torchrun,
)
from monai.bundle import ckpt_export, onnx_export

from monai_mamba.data import make_demo_dataset

BUNDLE = "mambaclinix"
OVERLAYS = {"": (4, 4), "abdomen_ct.yaml": (1, 14), "liver_tumour.yaml": (1, 3)}


def _data(tmp_path, in_channels=4, num_classes=4):
    return make_demo_dataset(
        tmp_path / f"data{in_channels}_{num_classes}",
        spatial_dims=3,
        num_classes=num_classes,
        size=16,
        num_training=2,
        num_validation=2,
        num_testing=1,
        num_channels=in_channels,
    )


def _tiny(tmp_path, in_channels=4, num_classes=4, **extra):
    return {
        "bundle_root": str(tmp_path / "bundle"),
        "dataset_dir": _data(tmp_path, in_channels, num_classes),
        "max_epochs": 1,
        "iterations_per_epoch": 1,
        "num_regions_per_axis": [2, 2, 2],
        **extra,
    }


def test_plan_train_inference_evaluate_end_to_end(tmp_path):
    overrides = _tiny(tmp_path)
    run_bundle(BUNDLE, ["train.yaml"], **overrides)
    models = tmp_path / "bundle" / "models"
    plan = json.loads((models / "plan.json").read_text())  # planned on the first run
    assert plan["patch_size"] == [16, 16, 16] and plan["num_stages"] == 3 and len(plan["normalization"]) == 4
    assert (models / "model.pt").is_file()
    checkpoint = torch.load(models / "checkpoint_epoch=1.pt", weights_only=True)
    assert any(k.startswith("encoder_blocks.0.gated_conv") for k in checkpoint["model"])

    inference = {k: overrides[k] for k in ("bundle_root", "dataset_dir")}
    run_bundle(BUNDLE, ["inference.json"], **inference)
    (prediction,) = (tmp_path / "bundle" / "predictions").glob("*_seg.nii.gz")
    values = set(torch.as_tensor(nib.load(prediction).get_fdata()).unique().int().tolist())
    assert nib.load(prediction).shape == (16, 16, 16) and values <= {0, 1, 2, 4}  # BraTS' label 4 for ET

    run_bundle(BUNDLE, ["train.yaml", "evaluate.yaml"], **overrides)
    with open(tmp_path / "bundle" / "eval" / "metrics.csv") as f:
        assert {row[0] for row in csv.reader(f)} == {
            "val_mean_dice",
            "val_region_dice",
            "val_hd95",
            "val_asd",
            "val_missed_classes",
        }

    # python -m monai.bundle ckpt_export ... --use_trace True: TorchScript of the trained network, same output
    exported = tmp_path / "model.ts"
    export_arguments = dict(
        net_id="network_def",
        ckpt_file=str(models / "model.pt"),
        meta_file=config_paths(BUNDLE, "metadata.json")[0],
        config_file=config_paths(BUNDLE, "inference.json")[0],
        use_trace=True,
        input_shape=[1, 4, 16, 16, 16],
        plan_file=str(models / "plan.json"),
        **inference,
    )
    ckpt_export(filepath=str(exported), **export_arguments)
    network = build_config_ids(BUNDLE, ["inference.json"], ["network_def"], inference).get_parsed_content("network_def")
    network.load_state_dict(torch.load(models / "model.pt", weights_only=True))
    x = torch.randn(1, 4, 16, 16, 16)
    with torch.no_grad():
        torch.testing.assert_close(torch.jit.load(str(exported))(x), network.eval()(x), atol=1e-4, rtol=1e-4)

    # python -m monai.bundle onnx_export ...: ONNX of the trained network, run by onnxruntime, same output
    ort = pytest.importorskip("onnxruntime")
    onnx_export(filepath=str(tmp_path / "model.onnx"), **export_arguments)
    session = ort.InferenceSession(str(tmp_path / "model.onnx"), providers=["CPUExecutionProvider"])
    (output,) = session.run(None, {session.get_inputs()[0].name: x.numpy()})
    with torch.no_grad():
        torch.testing.assert_close(torch.from_numpy(output), network(x), atol=1e-4, rtol=1e-4)


def test_ct_overlay_trains_one_epoch(tmp_path):
    run_bundle(BUNDLE, ["train.yaml", "liver_tumour.yaml"], **_tiny(tmp_path, 1, 3))
    plan = json.loads((tmp_path / "bundle" / "models" / "plan.json").read_text())
    assert plan["normalization"][0]["scheme"] == "CT"


def test_inference_without_a_plan_says_where_it_comes_from(tmp_path):
    with pytest.raises(Exception) as error:
        run_bundle(BUNDLE, ["inference.json"], bundle_root=str(tmp_path / "bundle"), dataset_dir=_data(tmp_path))
    message = error_messages(error.value)
    assert "no plan at" in message and "--plan_file" in message


@pytest.mark.slow
def test_multi_gpu_config_runs_two_cpu_processes_on_gloo(tmp_path):
    overrides = _tiny(tmp_path)
    run_torchrun(BUNDLE, ["train.yaml", "multi_gpu_train.yaml"], **overrides)
    assert (tmp_path / "bundle" / "models" / "checkpoint_epoch=1.pt").is_file()

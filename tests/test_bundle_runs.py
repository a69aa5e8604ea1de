# Copyright (c) monai-mamba contributors. Licensed under the Apache License, Version 2.0.
"""The user flows around a training run, on tiny generated data: demo then your data in one folder, training longer,
changed settings, inference on bad input, misspelled settings, missing models, another run in the same folder."""

from __future__ import annotations

import json
import logging
import subprocess
import sys

import monai.bundle
import nibabel as nib
import numpy as np
import pytest
import torch
from bundle_helpers import config_paths, error_messages, run_bundle, tiny_dataset

from monai_mamba.bundles import UnknownOverrideError
from monai_mamba.data import make_demo_dataset
from monai_mamba.handlers import RunLock
from monai_mamba.planning import make_plan

TINY = {"patch_size": [16, 16], "batch_size": 1, "samples_per_image": 1, "network_def#init_filters": 8}


def _checkpoint(folder, epoch):
    return torch.load(folder / f"checkpoint_epoch={epoch}.pt", weights_only=True)


def test_demo_then_your_data_in_the_same_folder_trains_on_your_data(tmp_path):
    root = tmp_path / "bundle"
    run_bundle("lightm_unet", ["train.yaml"], bundle_root=str(root), max_epochs=1, **TINY)  # the README's demo
    demo_models = root / "demo" / "lung_xray" / "models"
    demo_checkpoint = (demo_models / "checkpoint_epoch=1.pt").read_bytes()
    assert (demo_models / "model.pt").is_file() and not (root / "models").exists()

    data = tiny_dataset(tmp_path, 2, 2, 16)
    run_bundle("lightm_unet", ["train.yaml"], bundle_root=str(root), dataset_dir=data, max_epochs=2, **TINY)
    first, second = _checkpoint(root / "models", 1), _checkpoint(root / "models", 2)
    assert second["trainer"]["iteration"] == 2 * second["trainer"]["epoch_length"]  # 2 epochs here, none resumed
    assert first["optimizer"]["param_groups"][0]["initial_lr"] == 1e-4  # a new schedule, started at the base rate
    assert any(not torch.equal(first["model"][k], second["model"][k]) for k in first["model"])  # it learnt
    assert (demo_models / "checkpoint_epoch=1.pt").read_bytes() == demo_checkpoint  # the demo's run untouched


def test_mambaclinix_demo_plan_is_never_used_for_your_data(tmp_path):
    root = tmp_path / "bundle"
    fast = {"max_epochs": 1, "iterations_per_epoch": 1, "num_regions_per_axis": [2, 2, 2]}
    run_bundle("mambaclinix", ["train.yaml"], bundle_root=str(root), **fast)
    demo_plan = json.loads((root / "demo" / "brats" / "models" / "plan.json").read_text())
    assert demo_plan["made_from"]["demo"] and demo_plan["patch_size"] == [32, 32, 32]
    data = tiny_dataset(tmp_path, 3, 4, 16, num_validation=1, num_channels=4)
    run_bundle("mambaclinix", ["train.yaml"], bundle_root=str(root), dataset_dir=data, **fast)
    plan = json.loads((root / "models" / "plan.json").read_text())
    assert not plan["made_from"]["demo"] and plan["made_from"]["cases"] == 2 and plan["patch_size"] == [16, 16, 16]


def test_training_longer_resumes_at_a_learning_rate_above_zero(tmp_path, caplog):
    overrides = dict(bundle_root=str(tmp_path / "bundle"), dataset_dir=tiny_dataset(tmp_path, 2, 2, 16), **TINY)
    run_bundle("lightm_unet", ["train.yaml"], max_epochs=2, **overrides)
    models = tmp_path / "bundle" / "models"
    second = _checkpoint(models, 2)
    assert second["optimizer"]["param_groups"][0]["lr"] == 0.0  # the 2-epoch schedule has ended
    with caplog.at_level(logging.INFO):
        run_bundle("lightm_unet", ["train.yaml"], max_epochs=4, **overrides)
    assert "continuing after epoch 2" in caplog.text and "horizon changed from 2 to 4" in caplog.text
    third, fourth = _checkpoint(models, 3), _checkpoint(models, 4)
    assert third["lr_scheduler"]["total_iters"] == 4 and fourth["lr_scheduler"]["last_epoch"] == 4
    assert third["optimizer"]["param_groups"][0]["lr"] == pytest.approx(1e-4 * (1 - 3 / 4) ** 0.9)  # epoch 4's rate
    assert any(not torch.equal(third["model"][k], fourth["model"][k]) for k in third["model"])  # still learning
    # the optimizer went on from where it stopped: Adam's step count doubled, it did not restart
    steps = lambda ckpt: int(next(iter(ckpt["optimizer"]["state"].values()))["step"])  # noqa: E731
    assert steps(fourth) == 2 * steps(second)
    assert fourth["best_model"]["best_metric"] >= 0 and fourth["best_model"]["tracking"]["_saved"]  # best kept


def test_other_network_settings_are_refused_then_started_fresh_on_request(tmp_path):
    overrides = dict(
        bundle_root=str(tmp_path / "bundle"), dataset_dir=tiny_dataset(tmp_path, 2, 2, 16), max_epochs=1, **TINY
    )
    run_bundle("lightm_unet", ["train.yaml"], **overrides)
    models = tmp_path / "bundle" / "models"
    before = {p.name: p.read_bytes() for p in models.glob("*.pt")}
    with pytest.raises(Exception) as error:
        run_bundle("lightm_unet", ["train.yaml"], **{**overrides, "network_def#init_filters": 16})
    message = error_messages(error.value)
    assert (
        "holds another training run" in message
        and "tensor 'convInit.1.conv.weight' has shape [16, 1, 1, 1] here, [8, 1, 1, 1]" in message
    )
    assert "--bundle_root" in message and "--resume fresh" in message
    assert {p.name: p.read_bytes() for p in models.glob("*.pt")} == before  # nothing changed

    run_bundle("lightm_unet", ["train.yaml"], **{**overrides, "network_def#init_filters": 16, "resume": "fresh"})
    assert _checkpoint(models, 1)["model"]["convInit.1.conv.weight"].shape[0] == 16
    (previous,) = (models / "previous_runs").iterdir()
    assert (previous / "model.pt").read_bytes() == before["model.pt"]  # the old best model kept
    assert (previous / "checkpoint_epoch=1.pt").read_bytes() == before["checkpoint_epoch=1.pt"]


def test_a_nan_voxel_at_inference_is_refused_naming_the_file(tmp_path):
    overrides = dict(
        bundle_root=str(tmp_path / "bundle"), dataset_dir=tiny_dataset(tmp_path, 2, 2, 16), max_epochs=1, **TINY
    )
    run_bundle("lightm_unet", ["train.yaml"], **overrides)
    testing = json.loads((tmp_path / "data" / "datalist.json").read_text())["testing"][0]["image"]
    image = nib.load(tmp_path / "data" / testing)
    data = np.asanyarray(image.dataobj).copy()
    data[3, 3] = np.nan
    nib.save(nib.Nifti1Image(data, image.affine), tmp_path / "data" / testing)
    inference = {k: overrides[k] for k in ("bundle_root", "dataset_dir", "patch_size", "network_def#init_filters")}
    with pytest.raises(Exception) as error:
        run_bundle("lightm_unet", ["inference.json"], **inference)
    message = error_messages(error.value)
    assert testing in message and "1 NaN/Inf voxel(s)" in message and "Repair the file" in message
    assert not list((tmp_path / "bundle" / "predictions").glob("*_seg.nii.gz"))  # no empty segmentation written


def test_a_misspelled_setting_stops_before_anything_runs(tmp_path):
    with pytest.raises(Exception) as error:
        monai.bundle.run(
            config_file=config_paths("lightm_unet", "train.yaml")[0],
            logging_file=False,
            bundle_root=str(tmp_path / "bundle"),
            max_epoch=1,
        )
    assert isinstance(error.value.__cause__, UnknownOverrideError)
    assert "--max_epoch (did you mean --max_epochs?): no such setting" in error_messages(error.value)
    assert not (tmp_path / "bundle" / "demo" / "lung_xray" / "models").exists()


@pytest.mark.parametrize("configs", [["inference.json"], ["train.yaml", "evaluate.yaml"]])
def test_inference_and_evaluation_before_training_name_the_command_that_makes_the_model(configs, tmp_path):
    data = tiny_dataset(tmp_path, 2, 2, 16)
    tiny = TINY if "train.yaml" in configs else {"patch_size": [16, 16], "network_def#init_filters": 8}
    with pytest.raises(Exception) as error:
        run_bundle("lightm_unet", configs, bundle_root=str(tmp_path / "bundle"), dataset_dir=data, **tiny)
    message = error_messages(error.value)
    train_yaml = config_paths("lightm_unet", "train.yaml")[0]
    assert "models/model.pt not found" in message
    assert (
        f"python -m monai.bundle run --config_file {train_yaml} --bundle_root {tmp_path / 'bundle'} "
        f"--dataset_dir {data}" in message
    )


def test_a_model_from_other_network_settings_is_named_at_inference(tmp_path):
    overrides = dict(
        bundle_root=str(tmp_path / "bundle"), dataset_dir=tiny_dataset(tmp_path, 2, 2, 16), max_epochs=1, **TINY
    )
    run_bundle("lightm_unet", ["train.yaml"], **overrides)
    inference = {k: overrides[k] for k in ("bundle_root", "dataset_dir", "patch_size")}
    with pytest.raises(Exception) as error:
        run_bundle("lightm_unet", ["inference.json"], **inference, **{"network_def#init_filters": 16})
    message = error_messages(error.value)
    assert "was trained with other network settings" in message
    assert "'convInit.1.conv.weight' has shape [16, 1, 1, 1] here, [8, 1, 1, 1] in model.pt" in message


def test_reseg_stage_1_hint_is_a_command_that_works_from_another_bundle_root(tmp_path):
    data = tiny_dataset(tmp_path, 3, 4, [32, 32, 6])
    tiny = {
        "bundle_root": str(tmp_path / "elsewhere"),
        "dataset_dir": data,
        "image_size": [32, 32],
        "network_factory#channels": [4, 8, 16, 32, 64],
        "reconstruction_iterations": 2,
        "max_iterations": 2,
        "iterations_per_epoch": 1,
        "batch_size": 2,
        "slices_per_volume": 2,
    }
    with pytest.raises(Exception) as error:
        run_bundle("reseg_unet", ["train.yaml"], **tiny)
    message = error_messages(error.value)
    command = message[message.index("python -m monai.bundle run") :].split(" (with the overlays")[0]
    configs = config_paths("reseg_unet", "train.yaml", "train_reconstruction.yaml")
    assert command == (
        f"python -m monai.bundle run --config_file \"['{configs[0]}','{configs[1]}']\" "
        f"--bundle_root {tmp_path / 'elsewhere'} --dataset_dir {data}"
    )
    rest = {k: v for k, v in tiny.items() if k not in ("bundle_root", "dataset_dir")}
    run_bundle(
        "reseg_unet",
        ["train.yaml", "train_reconstruction.yaml"],
        bundle_root=tiny["bundle_root"],
        dataset_dir=data,
        **rest,
    )  # the command as printed (plus the tiny sizes of this test)
    run_bundle("reseg_unet", ["train.yaml"], **tiny)
    assert (tmp_path / "elsewhere" / "models" / "model.pt").is_file()


def test_a_plan_for_other_data_and_a_mistyped_plan_file_are_refused(tmp_path):
    four_channel_mr = make_demo_dataset(
        tmp_path / "mr",
        spatial_dims=3,
        num_classes=4,
        size=16,
        num_training=2,
        num_validation=1,
        num_testing=0,
        num_channels=4,
    )
    one_channel_ct = make_demo_dataset(
        tmp_path / "ct", spatial_dims=3, num_classes=4, size=16, num_training=2, num_validation=1, num_testing=0
    )
    ct_plan = str(tmp_path / "ct_plan.json")
    make_plan(f"{one_channel_ct}/datalist.json", ct_plan, 5, "CT")
    fast = {
        "bundle_root": str(tmp_path / "bundle"),
        "dataset_dir": four_channel_mr,
        "max_epochs": 1,
        "iterations_per_epoch": 1,
        "num_regions_per_axis": [2, 2, 2],
    }
    with pytest.raises(Exception) as error:
        run_bundle("mambaclinix", ["train.yaml"], plan_file=ct_plan, **fast)
    message = error_messages(error.value)
    assert "does not fit this task" in message
    assert "it normalises 1 image channel(s), the images have in_channels=4" in message
    typo = tmp_path / "plna.json"
    with pytest.raises(Exception) as error:
        run_bundle("mambaclinix", ["train.yaml"], plan_file=str(typo), **fast)
    assert f"no plan at {typo}" in error_messages(error.value) and not typo.exists()


def test_a_second_training_run_in_the_same_folder_fails_fast(tmp_path):
    data = tiny_dataset(tmp_path, 2, 2, 16)
    models = tmp_path / "bundle" / "models"
    lock = RunLock(str(models))
    lock.acquire()  # a first run, training
    try:
        cmd = [
            sys.executable,
            "-m",
            "monai.bundle",
            "run",
            "--config_file",
            config_paths("lightm_unet", "train.yaml")[0],
            "--bundle_root",
            str(tmp_path / "bundle"),
            "--dataset_dir",
            data,
            "--max_epochs",
            "1",
            "--patch_size",
            "[16,16]",
            "--network_def#init_filters",
            "8",
        ]
        result = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    finally:
        lock.release()
    assert result.returncode == 1
    # the refusal is the last line, not MONAI's "RuntimeError: Failed to evaluate ConfigExpression"
    assert result.stderr.strip().splitlines()[-1].startswith(f"error: another training run is using {models}")
    assert not list(models.glob("checkpoint_epoch=*.pt"))  # nothing written into the first run's folder

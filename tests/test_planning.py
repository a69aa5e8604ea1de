# Copyright (c) monai-mamba contributors. Licensed under the Apache License, Version 2.0.
"""Self-configuration: nnU-Net's spacing, pooling and kernel rules on stated cases, the memory budget, the
fingerprint of files on disk, the plan file and the normalisation it prescribes."""

from __future__ import annotations

import json
import subprocess
import sys

import nibabel as nib
import numpy as np
import pytest
import torch
from monai.transforms import NormalizeIntensityd, ScaleIntensityRanged

from monai_mamba.planning import (
    DatasetFingerprint,
    compute_fingerprint,
    intensity_normalization,
    load_or_make_plan,
    make_plan,
    plan_network,
    pooling_and_kernels,
    target_spacing,
)

STATS = {
    "mean": 100.0,
    "std": 50.0,
    "median": 90.0,
    "min": -1000.0,
    "max": 2000.0,
    "percentile_00_5": -50.0,
    "percentile_99_5": 300.0,
}


def _fingerprint(spacing, shape, cases=10, channels=1):
    return DatasetFingerprint([list(spacing)] * cases, [list(shape)] * cases, [dict(STATS)] * channels, [0.9, 0.1])


def test_isotropic_128_gives_six_stages_of_stride_2():
    strides, kernels, patch, divisible = pooling_and_kernels([1.0, 1.0, 1.0], [128, 128, 128])
    assert strides == [[1, 1, 1]] + [[2, 2, 2]] * 5 and kernels == [[3, 3, 3]] * 6
    assert patch == [128, 128, 128] and divisible == [32, 32, 32]


@pytest.mark.parametrize("spacing, coarse", [([2.5, 0.8, 0.8], 0), ([0.8, 0.8, 2.5], 2)])
def test_thick_slices_pool_in_plane_first_with_in_plane_kernels(spacing, coarse):
    size = [64 if d == coarse else 160 for d in range(3)]
    strides, kernels, _, _ = pooling_and_kernels(spacing, size)
    assert strides[1] == [1 if d == coarse else 2 for d in range(3)]  # first pooling in-plane only
    assert kernels[0] == [1 if d == coarse else 3 for d in range(3)]  # no kernel across thick slices at first
    assert strides[2] == [2, 2, 2] and kernels[1] == [3, 3, 3]  # 2.5 / 1.6 < 2: the slice axis joins


def test_an_axis_pooled_alone_needs_three_times_the_minimum_size():
    strides, _, _, _ = pooling_and_kernels([1.0, 1.0, 4.0], [8, 8, 10])
    assert [s[2] for s in strides] == [1, 1]  # in-plane pooled once (8 -> 4), then z alone at 10 < 12: stop


def test_target_spacing_takes_the_10th_percentile_only_for_anisotropic_spacing_and_voxels():
    spacings = [[0.7, 0.7, z] for z in (3.0, 4.0, 5.0, 5.0, 5.0, 5.0, 5.0, 5.0, 5.0, 6.0)]
    assert target_spacing(spacings, [[512, 512, 60]] * 10)[2] == pytest.approx(
        np.percentile([s[2] for s in spacings], 10)
    )
    assert target_spacing(spacings, [[100, 100, 60]] * 10)[2] == 5.0  # not 3x fewer voxels: median kept
    assert target_spacing([[1.0, 1.0, 1.2]] * 3, [[100, 100, 20]] * 3) == [1.0, 1.0, 1.2]


def test_plan_for_1mm_isotropic_128_cubes():
    plan = plan_network(_fingerprint([1, 1, 1], [128, 128, 128]))
    assert plan["patch_size"] == [128, 128, 128] and plan["num_stages"] == 6
    assert plan["strides"] == [[1, 1, 1]] + [[2, 2, 2]] * 5 and plan["batch_size"] == 2
    assert plan["features"] == [32, 64, 128, 256, 320, 320]
    json.dumps(plan)  # a plan file is JSON


def test_memory_budget_shrinks_the_patch_or_raises_the_batch():
    small = plan_network(_fingerprint([1, 1, 1], [200, 200, 200]), gpu_memory_gb=2)
    assert np.prod(small["patch_size"]) < 128**3 and small["batch_size"] == 2
    assert all(p % np.prod([s[d] for s in small["strides"]]) == 0 for d, p in enumerate(small["patch_size"]))
    big = plan_network(_fingerprint([1, 1, 1], [128, 128, 128], cases=1000), gpu_memory_gb=32)
    assert big["patch_size"] == [128, 128, 128] and big["batch_size"] == 8
    capped = plan_network(_fingerprint([1, 1, 1], [128, 128, 128], cases=10), gpu_memory_gb=32)
    assert capped["batch_size"] == 2  # a batch covers at most 5 % of the data set (here under the minimum of 2)


def test_fingerprint_reads_spacing_crops_to_nonzero_and_measures_the_foreground(tmp_path):
    datalist = []
    for i in range(2):
        image = np.zeros((20, 16, 8), np.float32)
        image[2:18, 2:14, 1:7] = 10.0  # non-zero region 16 x 12 x 6
        label = np.zeros((20, 16, 8), np.uint8)
        label[5:9, 5:9, 2:4] = 1
        image[label == 1] = 50.0 + i
        affine = np.diag([0.8, 0.8, 2.5, 1.0])
        nib.save(nib.Nifti1Image(image, affine), tmp_path / f"image{i}.nii.gz")
        nib.save(nib.Nifti1Image(label, affine), tmp_path / f"label{i}.nii.gz")
        datalist.append({"image": str(tmp_path / f"image{i}.nii.gz"), "label": str(tmp_path / f"label{i}.nii.gz")})
    fingerprint = compute_fingerprint(datalist, num_classes=2)
    assert fingerprint.spacings == [[pytest.approx(0.8), pytest.approx(0.8), pytest.approx(2.5)]] * 2
    assert fingerprint.shapes == [[16, 12, 6]] * 2
    assert fingerprint.intensity[0]["mean"] == pytest.approx(50.5) and fingerprint.intensity[0]["min"] == 50.0
    assert fingerprint.class_frequencies[1] == pytest.approx(32 / (20 * 16 * 8))


def test_plan_file_from_the_command_line_then_loaded(tmp_path):
    from monai_mamba.data import make_demo_dataset

    root = make_demo_dataset(
        tmp_path / "data", spatial_dims=3, num_classes=3, size=32, num_training=3, num_validation=1, num_testing=0
    )
    output = tmp_path / "plan.json"
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "monai_mamba.planning",
            "plan",
            "--datalist",
            f"{root}/datalist.json",
            "--output",
            str(output),
            "--num_classes",
            "3",
        ],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    plan = json.loads(output.read_text())
    assert plan["spatial_dims"] == 3 and len(plan["fingerprint"]["shapes"]) == 3
    output.write_text(json.dumps({**plan, "batch_size": 7}))  # an existing plan is read, not recomputed
    assert load_or_make_plan(str(output), "missing.json", 3)["batch_size"] == 7
    with pytest.raises(FileNotFoundError, match="datalist not found"):
        load_or_make_plan(str(tmp_path / "new.json"), str(tmp_path / "missing.json"), 3)


def test_normalization_follows_the_modality():
    mr = plan_network(_fingerprint([1, 1, 1], [64, 64, 64], channels=4), "MR")
    assert isinstance(intensity_normalization(mr), NormalizeIntensityd)
    ct = plan_network(_fingerprint([1, 1, 1], [64, 64, 64]), "CT")
    transform = intensity_normalization(ct)
    assert isinstance(transform, ScaleIntensityRanged)
    out = transform({"image": torch.tensor([[-1000.0, -50.0, 100.0, 300.0, 2000.0]])})["image"]
    torch.testing.assert_close(out, torch.tensor([[-3.0, -3.0, 0.0, 4.0, 4.0]]))  # clipped, then (x - 100) / 50
    with pytest.raises(ValueError, match="mixed"):
        intensity_normalization(plan_network(_fingerprint([1, 1, 1], [64, 64, 64], channels=2), ["CT", "MR"]))


@pytest.mark.parametrize(
    "change, message",
    [
        (lambda label: label * 3, r"values \[0, 3, 6\] outside \[0, 3\)"),
        (lambda label: label - 1, r"values \[-1, 0, 1\] outside \[0, 3\)"),
    ],
    ids=["labels-above-num-classes", "negative-labels"],
)
def test_the_planner_checks_the_data_first(change, message, tmp_path):
    from monai_mamba.data import DataCheckError, make_demo_dataset

    root = make_demo_dataset(
        tmp_path / "data", spatial_dims=3, num_classes=3, size=16, num_training=2, num_validation=0, num_testing=0
    )
    label_path = (
        tmp_path / "data" / json.loads((tmp_path / "data" / "datalist.json").read_text())["training"][0]["label"]
    )
    label = nib.load(label_path)
    nib.save(nib.Nifti1Image(change(np.asanyarray(label.dataobj).astype(np.int16)), label.affine), label_path)
    with pytest.raises(DataCheckError, match=message):
        make_plan(f"{root}/datalist.json", str(tmp_path / "plan.json"), 3)
    assert not (tmp_path / "plan.json").exists()


def test_the_planner_refuses_fewer_than_two_classes(tmp_path):
    from monai_mamba.data import make_demo_dataset

    root = make_demo_dataset(
        tmp_path / "data", spatial_dims=3, num_classes=2, size=16, num_training=1, num_validation=0, num_testing=0
    )
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "monai_mamba.planning",
            "plan",
            "--datalist",
            f"{root}/datalist.json",
            "--output",
            str(tmp_path / "plan.json"),
            "--num_classes",
            "1",
        ],
        capture_output=True,
        text=True,
    )
    assert (
        result.returncode != 0 and "num_classes=1: give the number of classes including the background" in result.stderr
    )

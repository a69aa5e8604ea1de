# Copyright (c) monai-mamba contributors. Licensed under the Apache License, Version 2.0.
"""Data-set preparers: tiny fake copies of each source layout as distributed -> NIfTI + datalist.json."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import itk
import nibabel as nib
import numpy as np
import pytest

from monai_mamba.data.preparers import PREPARERS, split


def _nifti(path: Path, data, dtype=np.float32, affine=None):
    path.parent.mkdir(parents=True, exist_ok=True)
    nib.save(nib.Nifti1Image(np.asarray(data, dtype), np.eye(4) if affine is None else affine), str(path))


def _datalist(dst: Path) -> dict:
    datalist = json.loads((dst / "datalist.json").read_text())
    for name in ("training", "validation", "testing"):
        for entry in datalist[name]:
            assert (dst / entry["image"]).is_file() and (dst / entry["label"]).is_file()
    return datalist


def _ids(entries):
    return sorted(Path(e["label"]).name.split(".")[0] for e in entries)


def test_split_is_seeded_and_covers_every_case_once():
    ids = [f"c{i}" for i in range(20)]
    a, b, c = split(ids, seed=0), split(ids, seed=0), split(ids, seed=1)
    assert a == b and a != c
    assert [len(a[k]) for k in ("training", "validation", "testing")] == [14, 2, 4]
    assert sorted(sum(a.values(), [])) == sorted(ids)
    with pytest.raises(ValueError, match="summing to 1"):
        split(ids, (0.5, 0.1, 0.1))


def test_acdc_frames_of_a_patient_stay_in_one_split(tmp_path):
    src = tmp_path / "ACDC" / "database" / "training"
    for p in range(1, 11):
        for frame in (1, 12):
            stem = src / f"patient{p:03d}" / f"patient{p:03d}_frame{frame:02d}"
            _nifti(stem.with_name(stem.name + ".nii.gz"), np.random.rand(4, 4, 2))
            _nifti(stem.with_name(stem.name + "_gt.nii.gz"), np.random.randint(0, 4, (4, 4, 2)), np.uint8)
    datalist = _datalist(Path(PREPARERS["acdc"](str(tmp_path / "ACDC"), str(tmp_path / "out"))).parent)
    patients = {
        k: {i.split("_")[0] for i in _ids(v)} for k, v in datalist.items() if k in ("training", "validation", "testing")
    }
    assert [len(patients[k]) for k in ("training", "validation", "testing")] == [7, 1, 2]
    assert len(_ids(datalist["training"])) == 14  # both frames of each training patient
    assert not (patients["training"] & patients["testing"])


def test_synapse_raw_release_keeps_the_8_organs_and_transunets_split(tmp_path):
    raw = tmp_path / "src" / "RawData" / "Training"
    for number in ("0001", "0005", "0008", "0040"):
        _nifti(raw / "img" / f"img{number}.nii.gz", np.random.rand(4, 4, 3) * 1000, affine=np.diag([0.7, 0.7, 3, 1]))
        _nifti(raw / "label" / f"label{number}.nii.gz", np.arange(14).repeat(4)[:48].reshape(4, 4, 3), np.uint8)
    dst = tmp_path / "out"
    datalist = _datalist(Path(PREPARERS["synapse"](str(tmp_path / "src"), str(dst))).parent)
    assert _ids(datalist["training"]) == ["case0005", "case0040"]
    assert _ids(datalist["testing"]) == _ids(datalist["validation"]) == ["case0001", "case0008"]
    label = np.asanyarray(nib.load(str(dst / "labelsTr" / "case0005.nii.gz")).dataobj)
    original = np.arange(14).repeat(4)[:48].reshape(4, 4, 3)
    assert (label[original == 8] == 1).all() and (label[original == 1] == 7).all()  # aorta 1, spleen 7
    assert (label[np.isin(original, [5, 9, 10, 12, 13])] == 0).all()  # organs outside the protocol
    assert nib.load(str(dst / "imagesTr" / "case0005.nii.gz")).header.get_zooms() == (0.7, 0.7, 3.0)


def test_synapse_transunet_slices_are_stacked_into_volumes(tmp_path):
    for index in range(3):
        path = tmp_path / "data" / "Synapse" / "train_npz" / f"case0005_slice{index:03d}.npz"
        path.parent.mkdir(parents=True, exist_ok=True)
        np.savez(path, image=np.full((6, 5), index, np.float32), label=np.full((6, 5), index % 2, np.uint8))
    dst = tmp_path / "out"
    datalist = _datalist(Path(PREPARERS["synapse"](str(tmp_path / "data"), str(dst))).parent)
    assert _ids(datalist["training"]) == ["case0005"]
    image = np.asanyarray(nib.load(str(dst / "imagesTr" / "case0005.nii.gz")).dataobj)
    assert image.shape == (5, 6, 3) and image[..., 2].max() == 2  # slice order kept along z


def test_synapse_transunet_h5_test_volumes(tmp_path):
    h5py = pytest.importorskip("h5py")  # optional: only TransUNet's test volumes need it
    path = tmp_path / "data" / "test_vol_h5" / "case0001.npy.h5"
    path.parent.mkdir(parents=True)
    volume = np.arange(3 * 6 * 5, dtype=np.float32).reshape(3, 6, 5)  # (D, H, W) as TransUNet stores it
    with h5py.File(path, "w") as f:
        f["image"], f["label"] = volume, (volume % 9).astype(np.uint8)
    dst = tmp_path / "out"
    datalist = _datalist(Path(PREPARERS["synapse"](str(tmp_path / "data"), str(dst))).parent)
    assert _ids(datalist["testing"]) == ["case0001"]
    image = np.asanyarray(nib.load(str(dst / "imagesTr" / "case0001.nii.gz")).dataobj)
    assert image.shape == (5, 6, 3) and image[4, 5, 2] == volume[2, 5, 4]  # the npz slices' orientation


def test_lits_split_7_1_2(tmp_path):
    for n in range(10):
        _nifti(tmp_path / "LiTS" / f"volume-{n}.nii", np.random.rand(4, 4, 2))
        _nifti(tmp_path / "LiTS" / f"segmentation-{n}.nii", np.random.randint(0, 3, (4, 4, 2)), np.uint8)
    datalist = _datalist(Path(PREPARERS["lits"](str(tmp_path / "LiTS"), str(tmp_path / "out"), seed=3)).parent)
    assert [len(datalist[k]) for k in ("training", "validation", "testing")] == [7, 1, 2]
    assert datalist["labels"] == ["background", "liver", "tumour"]


def _png(path: Path, array):
    path.parent.mkdir(parents=True, exist_ok=True)
    itk.imwrite(itk.image_from_array(np.asarray(array, np.uint8)), str(path))


def test_chest_xray_merges_montgomery_lungs_and_reads_shenzhen_masks(tmp_path):
    left, right = np.zeros((8, 10)), np.zeros((8, 10))
    left[2:6, 1:4], right[2:6, 6:9] = 255, 255
    for i in range(5):
        _png(
            tmp_path / "src" / "MontgomerySet" / "CXR_png" / f"MCUCXR_000{i}_0.png", np.random.randint(0, 255, (8, 10))
        )
        _png(tmp_path / "src" / "MontgomerySet" / "ManualMask" / "leftMask" / f"MCUCXR_000{i}_0.png", left)
        _png(tmp_path / "src" / "MontgomerySet" / "ManualMask" / "rightMask" / f"MCUCXR_000{i}_0.png", right)
        _png(tmp_path / "src" / "ChinaSet" / "CXR_png" / f"CHNCXR_000{i}_1.png", np.random.randint(0, 255, (8, 10)))
        _png(tmp_path / "src" / "masks" / f"CHNCXR_000{i}_1_mask.png", left)
    _png(tmp_path / "src" / "ChinaSet" / "CXR_png" / "CHNCXR_0009_0.png", np.zeros((8, 10)))  # no mask: skipped
    dst = tmp_path / "out"
    datalist = _datalist(Path(PREPARERS["chest_xray"](str(tmp_path / "src"), str(dst))).parent)
    assert sum(len(datalist[k]) for k in ("training", "validation", "testing")) == 10
    mask = np.asanyarray(nib.load(str(dst / "labelsTr" / "MCUCXR_0000_0.nii.gz")).dataobj)
    assert mask.sum() == 24 and set(np.unique(mask)) == {0, 1}  # both lungs, 12 pixels each


def test_amos_selects_mri_cases_and_tests_on_the_validation_release(tmp_path):
    for folder, numbers in (("Tr", [1, 500, 501, 502, 503, 504, 505, 506, 507, 508, 509]), ("Va", [510, 511, 2])):
        for n in numbers:
            _nifti(tmp_path / "amos22" / f"images{folder}" / f"amos_{n:04d}.nii.gz", np.random.rand(4, 4, 2))
            _nifti(tmp_path / "amos22" / f"labels{folder}" / f"amos_{n:04d}.nii.gz", np.zeros((4, 4, 2)), np.uint8)
    datalist = _datalist(Path(PREPARERS["amos"](str(tmp_path / "amos22"), str(tmp_path / "out"))).parent)
    assert _ids(datalist["testing"]) == ["amos_0510", "amos_0511"]
    assert len(datalist["training"]) == 9 and len(datalist["validation"]) == 1
    assert "amos_0001" not in _ids(datalist["training"] + datalist["validation"])  # a CT case


def test_brats_sequences_are_stacked_channels_last(tmp_path):
    for case in ("BraTS2021_00000", "BraTS2021_00002"):
        for c, name in enumerate(("t1", "t1ce", "t2", "flair")):
            _nifti(tmp_path / "src" / case / f"{case}_{name}.nii.gz", np.full((4, 4, 3), c))
        _nifti(tmp_path / "src" / case / f"{case}_seg.nii.gz", np.random.choice([0, 1, 2, 4], (4, 4, 3)), np.uint8)
    dst = tmp_path / "out"
    PREPARERS["brats"](str(tmp_path / "src"), str(dst))
    image = np.asanyarray(nib.load(str(dst / "imagesTr" / "BraTS2021_00000.nii.gz")).dataobj)
    assert image.shape == (4, 4, 3, 4) and [image[..., c].max() for c in range(4)] == [0, 1, 2, 3]


def test_flare22_and_msd_and_the_command_line(tmp_path):
    for n in range(1, 5):
        _nifti(tmp_path / "FLARE22" / "images" / f"FLARE22_Tr_{n:04d}_0000.nii.gz", np.random.rand(4, 4, 2))
        _nifti(tmp_path / "FLARE22" / "labels" / f"FLARE22_Tr_{n:04d}.nii.gz", np.zeros((4, 4, 2)), np.uint8)
    datalist = _datalist(Path(PREPARERS["flare22"](str(tmp_path / "FLARE22"), str(tmp_path / "flare"))).parent)
    assert _ids(sum((datalist[k] for k in ("training", "validation", "testing")), [])) == [
        f"FLARE22_Tr_{n:04d}" for n in range(1, 5)
    ]

    task = tmp_path / "Task03_Liver"
    entries = []
    for n in range(5):
        _nifti(task / "imagesTr" / f"liver_{n}.nii.gz", np.random.rand(4, 4, 2))
        _nifti(task / "labelsTr" / f"liver_{n}.nii.gz", np.zeros((4, 4, 2)), np.uint8)
        entries.append({"image": f"./imagesTr/liver_{n}.nii.gz", "label": f"./labelsTr/liver_{n}.nii.gz"})
    (task / "dataset.json").write_text(
        json.dumps({"name": "Liver", "labels": {"0": "background", "1": "liver", "2": "cancer"}, "training": entries})
    )
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "monai_mamba.data",
            "prepare",
            "msd",
            "--src",
            str(task),
            "--dst",
            str(tmp_path / "msd"),
        ],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    datalist = _datalist(tmp_path / "msd")
    assert datalist["labels"] == ["background", "liver", "cancer"] and len(datalist["training"]) == 4


def test_missing_source_names_what_was_expected(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError, match="no ACDC ground truths"):
        PREPARERS["acdc"](str(tmp_path / "empty"), str(tmp_path / "out"))


@pytest.mark.parametrize("where", ["same", "inside"])
def test_prepare_refuses_a_destination_in_the_source_and_loses_nothing(where, tmp_path):
    task = tmp_path / "Task03_Liver"
    entries = []
    for n in range(3):
        _nifti(task / "imagesTr" / f"liver_{n}.nii.gz", np.random.rand(4, 4, 2))
        _nifti(task / "labelsTr" / f"liver_{n}.nii.gz", np.zeros((4, 4, 2)), np.uint8)
        entries.append({"image": f"./imagesTr/liver_{n}.nii.gz", "label": f"./labelsTr/liver_{n}.nii.gz"})
    (task / "dataset.json").write_text(json.dumps({"name": "Liver", "training": entries}))
    before = {p: p.read_bytes() for p in task.rglob("*") if p.is_file()}
    dst = task if where == "same" else task / "prepared"
    result = subprocess.run(
        [sys.executable, "-m", "monai_mamba.data", "prepare", "msd", "--src", str(task), "--dst", str(dst)],
        capture_output=True,
        text=True,
    )
    assert result.returncode != 0
    assert f"--dst {dst} is" in result.stderr and "Give a --dst outside --src" in result.stderr
    assert {p: p.read_bytes() for p in task.rglob("*") if p.is_file()} == before  # every source file intact


def test_preparing_twice_into_the_same_destination_keeps_the_source(tmp_path):
    task = tmp_path / "Task03_Liver"
    entries = []
    for n in range(3):
        _nifti(task / "imagesTr" / f"liver_{n}.nii.gz", np.random.rand(4, 4, 2))
        _nifti(task / "labelsTr" / f"liver_{n}.nii.gz", np.zeros((4, 4, 2)), np.uint8)
        entries.append({"image": f"./imagesTr/liver_{n}.nii.gz", "label": f"./labelsTr/liver_{n}.nii.gz"})
    (task / "dataset.json").write_text(json.dumps({"name": "Liver", "training": entries}))
    before = {p: p.read_bytes() for p in task.rglob("*") if p.is_file()}
    for _ in range(2):  # the second run finds hard links of the sources in place
        PREPARERS["msd"](str(task), str(tmp_path / "out"))
    assert {p: p.read_bytes() for p in task.rglob("*") if p.is_file()} == before
    assert len(list((tmp_path / "out" / "imagesTr").glob("*.nii.gz"))) == 3

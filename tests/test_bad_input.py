# Copyright (c) monai-mamba contributors. Licensed under the Apache License, Version 2.0.
"""Bad input gets a clear answer: one row per case, each asserting the error type and that the message names
the problem and the fix. The data check runs once, before training (``check_training_setup`` in ``initialize``)."""

from __future__ import annotations

import nibabel as nib
import numpy as np
import pytest
import torch
from bundle_helpers import run_bundle
from monai.data import load_decathlon_datalist
from monai.transforms import LoadImaged

from monai_mamba.data import DataCheckError, check_datalist, check_settings, load_datalist, make_demo_dataset
from monai_mamba.nets import LightMUNet, MambaUNet


def _dataset(tmp_path, spatial_dims=2):
    root = make_demo_dataset(
        tmp_path / f"data{spatial_dims}d",
        spatial_dims=spatial_dims,
        num_classes=2,
        size=16,
        num_training=2,
        num_validation=1,
        num_testing=0,
    )
    return load_decathlon_datalist(f"{root}/datalist.json", data_list_key="training", base_dir=root)


def _train_lightm_unet_on_the_2d_dataset(tmp_path, **overrides):
    """One epoch of the lightm_unet bundle on ``_dataset(tmp_path)``."""
    run_bundle(
        "lightm_unet",
        ["train.yaml"],
        bundle_root=str(tmp_path / "bundle"),
        dataset_dir=str(tmp_path / "data2d"),
        patch_size=[16, 16],
        max_epochs=1,
        **overrides,
    )


def _rewrite(path, change_data=lambda d: d, change_affine=lambda a: a, dtype=None):
    image = nib.load(path)
    data = change_data(np.asanyarray(image.dataobj).astype(np.float64))
    nib.save(nib.Nifti1Image(data.astype(dtype or image.get_data_dtype()), change_affine(image.affine)), path)


def _set_nan(d):
    d[3, 3] = np.nan
    return d


def _set_inf(d):
    d[0, 0] = np.inf
    return d


def _shift(a):
    a = a.copy()
    a[0, 3] += 5.0
    return a


def _truncate(path):
    with open(path, "r+b") as f:
        f.truncate(len(f.read()) // 2)


CHECK_CASES = {
    # id: (dims, change(datalist), check kwargs, message regex naming the problem ... and the fix)
    "wrong-channel-count": (2, None, dict(in_channels=3), r"1 channel\(s\), the network takes 3; convert the images"),
    "2d-data-to-3d-recipe": (2, None, dict(spatial_dims=3), r"2-D image .* this recipe is 3-D; use the bundle's 2-D"),
    "3d-data-to-2d-recipe": (3, None, dict(spatial_dims=2), r"3-D image .* this recipe is 2-D; use the bundle's 3-D"),
    "nan-in-image": (
        2,
        lambda dl: _rewrite(dl[0]["image"], _set_nan, dtype=np.float32),
        {},
        r"1 NaN/Inf voxel\(s\); fix or drop this image",
    ),
    "inf-in-image": (
        2,
        lambda dl: _rewrite(dl[1]["image"], _set_inf, dtype=np.float32),
        {},
        r"training\[1\].*NaN/Inf voxel",
    ),
    "label-out-of-range": (
        2,
        lambda dl: _rewrite(dl[0]["label"], lambda d: d * 255),
        {},
        r"values \[0, 255\] outside \[0, 2\); map them to class indices 0..1 \(e.g. 255 -> 1",
    ),
    "label-not-integer": (
        2,
        lambda dl: _rewrite(dl[0]["label"], lambda d: d * 0.5, dtype=np.float32),
        {},
        r"non-integer values; labels hold class indices",
    ),
    "image-label-shape-mismatch": (
        2,
        lambda dl: _rewrite(dl[0]["label"], lambda d: d[:12]),
        {},
        r"shape \(12, 16\) differs from its image's \(16, 16\); .*resample the label to the image",
    ),
    "image-label-affine-mismatch": (
        2,
        lambda dl: _rewrite(dl[0]["label"], change_affine=_shift),
        {},
        r"affine differs from its image's .* resample the label onto the image grid",
    ),
    "missing-file": (
        2,
        lambda dl: __import__("os").remove(dl[1]["image"]),
        {},
        r"training\[1\] .*: file not found; fix the path in the datalist",
    ),
    "corrupt-nifti": (
        2,
        lambda dl: _truncate(dl[0]["label"]),
        {},
        r"cannot be read as an image .* corrupt or truncated.*re-export",
    ),
    "training-case-without-label": (
        2,
        lambda dl: dl[1].pop("label"),
        {},
        r"training\[1\] .*: no 'label' entry; every training case needs a label file",
    ),
    "dicom-series-folder": (
        2,
        lambda dl: dl[0].update(image=str(_dicom_folder(dl[0]["image"]))),
        {},
        r"is a folder, not an image file \(a DICOM series\?\); convert it to one NIfTI file",
    ),
    "2d-slice-stored-as-hw1": (
        2,
        lambda dl: _rewrite(dl[0]["image"], lambda d: d[..., None]),
        {},
        r"a 2-D image stored with a third axis of size 1 \(shape \(16, 16, 1\)\); it is 2-D "
        r"data, so keep this 2-D recipe",
    ),
}


def _dicom_folder(image_path):
    folder = __import__("pathlib").Path(image_path).parent / "series"
    folder.mkdir()
    (folder / "IM0001.dcm").write_bytes(b"\0" * 200)
    return folder


@pytest.mark.parametrize("case", list(CHECK_CASES))
def test_data_check_names_problem_and_fix(case, tmp_path):
    dims, change, kwargs, message = CHECK_CASES[case]
    datalist = _dataset(tmp_path, dims)
    if change:
        change(datalist)
    args = dict(spatial_dims=dims, in_channels=1, num_classes=2) | kwargs
    with pytest.raises(DataCheckError, match=message):
        check_datalist(datalist, **args)


@pytest.mark.parametrize(
    "settings, message",
    [
        (dict(max_epochs=-1), r"max_epochs=-1: must be a positive integer"),
        (dict(batch_size="8"), r"batch_size='8': must be a positive integer"),
        (dict(learning_rate=0.0), r"learning_rate=0.0: must be a positive number"),
        (
            dict(patch_size=[30, 32], size_multiple=8),
            r"patch_size=\[30, 32\]: every entry must be divisible by 8 .* e.g. \[24, 32\]",
        ),
        (
            dict(num_classes=1),
            r"num_classes=1: the classes include the background, so a binary task .* has num_classes 2",
        ),
    ],
    ids=["negative-epochs", "batch-size-string", "zero-learning-rate", "patch-not-divisible", "one-class"],
)
def test_bad_settings_are_named(settings, message):
    with pytest.raises(DataCheckError, match=message):
        check_settings(**settings)


def test_empty_datalist_is_refused():
    with pytest.raises(DataCheckError, match=r"training datalist is empty; add cases to datalist.json"):
        check_datalist([], spatial_dims=2, in_channels=1, num_classes=2)


def test_every_problem_is_listed_at_once(tmp_path):
    datalist = _dataset(tmp_path)
    _rewrite(datalist[0]["image"], _set_nan, dtype=np.float32)
    _rewrite(datalist[1]["label"], lambda d: d * 255)
    with pytest.raises(DataCheckError, match=r"(?s)2 problem\(s\) in the training data:.*NaN.*outside"):
        check_datalist(datalist, spatial_dims=2, in_channels=1, num_classes=2)


@pytest.mark.parametrize("dtype", [np.int16, np.uint8, np.float16, np.float64])
def test_image_dtypes_are_converted_not_refused(dtype, tmp_path):
    datalist = _dataset(tmp_path)
    for case in datalist:
        if dtype == np.float16:  # NIfTI cannot hold float16: a NumPy file can
            data = (np.asanyarray(nib.load(case["image"]).dataobj) * 100).astype(np.float16)
            case["image"] = case["image"].replace(".nii.gz", ".npy")
            np.save(case["image"], data)
        else:
            _rewrite(case["image"], lambda d: d * 100, dtype=dtype)
    assert check_datalist(datalist, spatial_dims=2, in_channels=1, num_classes=2) == []
    loaded = LoadImaged(keys=["image", "label"], image_only=True)(datalist[0])
    assert loaded["image"].dtype == torch.float32


def test_all_background_label_is_a_warning_and_training_proceeds(tmp_path):
    datalist = _dataset(tmp_path)
    _rewrite(datalist[0]["label"], lambda d: d * 0)
    warnings = check_datalist(datalist, spatial_dims=2, in_channels=1, num_classes=2)
    assert len(warnings) == 1 and "background only" in warnings[0]


@pytest.mark.parametrize(
    "network, shape, message",
    [
        (lambda: LightMUNet(2, 1, 2, init_filters=8), (1, 3, 32, 32), r"in_channels=1.*check the image channels"),
        (lambda: LightMUNet(2, 1, 2, init_filters=8), (1, 1, 30, 32), r"divisible by 8, got \(30, 32\); pad or crop"),
        (lambda: MambaUNet(in_channels=1, feature_size=8), (1, 1, 64, 48), r"divisible by 32, got \(64, 48\); resize"),
        (
            lambda: MambaUNet(in_channels=1, feature_size=8),
            (1, 1, 32, 32, 32),
            r"spatial_dims=2.*whether the data is 2-D",
        ),
    ],
    ids=["lightm-wrong-channels", "lightm-size", "mamba-unet-size", "mamba-unet-3d-input"],
)
def test_networks_refuse_what_they_cannot_take(network, shape, message):
    with pytest.raises(ValueError, match=message):
        network()(torch.zeros(shape))


def test_bundle_stops_before_training_on_bad_data(tmp_path):
    datalist = _dataset(tmp_path)
    _rewrite(datalist[0]["image"], _set_nan, dtype=np.float32)
    with pytest.raises(RuntimeError) as info:  # MONAI wraps what a config expression raises
        _train_lightm_unet_on_the_2d_dataset(tmp_path)
    assert isinstance(info.value.__cause__, DataCheckError) and "NaN/Inf voxel" in str(info.value.__cause__)
    assert not (tmp_path / "bundle" / "models").exists()  # nothing was trained


@pytest.mark.parametrize(
    "content, message",
    [
        (None, r"datalist.json not found: the folder given with --dataset_dir .* must hold a datalist.json"),
        ("", r"datalist.json is empty; fix the file"),
        ('{"training": [{"image": "a.nii.gz",}]}', r"datalist.json is not valid JSON: .* at line 1, column 36"),
        ('{"train": []}', r"datalist.json has no 'training' list \(it has \['train'\]\); add the training cases"),
    ],
    ids=["missing", "empty", "invalid-json", "no-training-split"],
)
def test_datalist_problems_name_the_file_and_the_position(content, message, tmp_path):
    if content is not None:
        (tmp_path / "datalist.json").write_text(content)
    with pytest.raises(DataCheckError, match=message):
        load_datalist(str(tmp_path / "datalist.json"), "training")


def test_bundle_with_one_class_says_binary_needs_two(tmp_path):
    _dataset(tmp_path)
    with pytest.raises(RuntimeError) as info:
        _train_lightm_unet_on_the_2d_dataset(tmp_path, num_classes=1)
    assert "num_classes=1: the classes include the background" in str(info.value.__cause__)


def test_a_pickle_payload_in_a_numpy_file_is_never_run_by_the_data_check(tmp_path):
    """A .npy holding a pickled object that would write a file when unpickled: refused as unreadable, never run."""
    marker = tmp_path / "pwned"

    class Payload:
        def __reduce__(self):
            return (open, (str(marker), "w"))

    datalist = _dataset(tmp_path)
    datalist[0]["image"] = str(tmp_path / "evil.npy")
    np.save(datalist[0]["image"], np.array([Payload()], dtype=object), allow_pickle=True)
    with pytest.raises(DataCheckError, match=r"evil.npy: cannot be read as an image"):
        check_datalist(datalist, spatial_dims=2, in_channels=1, num_classes=2)
    assert not marker.exists()


def test_the_dependency_floors_are_the_versions_safe_by_default():
    """torch >= 2.6 loads with weights_only=True by default (MONAI Label's model loading); monai >= 1.6 reads NumPy
    files with allow_pickle=False (a datalist's .npy). See the README's security note."""
    import configparser

    config = configparser.ConfigParser()
    config.read(__import__("pathlib").Path(__file__).resolve().parents[1] / "setup.cfg")
    requirements = config["options"]["install_requires"].split()
    assert "torch>=2.6" in requirements and "monai>=1.6" in requirements

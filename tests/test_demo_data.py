# Copyright (c) monai-mamba contributors. Licensed under the Apache License, Version 2.0.
import json

import nibabel as nib
import numpy as np
import pytest

from monai_mamba.data import make_demo_dataset


@pytest.mark.parametrize("spatial_dims, num_classes", [(2, 2), (3, 3)])
def test_writes_images_labels_and_a_datalist(tmp_path, spatial_dims, num_classes):
    root = make_demo_dataset(
        tmp_path, spatial_dims, num_classes, size=16, num_training=3, num_validation=2, num_testing=1
    )
    datalist = json.loads((tmp_path / "datalist.json").read_text())
    assert [len(datalist[k]) for k in ("training", "validation", "testing")] == [3, 2, 1]
    assert "label" not in datalist["testing"][0]
    labels = np.concatenate([nib.load(f"{root}/{e['label']}").get_fdata().ravel() for e in datalist["training"]])
    assert set(np.unique(labels)) == set(range(num_classes))  # every class present, nothing out of range
    image = nib.load(f"{root}/{datalist['training'][0]['image']}").get_fdata()
    assert image.shape == (16,) * spatial_dims


def test_reuses_what_is_already_there(tmp_path):
    make_demo_dataset(tmp_path, size=16, num_training=1, num_validation=1, num_testing=1)
    first = (tmp_path / "datalist.json").stat().st_mtime_ns
    make_demo_dataset(tmp_path, size=16, num_training=1, num_validation=1, num_testing=1)
    assert (tmp_path / "datalist.json").stat().st_mtime_ns == first


def test_multi_channel_demo_images_are_4d_niftis_with_channels_last(tmp_path):
    import torch
    from monai.transforms import EnsureChannelFirst, LoadImage

    root = make_demo_dataset(
        tmp_path / "d",
        spatial_dims=3,
        num_classes=4,
        size=16,
        num_channels=4,
        num_training=1,
        num_validation=0,
        num_testing=0,
    )
    path = f"{root}/imagesTr/case_000.nii.gz"
    assert nib.load(path).shape == (16, 16, 16, 4)
    image = EnsureChannelFirst()(LoadImage(image_only=True)(path))
    assert image.shape == (4, 16, 16, 16)
    assert not torch.equal(image[0], image[1])  # each channel its own contrast and noise

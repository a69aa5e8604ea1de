# Copyright (c) monai-mamba contributors. Licensed under the Apache License, Version 2.0.
"""MetaSafeSpacingd: what MONAI's Spacingd does, with MONAI Label's string `image_path` in the data."""

from __future__ import annotations

import nibabel as nib
import numpy as np
import pytest
import torch
from monai.transforms import LoadImaged, Spacingd

from monai_mamba.data import MetaSafeSpacingd


def _data(tmp_path):
    path = tmp_path / "image.nii.gz"
    nib.save(
        nib.Nifti1Image(np.random.RandomState(0).rand(8, 8, 4).astype(np.float32), np.diag([1.0, 1.0, 2.0, 1.0])),
        str(path),
    )
    data = LoadImaged(keys="image", image_only=True, ensure_channel_first=True)({"image": str(path)})
    data["image_path"] = str(path)  # what MONAI Label adds
    return data


def test_resamples_like_spacingd_and_keeps_the_path(tmp_path):
    with pytest.raises(AttributeError):  # MONAI >= 1.6 updates every image_* entry
        Spacingd(keys="image", pixdim=(1.0, 1.0, 1.0))(_data(tmp_path))
    data = _data(tmp_path)
    spacing = MetaSafeSpacingd(keys="image", pixdim=(1.0, 1.0, 1.0))
    out = spacing(data)
    assert out["image"].shape == (1, 8, 8, 7) and out["image_path"] == data["image_path"]
    reference = _data(tmp_path)
    del reference["image_path"]
    torch.testing.assert_close(
        out["image"].as_tensor(), Spacingd(keys="image", pixdim=(1.0, 1.0, 1.0))(reference)["image"].as_tensor()
    )
    inverted = spacing.inverse(out)
    assert inverted["image"].shape == (1, 8, 8, 4)

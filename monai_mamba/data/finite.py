# Copyright (c) monai-mamba contributors. Licensed under the Apache License, Version 2.0.
"""Refuse images with NaN or infinite voxels before they reach a network."""

from __future__ import annotations

from collections.abc import Hashable, Mapping

import torch
from monai.config import KeysCollection
from monai.transforms import MapTransform

from monai_mamba.errors import ActionableError

__all__ = ["NonFiniteImageError", "RequireFinited"]


class NonFiniteImageError(ActionableError, ValueError):
    """An image holds NaN or infinite voxels."""


class RequireFinited(MapTransform):
    """Raise ``NonFiniteImageError`` naming the file when ``keys`` hold a NaN or infinite value.

    Put it right after loading in inference: one NaN voxel would otherwise turn the whole image NaN at intensity
    scaling and the written segmentation empty, without a warning. (Training data are checked before training by
    ``check_training_setup``.)

    Args:
        keys: the image keys.
        allow_missing_keys: skip keys that are absent.
    """

    def __init__(self, keys: KeysCollection, allow_missing_keys: bool = False) -> None:
        super().__init__(keys, allow_missing_keys)

    def __call__(self, data: Mapping[Hashable, torch.Tensor]) -> dict:
        d = dict(data)
        for key in self.key_iterator(d):
            image = torch.as_tensor(d[key])
            if not torch.isfinite(image).all():
                meta = getattr(d[key], "meta", {})
                name = meta.get("filename_or_obj", f"the '{key}' entry")
                count = int((~torch.isfinite(image)).sum())
                raise NonFiniteImageError(
                    f"{name}: {count} NaN/Inf voxel(s) of {image.numel()}; a segmentation of it would be empty or "
                    "wrong. Repair the file (e.g. numpy.nan_to_num, or re-export it) and run again."
                )
        return d

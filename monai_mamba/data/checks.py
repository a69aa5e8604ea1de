# Copyright (c) monai-mamba contributors. Licensed under the Apache License, Version 2.0.
"""Check a bundle's data and settings once, before training starts, so bad input gets a clear answer early.

Without it, a missing file stops the run after caching the rest of the data set, a label value of 255 fails deep
inside the one-hot encoding, a NaN in one image silently poisons the weights, and a 2-D image given to a 3-D
recipe fails inside a convolution. ``check_training_setup`` reads every case once and reports every problem it
finds, each with the case, the problem and the fix.
"""

from __future__ import annotations

import logging
import math
import os
from collections.abc import Mapping, Sequence

import numpy as np
import torch
from monai.transforms import LoadImage

from monai_mamba.errors import ActionableError

__all__ = ["DataCheckError", "check_datalist", "check_num_classes", "check_settings", "check_training_setup"]

logger = logging.getLogger(__name__)

_MAX_LISTED = 20


class DataCheckError(ActionableError, ValueError):
    """The data or the settings cannot be trained on; the message lists every problem found and its fix."""


def _load(path: str, loader: LoadImage) -> torch.Tensor:
    if os.path.isdir(path):
        raise DataCheckError(
            f"{path}: is a folder, not an image file (a DICOM series?); convert it to one NIfTI file "
            "first (e.g. dcm2niix, or monai.transforms.LoadImage + SaveImage) and list that file."
        )
    if not os.path.isfile(path):
        raise DataCheckError(
            f"{path}: file not found; fix the path in the datalist (relative paths are read "
            "from dataset_dir) or restore the file."
        )
    try:
        return loader(path)
    except Exception as error:  # unreadable: truncated, corrupt, or not an image format the readers know
        raise DataCheckError(
            f"{path}: cannot be read as an image ({type(error).__name__}: {error}); the file is "
            "corrupt or truncated, or not an image: re-export or re-download it."
        ) from None


def _check_case(
    case: Mapping,
    index: int,
    split: str,
    spatial_dims: int,
    in_channels: int,
    num_classes: int | None,
    loader: LoadImage,
    warnings: list[str],
    require_label: bool,
) -> list[str]:
    where = f"{split}[{index}]"
    if "image" not in case:
        return [f"{where}: no 'image' entry; each datalist entry needs 'image' (and 'label' for training)."]
    if require_label and "label" not in case:
        return [
            f"{where} {case['image']}: no 'label' entry; every {split} case needs a label file (move unlabelled "
            "cases to 'testing')."
        ]
    problems = []
    try:
        image = _load(str(case["image"]), loader)
    except DataCheckError as error:
        return [f"{where} {error}"]
    name = f"{where} {case['image']}"
    if spatial_dims == 2 and image.dim() == 4 and image.shape[-1] == 1:
        problems.append(
            f"{name}: a 2-D image stored with a third axis of size 1 (shape {tuple(image.shape[1:])}); it is "
            "2-D data, so keep this 2-D recipe and save the image (and its label) without that axis, e.g. "
            "nibabel.save(nibabel.Nifti1Image(data[..., 0], affine), path)."
        )
    elif image.dim() - 1 != spatial_dims:
        problems.append(
            f"{name}: {image.dim() - 1}-D image of shape {tuple(image.shape[1:])}, but this recipe is "
            f"{spatial_dims}-D; use the bundle's {image.dim() - 1}-D configuration or convert the data."
        )
    if image.shape[0] != in_channels:
        problems.append(
            f"{name}: {image.shape[0]} channel(s), the network takes {in_channels}; convert the images "
            f"or set in_channels (and the matching network) to {image.shape[0]}."
        )
    if not torch.isfinite(image).all():
        count = int((~torch.isfinite(image)).sum())
        problems.append(
            f"{name}: {count} NaN/Inf voxel(s); fix or drop this image (e.g. numpy.nan_to_num) - "
            "training would turn every weight into NaN."
        )
    if "label" not in case:
        return problems
    try:
        label = _load(str(case["label"]), loader)
    except DataCheckError as error:
        return problems + [f"{where} {error}"]
    lname = f"{where} {case['label']}"
    if label.shape[0] != 1:
        problems.append(f"{lname}: {label.shape[0]} channels; a label is one channel of class indices.")
    if tuple(label.shape[1:]) != tuple(image.shape[1:]):
        problems.append(
            f"{lname}: shape {tuple(label.shape[1:])} differs from its image's {tuple(image.shape[1:])}; "
            "image and label must be on the same grid (resample the label to the image)."
        )
    elif (
        hasattr(image, "affine")
        and hasattr(label, "affine")
        and not np.allclose(np.asarray(image.affine), np.asarray(label.affine), atol=1e-3)
    ):
        problems.append(
            f"{lname}: affine differs from its image's (another origin, spacing or orientation); "
            "resample the label onto the image grid or fix its header."
        )
    values = torch.unique(label)
    if not torch.isfinite(values).all() or not torch.equal(values, values.round()):
        problems.append(f"{lname}: non-integer values; labels hold class indices 0, 1, ... (not probabilities).")
    elif num_classes is not None and (values.min() < 0 or values.max() >= num_classes):
        problems.append(
            f"{lname}: values {values.long().tolist()[:10]} outside [0, {num_classes}); map them to "
            f"class indices 0..{num_classes - 1} (e.g. 255 -> 1 for binary masks) or set num_classes."
        )
    elif values.max() == 0:
        warnings.append(f"{lname}: background only (no foreground voxel); training proceeds.")
    return problems


def check_datalist(
    datalist: Sequence[Mapping],
    spatial_dims: int,
    in_channels: int,
    num_classes: int | None = None,
    split: str = "training",
    require_label: bool = True,
) -> list[str]:
    """Read every case of ``datalist`` once and check it; return the warnings, raise on problems.

    Checks: the list is not empty; every case has an image and (``require_label``) a label; every file exists and
    reads (a folder, e.g. a DICOM series, is named as such); images have ``spatial_dims`` spatial axes,
    ``in_channels`` channels and no NaN/Inf (any dtype: they are read as float32); labels are one channel of
    integer class indices in ``[0, num_classes)`` on the image's grid (shape and affine). A label with no
    foreground is a warning, not an error.

    Raises:
        DataCheckError: listing every problem found (at most 20), each with its case and fix.
    """
    if len(datalist) == 0:
        raise DataCheckError(
            f"the {split} datalist is empty; add cases to datalist.json under '{split}' "
            "(or leave dataset_dir empty to train on the generated demo data)."
        )
    loader = LoadImage(image_only=True, ensure_channel_first=True, dtype=np.float32)
    problems: list[str] = []
    warnings: list[str] = []
    for index, case in enumerate(datalist):
        problems += _check_case(
            case, index, split, spatial_dims, in_channels, num_classes, loader, warnings, require_label
        )
    for warning in warnings:
        logger.warning("data check: %s", warning)
    if problems:
        listed = "\n  - ".join(problems[:_MAX_LISTED])
        more = f"\n  ... and {len(problems) - _MAX_LISTED} more" if len(problems) > _MAX_LISTED else ""
        raise DataCheckError(f"{len(problems)} problem(s) in the {split} data:\n  - {listed}{more}")
    logger.info("data check: %d %s case(s) OK", len(datalist), split)
    return warnings


def check_settings(**settings) -> None:
    """Check training settings: ``num_classes`` is at least 2 (``check_num_classes``); every ``*epochs``,
    ``*iterations``, ``*interval``, ``*batch_size``, ``*per_epoch`` is a positive integer, ``learning_rate`` a
    positive finite number, and ``patch_size`` entries are positive integers divisible by ``size_multiple`` (the
    network's total stride) when given.

    Raises:
        DataCheckError: naming each bad setting and what it must be.
    """
    multiple = settings.pop("size_multiple", 1)
    problems = []
    for name, value in settings.items():
        if name == "num_classes":
            try:
                check_num_classes(value)
            except DataCheckError as error:
                problems.append(str(error))
        elif name.endswith(("epochs", "iterations", "interval", "batch_size", "per_volume", "per_image", "per_epoch")):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                problems.append(f"{name}={value!r}: must be a positive integer.")
        elif name == "learning_rate":
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not (0 < value < math.inf):
                problems.append(f"{name}={value!r}: must be a positive number.")
        elif name in ("patch_size", "image_size"):
            if not isinstance(value, Sequence) or not all(isinstance(s, int) and s > 0 for s in value):
                problems.append(f"{name}={value!r}: must be a list of positive integers.")
            elif any(s % multiple for s in value):
                problems.append(
                    f"{name}={list(value)}: every entry must be divisible by {multiple} (the network's "
                    f"total stride), e.g. {[max(multiple, s // multiple * multiple) for s in value]}."
                )
    if problems:
        raise DataCheckError("bad setting(s):\n  - " + "\n  - ".join(problems))


def check_num_classes(num_classes: int | None) -> None:
    """Raise ``DataCheckError`` unless ``num_classes`` counts the background and at least one class (None: any)."""
    if num_classes is not None and (
        isinstance(num_classes, bool) or not isinstance(num_classes, int) or num_classes < 2
    ):
        raise DataCheckError(
            f"num_classes={num_classes!r}: the classes include the background, so a binary task "
            "(background and one structure) has num_classes 2; set --num_classes 2 or more."
        )


def check_training_setup(
    datalists: Mapping[str, Sequence[Mapping]],
    spatial_dims: int,
    in_channels: int,
    num_classes: int | None,
    settings: Mapping | None = None,
) -> None:
    """The check a bundle runs in ``initialize``: ``check_num_classes``, ``check_settings(**settings)``, then
    ``check_datalist`` for each named split (e.g. ``{"training": ..., "validation": ...}``)."""
    check_num_classes(num_classes)
    check_settings(**dict(settings or {}))
    for split, datalist in datalists.items():
        check_datalist(datalist, spatial_dims, in_channels, num_classes, split)

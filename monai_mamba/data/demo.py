# Copyright (c) monai-mamba contributors. Licensed under the Apache License, Version 2.0.
"""Small generated demo data sets, so every bundle trains out of the box without downloads."""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from pathlib import Path

import nibabel as nib
import numpy as np
import torch
from monai.data.synthetic import create_test_image_2d, create_test_image_3d
from monai.utils import ensure_tuple_rep

from monai_mamba.data.instances import connected_components

__all__ = ["make_demo_dataset"]

logger = logging.getLogger(__name__)

_SPLITS = (("training", True), ("validation", True), ("testing", False))


def make_demo_dataset(
    output_dir: str | Path,
    spatial_dims: int = 2,
    num_classes: int = 2,
    size: int | Sequence[int] | None = None,
    num_training: int = 16,
    num_validation: int = 4,
    num_testing: int = 2,
    seed: int = 0,
    instance_labels: bool = False,
    num_channels: int = 1,
) -> str:
    """Write random blobs-on-noise images and their labels as NIfTI, plus a MONAI datalist, once.

    Images come from ``monai.data.synthetic.create_test_image_{2,3}d``: bright blobs whose classes are
    ``1 .. num_classes - 1`` on a noisy background ``0``. Files already present are reused, so every run of a
    bundle sees the same data.

    Args:
        output_dir: folder to write ``imagesTr/``, ``labelsTr/`` and ``datalist.json`` into.
        spatial_dims: 2 or 3.
        num_classes: classes including the background.
        size: side length of every image (default 64 in 2-D, 48 in 3-D), or one length per axis (e.g. 64, 64, 32
            for slices of a volume).
        num_training, num_validation, num_testing: cases per split (testing entries carry no label).
        seed: random seed.
        instance_labels: write instance masks (each blob its own id 1, 2, ...) instead of class labels.
        num_channels: image channels; more than one are written as the last axis of the NIfTI (as MSD/BraTS 4-D
            images), channel ``c`` being the blobs with contrast ``1 / (c + 1)`` plus its own noise.

    Returns:
        ``output_dir`` as a string; the datalist is ``output_dir/datalist.json`` with paths relative to it.
    """
    output_dir = Path(output_dir)
    datalist_path = output_dir / "datalist.json"
    if datalist_path.is_file():
        return str(output_dir)
    size = size or (64 if spatial_dims == 2 else 48)
    try:
        shape = ensure_tuple_rep(size, spatial_dims)
    except ValueError:
        raise ValueError(f"size {size} does not have {spatial_dims} entries.") from None
    rad_min = max(1, min(shape) // 12)
    rad_max = max(rad_min + 1, min(shape) // 5)
    rng = np.random.RandomState(seed)
    (output_dir / "imagesTr").mkdir(parents=True, exist_ok=True)
    (output_dir / "labelsTr").mkdir(parents=True, exist_ok=True)
    counts = dict(training=num_training, validation=num_validation, testing=num_testing)
    datalist: dict[str, list[dict[str, str]]] = {}
    index = 0
    for split, labelled in _SPLITS:
        datalist[split] = []
        for _ in range(counts[split]):
            make = create_test_image_2d if spatial_dims == 2 else create_test_image_3d
            image, label = make(
                *shape,
                num_objs=4 + rng.randint(4),
                rad_max=rad_max,
                rad_min=rad_min,
                noise_max=0.5,
                num_seg_classes=num_classes - 1,
                random_state=rng,
            )
            if instance_labels:
                label = connected_components(torch.from_numpy(label > 0)).numpy()
            if num_channels > 1:
                image = np.stack([image / (c + 1) + 0.1 * rng.rand(*shape) for c in range(num_channels)], axis=-1)
            image_name, label_name = f"imagesTr/case_{index:03d}.nii.gz", f"labelsTr/case_{index:03d}.nii.gz"
            nib.save(nib.Nifti1Image(image.astype(np.float32), np.eye(4)), str(output_dir / image_name))
            nib.save(nib.Nifti1Image(label.astype(np.uint16), np.eye(4)), str(output_dir / label_name))
            datalist[split].append({"image": image_name, "label": label_name} if labelled else {"image": image_name})
            index += 1
    datalist_path.write_text(json.dumps(datalist, indent=2))
    logger.info("wrote a %d-D demo data set of %d cases to %s", spatial_dims, index, output_dir)
    return str(output_dir)

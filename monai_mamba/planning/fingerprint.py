# Copyright (c) monai-mamba contributors. Licensed under the Apache License, Version 2.0.
"""A data set's fingerprint, as nnU-Net computes it before planning: spacing and shape of every case (after cropping
to the non-zero region), foreground intensity statistics per channel, class frequencies."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass

import numpy as np
import torch
from monai.transforms import EnsureChannelFirst, LoadImage
from monai.transforms.utils import generate_spatial_bounding_box

__all__ = ["DatasetFingerprint", "compute_fingerprint"]

logger = logging.getLogger(__name__)


@dataclass
class DatasetFingerprint:
    """What the planner needs to know about a data set (axes in the order MONAI loads them).

    Attributes:
        spacings: voxel spacing (mm) per case.
        shapes: voxel shape per case after cropping to the non-zero region.
        intensity: per channel, statistics of the foreground (label > 0) voxels: ``mean``, ``std``, ``median``,
            ``min``, ``max``, ``percentile_00_5``, ``percentile_99_5``.
        class_frequencies: fraction of the voxels of each class, over the data set.
    """

    spacings: list[list[float]]
    shapes: list[list[int]]
    intensity: list[dict[str, float]]
    class_frequencies: list[float]

    @property
    def median_spacing(self) -> list[float]:
        return np.median(np.array(self.spacings), 0).tolist()

    @property
    def median_shape(self) -> list[float]:
        return np.median(np.array(self.shapes), 0).tolist()

    def to_dict(self) -> dict:
        return {**asdict(self), "median_spacing": self.median_spacing, "median_shape": self.median_shape}


def compute_fingerprint(
    datalist: Sequence[Mapping],
    num_classes: int,
    image_key: str = "image",
    label_key: str = "label",
    samples_per_case: int = 10000,
    seed: int = 0,
) -> DatasetFingerprint:
    """Read every case of ``datalist`` (paths already absolute, e.g. from ``load_decathlon_datalist``) once.

    Args:
        datalist: cases with an image and a label.
        num_classes: labels are ``0 .. num_classes - 1``.
        samples_per_case: foreground voxels sampled per case and channel for the intensity statistics (nnU-Net:
            10,000).
        seed: of that sampling.
    """
    if not datalist:
        raise ValueError("compute_fingerprint: the datalist is empty.")
    load = LoadImage(image_only=True)
    channel_first = EnsureChannelFirst()
    rng = np.random.default_rng(seed)
    spacings, shapes, counts, samples = [], [], np.zeros(num_classes), None
    for case in datalist:
        image, label = channel_first(load(case[image_key])), channel_first(load(case[label_key]))
        dims = image.ndim - 1
        spacings.append([float(s) for s in image.pixdim[:dims]])
        start, end = generate_spatial_bounding_box(image, select_fn=lambda x: x != 0)  # nnU-Net crops to non-zero
        shapes.append([int(e - s) for s, e in zip(start, end)])
        labels = label[0].long()
        counts += torch.bincount(labels.flatten(), minlength=num_classes)[:num_classes].numpy()
        foreground = labels > 0
        if samples is None:
            samples = [[] for _ in range(image.shape[0])]
        for channel in range(image.shape[0]):
            values = image[channel][foreground].numpy()
            if values.size:
                samples[channel].append(rng.choice(values, min(samples_per_case, values.size), replace=False))
    intensity = []
    for channel_samples in samples:
        values = np.concatenate(channel_samples) if channel_samples else np.zeros(1)
        intensity.append(
            {
                "mean": float(values.mean()),
                "std": float(values.std()),
                "median": float(np.median(values)),
                "min": float(values.min()),
                "max": float(values.max()),
                "percentile_00_5": float(np.percentile(values, 0.5)),
                "percentile_99_5": float(np.percentile(values, 99.5)),
            }
        )
    logger.info(
        "fingerprint of %d cases: median spacing %s, median shape %s",
        len(datalist),
        np.median(np.array(spacings), 0).round(3).tolist(),
        np.median(np.array(shapes), 0).tolist(),
    )
    return DatasetFingerprint(spacings, shapes, intensity, (counts / counts.sum()).tolist())

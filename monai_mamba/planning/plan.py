# Copyright (c) monai-mamba contributors. Licensed under the Apache License, Version 2.0.
"""nnU-Net-style self-configuration of the networks that nnU-Net plans (MambaClinix, U-Mamba): target spacing, patch
size within a memory budget, number of stages, per-axis pooling and kernel sizes, stage widths, batch size (Isensee et
al., "nnU-Net", Nature Methods 2021; the rules of nnU-Net v2's ``ExperimentPlanner`` and ``get_pool_and_conv_props``).
The plan says nothing about any one network: each network derives its own layout from it (MambaClinix its
HGCN/Mamba split, U-Mamba Enc its channel-token stages)."""

from __future__ import annotations

import math

import numpy as np

from monai_mamba.planning.fingerprint import DatasetFingerprint

__all__ = ["feature_map_size", "plan_network", "pooling_and_kernels", "target_spacing"]

ANISOTROPY_THRESHOLD = 3.0
MIN_FEATURE_MAP_SIZE = 4  # no axis is pooled below 4 voxels (nnU-Net v2)
MIN_BATCH_SIZE = 2
MAX_DATASET_COVERED = 0.05  # one batch covers at most 5 % of the data set's voxels
REFERENCE_GPU_GB = 8.0


def target_spacing(spacings: np.ndarray | list, shapes: np.ndarray | list) -> list[float]:
    """The median spacing, except for strongly anisotropic data (the coarsest axis more than 3x coarser than the
    others *and* 3x fewer voxels along it), whose coarse axis takes the 10th percentile of its spacings (never finer
    than the other axes), so that few cases are upsampled along it."""
    spacings, shapes = np.asarray(spacings, float), np.asarray(shapes, float)
    target = np.median(spacings, 0)
    size = np.median(shapes, 0)
    worst = int(np.argmax(target))
    others = [i for i in range(len(target)) if i != worst]
    if not others:
        return target.tolist()
    if target[worst] > ANISOTROPY_THRESHOLD * max(target[others]) and size[worst] * ANISOTROPY_THRESHOLD < min(
        size[others]
    ):
        coarse = float(np.percentile(spacings[:, worst], 10))
        if coarse < max(target[others]):
            coarse = max(max(target[others]), coarse) + 1e-5
        target[worst] = coarse
    return target.tolist()


def pooling_and_kernels(spacing: list[float], patch_size: list[int], min_feature_map_size: int = MIN_FEATURE_MAP_SIZE):
    """Per-stage strides and kernel sizes for a patch: pool every axis whose spacing is within 2x of the finest and
    whose size stays >= ``min_feature_map_size`` (an axis pooled alone needs 3x that); kernels are 1 along axes more
    than 2x coarser than the finest (until pooling catches up), else 3; the bottleneck gets 3 everywhere.

    Returns:
        ``(strides, kernel_sizes, patch_size, divisible_by)``: per stage (the first stride is all ones), the patch
        padded up to a multiple of ``divisible_by`` (the product of the strides per axis).
    """
    dims = len(spacing)
    current_spacing, current_size = list(map(float, spacing)), list(map(float, patch_size))
    strides, kernels, kernel = [[1] * dims], [], [1] * dims
    while True:
        valid = [i for i in range(dims) if current_size[i] >= 2 * min_feature_map_size]
        if not valid:
            break
        finest = min(current_spacing[i] for i in valid)
        valid = [i for i in valid if current_spacing[i] / finest < 2]
        if len(valid) == 1 and current_size[valid[0]] < 3 * min_feature_map_size:
            break
        if not valid:
            break
        for d in range(dims):
            if kernel[d] != 3 and current_spacing[d] / min(current_spacing) < 2:
                kernel[d] = 3
        stride = [2 if d in valid else 1 for d in range(dims)]
        for d in valid:
            current_spacing[d] *= 2
            current_size[d] = math.ceil(current_size[d] / 2)
        strides.append(stride)
        kernels.append(list(kernel))
    kernels.append([3] * dims)
    divisible_by = [math.prod(s[d] for s in strides) for d in range(dims)]
    padded = [int(math.ceil(p / m) * m) for p, m in zip(patch_size, divisible_by)]
    return strides, kernels, padded, divisible_by


def feature_map_size(patch_size: list[int], strides: list[list[int]], features: list[int]) -> float:
    """Relative activation memory of one sample: sum over stages of width x voxels at that stage."""
    size, total = np.asarray(patch_size, float), 0.0
    for stride, width in zip(strides, features):
        size = size / np.asarray(stride)
        total += width * float(np.prod(size))
    return total


def _features(num_stages: int, base: int, maximum: int) -> list[int]:
    return [min(base * 2**s, maximum) for s in range(num_stages)]


def _reference_budget(dims: int, base: int, maximum: int) -> float:
    """The memory of nnU-Net's default 3-D plan for 1 mm isotropic data (128^3, 6 stages, batch 2), taken as the
    8 GB reference; 2-D: a 1024^2 patch (8 stages) at batch 12."""
    patch, batch = ([128] * 3, 2) if dims == 3 else ([1024] * 2, 12)
    strides, _, _, _ = pooling_and_kernels([1.0] * dims, patch)
    return batch * feature_map_size(patch, strides, _features(len(strides), base, maximum))


def plan_network(
    fingerprint: DatasetFingerprint,
    modalities: list[str] | str = "MR",
    gpu_memory_gb: float = REFERENCE_GPU_GB,
    base_features: int = 32,
    max_features: int | None = None,
) -> dict:
    """Derive a U-Net configuration from a data set's fingerprint, with nnU-Net v2's rules.

    Steps: target spacing (``target_spacing``); median shape at that spacing; initial patch of 256^3 voxels (2-D:
    2048^2) shaped like the spacing's inverse and clipped to the median shape; pooling and kernels
    (``pooling_and_kernels``); while the batch of ``MIN_BATCH_SIZE`` exceeds the memory budget, shrink the axis with
    the largest patch/median-shape ratio by one divisibility step; batch size from the remaining budget, at most 5 %
    of the data set's voxels, at least 2. Stages: one per stride.

    Args:
        fingerprint: from ``compute_fingerprint``.
        modalities: per channel (or one for all): ``"CT"`` gets nnU-Net's CT normalisation (clip to the foreground's
            0.5/99.5 percentiles, z-score with the foreground mean/std), anything else per-image z-score on non-zero
            voxels.
        gpu_memory_gb: the memory budget, relative to the 8 GB reference (see ``_reference_budget``).
        base_features: width of the first stage, doubled per stage up to ``max_features`` (320 in 3-D, 512 in 2-D).

    Returns:
        A JSON-serialisable plan (see the keys in the code and the bundle README).
    """
    spacing = target_spacing(fingerprint.spacings, fingerprint.shapes)
    dims = len(spacing)
    maximum = max_features or (320 if dims == 3 else 512)
    shapes_at_target = [
        np.asarray(shape) * np.asarray(s) / np.asarray(spacing)
        for shape, s in zip(fingerprint.shapes, fingerprint.spacings)
    ]
    median_shape = np.median(np.array(shapes_at_target), 0)
    inverse = 1 / np.asarray(spacing)
    voxels = 256**3 if dims == 3 else 2048**2
    initial = [round(float(i)) for i in inverse * (voxels / np.prod(inverse)) ** (1 / dims)]
    patch = [int(min(p, m)) for p, m in zip(initial, median_shape)]
    strides, kernels, patch, divisible = pooling_and_kernels(spacing, patch)
    budget = _reference_budget(dims, base_features, maximum) * gpu_memory_gb / REFERENCE_GPU_GB

    def estimate(strides_):
        return feature_map_size(patch, strides_, _features(len(strides_), base_features, maximum))

    while MIN_BATCH_SIZE * estimate(strides) > budget:
        axis = int(np.argmax(np.asarray(patch) / median_shape))
        trial = list(patch)
        trial[axis] -= divisible[axis]
        _, _, _, step = pooling_and_kernels(spacing, trial)
        if patch[axis] - step[axis] < 2 * MIN_FEATURE_MAP_SIZE:
            raise ValueError(f"no patch fits gpu_memory_gb={gpu_memory_gb}; give more memory.")
        patch[axis] -= step[axis]
        strides, kernels, patch, divisible = pooling_and_kernels(spacing, patch)

    batch = round(budget / estimate(strides))
    total_voxels = sum(float(np.prod(s)) for s in shapes_at_target)
    batch = max(min(batch, round(total_voxels * MAX_DATASET_COVERED / float(np.prod(patch)))), MIN_BATCH_SIZE)
    features = _features(len(strides), base_features, maximum)
    channels = len(fingerprint.intensity)
    modalities = [modalities] * channels if isinstance(modalities, str) else list(modalities)
    if len(modalities) != channels:
        raise ValueError(f"{len(modalities)} modalities given for {channels} image channel(s).")
    normalization = []
    for modality, stats in zip(modalities, fingerprint.intensity):
        if modality.upper() == "CT":
            normalization.append(
                {
                    "scheme": "CT",
                    "clip": [stats["percentile_00_5"], stats["percentile_99_5"]],
                    "mean": stats["mean"],
                    "std": stats["std"],
                }
            )
        else:
            normalization.append({"scheme": "zscore_nonzero"})
    return {
        "spatial_dims": dims,
        "spacing": [float(s) for s in spacing],
        "median_shape": [float(m) for m in median_shape],
        "patch_size": [int(p) for p in patch],
        "strides": strides,
        "kernel_sizes": kernels,
        "features": features,
        "batch_size": int(batch),
        "num_stages": len(strides),
        "normalization": normalization,
        "gpu_memory_gb": gpu_memory_gb,
        "fingerprint": fingerprint.to_dict(),
    }

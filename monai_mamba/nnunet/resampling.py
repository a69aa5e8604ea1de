# Copyright (c) monai-mamba contributors. Licensed under the Apache License, Version 2.0.
"""nnU-Net v2's resampling (``default_resampling.resample_data_or_seg_to_shape``) for images and logits, written on
``scipy.ndimage`` (Isensee et al., "nnU-Net", Nature Methods 2021).

nnU-Net resizes each channel with ``skimage.transform.resize(order, mode="edge", anti_aliasing=False)``, which is
``scipy.ndimage.zoom(grid_mode=True, mode="nearest")`` clipped to the input's range. When the voxels are anisotropic
(largest / smallest spacing > 3, in the current or the target spacing, with exactly one coarse axis) it resizes
slice by slice in the fine plane with ``order`` and along the coarse axis with ``order_z`` (nearest by default).
Tested equal to nnU-Net's function (``tests/test_nnunet_inference.py``).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy import ndimage

__all__ = ["ANISOTROPY_THRESHOLD", "compute_new_shape", "resample_to_shape", "separate_axis"]

ANISOTROPY_THRESHOLD = 3.0  # nnunetv2.configuration.ANISO_THRESHOLD


def compute_new_shape(shape: Sequence[int], spacing: Sequence[float], new_spacing: Sequence[float]) -> list[int]:
    """The shape of ``shape`` voxels of ``spacing`` resampled to ``new_spacing`` (rounded as nnU-Net does)."""
    return [int(round(s / n * k)) for s, n, k in zip(spacing, new_spacing, shape)]


def _coarse_axis(spacing: Sequence[float]) -> list[int]:
    spacing = np.asarray(spacing, dtype=float)
    return [int(a) for a in np.where(spacing.max() / spacing == 1)[0]]


def separate_axis(
    spacing: Sequence[float],
    new_spacing: Sequence[float],
    force_separate_z: bool | None = None,
    threshold: float = ANISOTROPY_THRESHOLD,
) -> int | None:
    """The axis nnU-Net resamples on its own (with ``order_z``), or None: the coarsest axis of the current spacing if
    it is anisotropic, else of the target spacing if that is; never when two or three axes share the coarsest
    spacing."""
    if force_separate_z is not None:
        axes = _coarse_axis(spacing) if force_separate_z else []
    elif max(spacing) / min(spacing) > threshold:
        axes = _coarse_axis(spacing)
    elif max(new_spacing) / min(new_spacing) > threshold:
        axes = _coarse_axis(new_spacing)
    else:
        axes = []
    return axes[0] if len(axes) == 1 else None


def _resize(image: np.ndarray, shape: Sequence[int], order: int) -> np.ndarray:
    """``skimage.transform.resize(image, shape, order, mode="edge", anti_aliasing=False)`` of a float64 array."""
    zoom = [n / s for s, n in zip(image.shape, shape)]
    out = ndimage.zoom(image, zoom, order=order, mode="nearest", grid_mode=True)
    if order > 0:  # skimage clips interpolated values to the input's range
        np.clip(out, image.min(), image.max(), out=out)
    return out


def resample_to_shape(
    data: np.ndarray,
    new_shape: Sequence[int],
    spacing: Sequence[float],
    new_spacing: Sequence[float],
    order: int = 3,
    order_z: int = 0,
    force_separate_z: bool | None = None,
    threshold: float = ANISOTROPY_THRESHOLD,
) -> np.ndarray:
    """Resample channel-first 3-D ``data`` to ``new_shape`` as nnU-Net v2 does for images (order 3) and logits
    (order 1).

    Args:
        data: ``(c, d0, d1, d2)``.
        new_shape: the 3 spatial sizes wanted.
        spacing: voxel size of ``data`` per spatial axis.
        new_spacing: voxel size of the result per axis (decides, with ``spacing``, the separately resampled axis).
        order: spline order in the fine plane (all axes when no axis is separate).
        order_z: spline order along the separate axis.
        force_separate_z: the plans' ``force_separate_z`` (None: decide from the spacings).
        threshold: anisotropy ratio above which an axis is separate.

    Returns:
        ``(c, *new_shape)`` of ``data``'s dtype (``data`` itself when the shape does not change).
    """
    if data.ndim != 4 or len(new_shape) != 3:
        raise ValueError(f"resample_to_shape needs (c, d0, d1, d2) data and 3 sizes, got {data.shape}, {new_shape}.")
    new_shape = [int(s) for s in new_shape]
    if list(data.shape[1:]) == new_shape:
        return data
    axis = separate_axis(spacing, new_spacing, force_separate_z, threshold)
    out = np.zeros((data.shape[0], *new_shape), dtype=data.dtype)
    for c, channel in enumerate(data.astype(float, copy=False)):
        if axis is None:
            out[c] = _resize(channel, new_shape, order)
            continue
        in_plane = [s for a, s in enumerate(new_shape) if a != axis]
        moved = np.moveaxis(channel, axis, 0)
        slices = np.stack([_resize(plane, in_plane, order) for plane in moved])
        if slices.shape[0] != new_shape[axis]:
            zoom = [new_shape[axis] / slices.shape[0], 1.0, 1.0]
            slices = ndimage.zoom(slices, zoom, order=order_z, mode="nearest", grid_mode=True)
        out[c] = np.moveaxis(slices, 0, axis)
    return out

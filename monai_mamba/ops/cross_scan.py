# Copyright (c) monai-mamba contributors. Licensed under the Apache License, Version 2.0.
"""Cross-scan and cross-merge: unfold a feature map into several 1-D scan orders and fold them back.

VMamba's SS2D scans a 2-D map in 4 directions: row-major, column-major, and both reversed. The same rule
for any number of spatial axes: for each cyclic rotation of the axes (so each axis is the fastest-varying
once) a raster order forward, then all of them reversed, ``2 * spatial_dims`` directions in all (4 in 2-D,
6 in 3-D). In 2-D this is exactly VMamba's order ``[hw, wh, hw reversed, wh reversed]``.
"""

from __future__ import annotations

import torch

__all__ = ["cross_scan", "cross_merge", "num_scan_directions"]


def _axis_orders(spatial_dims: int) -> list[tuple[int, ...]]:
    """Cyclic rotations of the spatial axes, e.g. 2-D: (0, 1), (1, 0); 3-D: (0, 1, 2), (2, 0, 1), (1, 2, 0)."""
    axes = tuple(range(spatial_dims))
    return [axes[-k:] + axes[:-k] if k else axes for k in range(spatial_dims)]


def num_scan_directions(spatial_dims: int) -> int:
    """Number of directions ``cross_scan`` produces for ``spatial_dims`` axes."""
    return 2 * spatial_dims


def cross_scan(x: torch.Tensor) -> torch.Tensor:
    """Unfold ``x (b, c, *spatial)`` into ``(b, 2 * spatial_dims, c, prod(spatial))`` scan sequences."""
    spatial_dims = x.dim() - 2
    forward = torch.stack(
        [x.permute(0, 1, *(2 + a for a in order)).flatten(2) for order in _axis_orders(spatial_dims)], dim=1
    )
    return torch.cat([forward, forward.flip(-1)], dim=1)


def cross_merge(y: torch.Tensor, spatial_shape: tuple[int, ...] | torch.Size) -> torch.Tensor:
    """Fold ``y (b, 2 * spatial_dims, c, L)`` back into raster order and sum the directions: ``(b, c, L)``.

    ``cross_merge(cross_scan(x), x.shape[2:])`` equals ``2 * spatial_dims * x.flatten(2)``.
    """
    spatial_dims = len(spatial_shape)
    if y.shape[1] != num_scan_directions(spatial_dims):
        raise ValueError(
            f"cross_merge: got {y.shape[1]} directions for a {spatial_dims}-D map, expected "
            f"{num_scan_directions(spatial_dims)} (the output of cross_scan)."
        )
    batch, channels = y.shape[0], y.shape[2]
    forward = y[:, :spatial_dims] + y[:, spatial_dims:].flip(-1)
    merged = None
    for k, order in enumerate(_axis_orders(spatial_dims)):
        unfolded = forward[:, k].reshape(batch, channels, *(spatial_shape[a] for a in order))
        inverse = [order.index(a) for a in range(spatial_dims)]
        raster = unfolded.permute(0, 1, *(2 + a for a in inverse)).flatten(2)
        merged = raster if merged is None else merged + raster
    return merged

# Copyright (c) monai-mamba contributors. Licensed under the Apache License, Version 2.0.
"""Surface distances of a data set that one empty prediction cannot make infinite, and the count of such cases.

MONAI's ``HausdorffDistanceMetric`` and ``SurfaceDistanceMetric`` give ``inf`` for a (case, class) pair where exactly
one of prediction and reference holds the class, and ``nan`` where neither does; their mean skips the ``nan`` but not
the ``inf``, so a single missed class in one validation case made the whole set's HD95 and ASD ``inf`` and hid every
other case. Here a distance is averaged over the pairs where both hold the class (MONAI's ``not_nans`` count with
``get_not_nans=True``), and ``MissedClassCount`` reports beside it how many pairs have the class in the reference and
not in the prediction: a missed structure shows in that count (and in the Dice), not as an ``inf`` distance.
"""

from __future__ import annotations

import torch
from monai.metrics import CumulativeIterationMetric, HausdorffDistanceMetric, SurfaceDistanceMetric
from monai.metrics.utils import do_metric_reduction, ignore_background
from monai.utils import MetricReduction

__all__ = ["HausdorffDistanceOfFoundClasses", "MissedClassCount", "SurfaceDistanceOfFoundClasses"]


class _OverPairsHoldingTheClass:
    """``aggregate`` of a surface metric over the (case, class) pairs where prediction and reference hold the class."""

    def aggregate(self, reduction: MetricReduction | str | None = None):
        data = self.get_buffer()
        if not isinstance(data, torch.Tensor):
            raise ValueError("the data to aggregate must be a PyTorch Tensor")
        data = torch.where(torch.isinf(data), torch.nan, data)  # one side empty: not a distance
        value, not_nans = do_metric_reduction(data, reduction or self.reduction)
        return (value, not_nans) if self.get_not_nans else value


class HausdorffDistanceOfFoundClasses(_OverPairsHoldingTheClass, HausdorffDistanceMetric):
    """MONAI's ``HausdorffDistanceMetric`` (same arguments), aggregated over the (case, class) pairs where both the
    prediction and the reference hold the class. Per-case values (``get_buffer``) keep MONAI's ``inf``/``nan``."""


class SurfaceDistanceOfFoundClasses(_OverPairsHoldingTheClass, SurfaceDistanceMetric):
    """MONAI's ``SurfaceDistanceMetric`` (same arguments; ASD with ``symmetric=True``), aggregated over the (case,
    class) pairs where both the prediction and the reference hold the class."""


class MissedClassCount(CumulativeIterationMetric):
    """How many (case, class) pairs hold the class in the reference ``y`` and not in the prediction ``y_pred``
    (one-hot ``(B, C, *spatial)``), summed over the data set: the pairs the distances above leave out.

    Args:
        include_background: count the first channel too.
    """

    def __init__(self, include_background: bool = False) -> None:
        super().__init__()
        self.include_background = include_background

    def _compute_tensor(self, y_pred: torch.Tensor, y: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        if not self.include_background:
            y_pred, y = ignore_background(y_pred=y_pred, y=y)
        spatial = tuple(range(2, y.ndim))
        return ((y.sum(spatial) > 0) & (y_pred.sum(spatial) == 0)).float()  # (B, C)

    def aggregate(self) -> torch.Tensor:
        return self.get_buffer().sum()

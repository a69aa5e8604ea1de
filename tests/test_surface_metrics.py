# Copyright (c) monai-mamba contributors. Licensed under the Apache License, Version 2.0.
"""One case whose prediction misses a class no longer makes a data set's HD95 and ASD infinite: the distances average
the (case, class) pairs where both sides hold the class, and the missed pairs are counted beside them."""

from __future__ import annotations

import pytest
import torch
from monai.metrics import HausdorffDistanceMetric, SurfaceDistanceMetric

from monai_mamba.metrics import HausdorffDistanceOfFoundClasses, MissedClassCount, SurfaceDistanceOfFoundClasses


def _one_hot(labels: torch.Tensor, classes: int = 3) -> torch.Tensor:
    return torch.nn.functional.one_hot(labels, classes).movedim(-1, 1).float()


def _cases():
    """Two 2-D cases, 3 classes. Case 0: both classes found, class 1 shifted by 2 px. Case 1: class 2 missed."""
    reference = torch.zeros(2, 16, 16, dtype=torch.long)
    reference[:, 2:6, 2:6], reference[:, 9:13, 9:13] = 1, 2
    prediction = reference.clone()
    prediction[0] = 0
    prediction[0, 4:8, 2:6], prediction[0, 9:13, 9:13] = 1, 2
    prediction[1, 9:13, 9:13] = 0  # class 2 missed in case 1
    return _one_hot(prediction), _one_hot(reference)


@pytest.mark.parametrize(
    "ours, monai_metric",
    [
        (HausdorffDistanceOfFoundClasses(include_background=False, percentile=95), HausdorffDistanceMetric),
        (SurfaceDistanceOfFoundClasses(include_background=False, symmetric=True), SurfaceDistanceMetric),
    ],
)
def test_distances_average_the_pairs_holding_the_class(ours, monai_metric):
    prediction, reference = _cases()
    kwargs = {"percentile": 95} if monai_metric is HausdorffDistanceMetric else {"symmetric": True}
    plain = monai_metric(include_background=False, **kwargs)
    plain(prediction, reference)
    per_pair = plain.get_buffer()
    # MONAI: the missed pair is nan for HD95 (silently left out of its mean) and inf for ASD (the mean becomes inf)
    assert not torch.isfinite(per_pair[1, 1])
    if monai_metric is SurfaceDistanceMetric:
        assert torch.isinf(plain.aggregate())
    for batch in zip(prediction.split(1), reference.split(1)):  # accumulated case by case, as in an evaluator
        ours(*batch)
    # MONAI's mean, as for the Dice: each case's mean over its classes, then over the cases; here over the 3 pairs
    # where both sides hold the class: case 0 both classes, case 1 class 1 alone
    expected = (per_pair[0].mean() + per_pair[1, 0]) / 2
    assert per_pair[0, 0] > 0 and torch.isclose(ours.aggregate(), expected).all()
    ours.get_not_nans = True
    value, counted = ours.aggregate()
    assert torch.isclose(value, expected).all() and counted.item() == 2  # cases with a distance


def test_missed_classes_are_counted():
    prediction, reference = _cases()
    missed = MissedClassCount()
    missed(prediction, reference)
    assert missed.get_buffer().tolist() == [[0.0, 0.0], [0.0, 1.0]] and missed.aggregate().item() == 1
    nothing_missed = MissedClassCount()
    nothing_missed(reference, reference)
    assert nothing_missed.aggregate().item() == 0

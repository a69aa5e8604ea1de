# Copyright (c) monai-mamba contributors. Licensed under the Apache License, Version 2.0.
"""Region-specific Tversky loss: perfect prediction, a direct computation, uneven grids, MONAI's Tversky as a limit,
the compound loss and nnU-Net's deep-supervision weights."""

from __future__ import annotations

import pytest
import torch
from monai.losses import DeepSupervisionLoss, DiceCELoss, TverskyLoss

from monai_mamba.losses import (
    DiceCERegionSpecificTverskyLoss,
    RegionSpecificTverskyLoss,
    nnunet_deep_supervision_weights,
)


def _labels(shape, classes=3, seed=0):
    torch.manual_seed(seed)
    return torch.randint(0, classes, shape)


def test_perfect_prediction_gives_zero_for_both_variants():
    label = _labels((2, 1, 6, 6, 6))
    probabilities = torch.nn.functional.one_hot(label[:, 0], 3).movedim(-1, 1).float()
    for adaptive in (True, False):
        for batch in (True, False):
            loss = RegionSpecificTverskyLoss((2, 2, 3), softmax=False, adaptive=adaptive, batch=batch)
            assert loss(probabilities, label).item() == pytest.approx(0.0, abs=1e-7)


def test_matches_a_direct_computation_on_a_tiny_example():
    torch.manual_seed(0)
    logits, label = torch.randn(2, 3, 4, 6), _labels((2, 1, 4, 6))
    loss = RegionSpecificTverskyLoss((2, 3))(logits, label)

    p = logits.softmax(1)
    y = torch.nn.functional.one_hot(label[:, 0], 3).movedim(-1, 1).float()
    s, values = 1e-5, []
    for b in range(2):
        for c in (1, 2):  # background dropped
            per_region = []
            for i in range(2):
                for j in range(3):
                    block = (b, c, slice(2 * i, 2 * i + 2), slice(2 * j, 2 * j + 2))
                    tp = (p[block] * y[block]).mean()
                    fp = (p[block] * (1 - y[block])).mean()
                    fn = ((1 - p[block]) * y[block]).mean()
                    alpha = 0.3 + 0.4 * (fp + s) / (fp + fn + s)
                    beta = 0.3 + 0.4 * (fn + s) / (fp + fn + s)
                    per_region.append((tp + s) / (tp + alpha * fp + beta * fn + s))
            values.append(torch.stack(per_region).mean())
    torch.testing.assert_close(loss, 1 - torch.stack(values).mean())


def test_batch_statistics_sum_over_cases_first():
    torch.manual_seed(1)
    logits, label = torch.randn(2, 2, 4, 4), _labels((2, 1, 4, 4), classes=2)
    loss = RegionSpecificTverskyLoss((1, 1), batch=True)
    tp, fp, fn = loss.region_statistics(
        logits.softmax(1), torch.nn.functional.one_hot(label[:, 0], 2).movedim(-1, 1).float()
    )
    assert tp.shape == (2, 1, 1)
    p, y = logits.softmax(1)[:, 1], (label[:, 0] == 1).float()
    torch.testing.assert_close(tp[1, 0, 0], (p * y).mean((1, 2)).sum())


def test_uneven_and_oversized_grids_work_with_finite_gradients():
    logits = torch.randn(1, 3, 10, 7, 5, requires_grad=True)
    loss = RegionSpecificTverskyLoss((8, 8, 14))(logits, _labels((1, 1, 10, 7, 5)))
    loss.backward()
    assert 0 <= loss.item() <= 1 and torch.isfinite(logits.grad).all() and logits.grad.abs().sum() > 0
    with pytest.raises(ValueError, match="one entry per spatial axis"):
        RegionSpecificTverskyLoss((8, 8, 14))(torch.randn(1, 3, 8, 8), _labels((1, 1, 8, 8)))


def test_one_region_fixed_weights_is_monai_tversky():
    torch.manual_seed(2)
    logits, label = torch.randn(2, 3, 8, 8), _labels((2, 1, 8, 8))
    ours = RegionSpecificTverskyLoss((1, 1), adaptive=False, batch=True)(logits, label)
    # ours pools means, MONAI sums: the same ratio up to the smoothing terms
    monai = TverskyLoss(include_background=False, to_onehot_y=True, softmax=True, alpha=0.3, beta=0.7, batch=True)
    torch.testing.assert_close(ours, monai(logits, label), atol=1e-5, rtol=0)


def test_compound_loss_and_deep_supervision_weights():
    torch.manual_seed(3)
    logits, label = torch.randn(2, 3, 8, 8, 8), _labels((2, 1, 8, 8, 8))
    compound = DiceCERegionSpecificTverskyLoss((2, 2, 2))
    expected = DiceCELoss(to_onehot_y=True, softmax=True, include_background=False)(
        logits, label
    ) + 0.8 * RegionSpecificTverskyLoss((2, 2, 2))(logits, label)
    torch.testing.assert_close(compound(logits, label), expected)

    weights = nnunet_deep_supervision_weights(5)
    assert weights == pytest.approx([1 / 1.875, 0.5 / 1.875, 0.25 / 1.875, 0.125 / 1.875, 0.0])
    assert nnunet_deep_supervision_weights(1) == [1.0]
    deep = DeepSupervisionLoss(compound, weights=weights[:2])
    outputs = [logits, torch.randn(2, 3, 4, 4, 4)]
    assert torch.isfinite(deep(outputs, label.float()))  # MONAI resizes the (float) label to each output

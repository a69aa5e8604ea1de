# Copyright (c) monai-mamba contributors. Licensed under the Apache License, Version 2.0.
import pytest
import torch

from monai_mamba.ops import cross_merge, cross_scan, num_scan_directions


def test_2d_directions_are_vmamba_order():
    x = torch.randn(2, 3, 4, 5)
    seq = cross_scan(x)
    row_major, col_major = x.flatten(2), x.transpose(2, 3).flatten(2)
    expected = torch.stack([row_major, col_major, row_major.flip(-1), col_major.flip(-1)], dim=1)
    assert torch.equal(seq, expected)


def test_3d_each_axis_is_fastest_once():
    x = torch.arange(2 * 3 * 4, dtype=torch.float32).reshape(1, 1, 2, 3, 4)
    seq = cross_scan(x)
    assert seq.shape == (1, 6, 1, 24)
    steps = [(s[0, 1] - s[0, 0]).item() for s in seq[0, :3]]
    assert steps == [1.0, 4.0, 12.0]  # w, h, d innermost in turn
    assert torch.equal(seq[:, 3:], seq[:, :3].flip(-1))


@pytest.mark.parametrize("shape", [(2, 3, 4, 5), (1, 2, 3, 4, 5), (1, 1, 1, 7)])
def test_merge_after_scan_with_identity_scan_puts_every_direction_back(shape):
    x = torch.randn(shape)
    merged = cross_merge(cross_scan(x), x.shape[2:])
    assert torch.equal(merged, num_scan_directions(x.dim() - 2) * x.flatten(2))


def test_merge_rejects_wrong_number_of_directions():
    with pytest.raises(ValueError, match="got 4 directions for a 3-D map, expected 6"):
        cross_merge(torch.zeros(1, 4, 2, 8), (2, 2, 2))

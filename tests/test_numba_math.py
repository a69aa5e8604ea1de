# Copyright (c) monai-mamba contributors. Licensed under the Apache License, Version 2.0.
"""The numba kernels' float32 math against torch in float64, and their bfloat16 reads and writes."""

from __future__ import annotations

import numba
import numpy as np
import pytest
import torch

from monai_mamba.ops.numba_math import FASTMATH, fast_exp, fast_softplus, from_compute, to_compute

SPECIAL = np.array([np.nan, np.inf, -np.inf, 0.0, -0.0, 20.0, 20.0001, 19.999, -87.0, -88.0, -104.0], np.float32)


@numba.njit(fastmath=FASTMATH)  # as the kernels compile them: inlined into a fast-math loop
def _apply(function_id, x, out):
    for i in range(x.shape[0]):
        out[i] = fast_exp(x[i]) if function_id == 0 else fast_softplus(x[i])


@pytest.mark.parametrize(
    "function_id, reference, low, high",
    [(0, torch.exp, -87.0, 88.0), (1, torch.nn.functional.softplus, -87.0, 30.0)],
    ids=["exp", "softplus"],
)
def test_float32_functions_match_float64(function_id, reference, low, high):
    """Relative error below 5e-7 over the range (float32's own rounding is 6e-8); NaN and infinities as torch's, and
    underflow to 0 below -87.3 (torch's denormals there are below any time step the scan could use)."""
    x = np.concatenate([np.linspace(low, high, 400_001, dtype=np.float32), SPECIAL])
    out = np.empty_like(x)
    _apply(function_id, x, out)
    expected = reference(torch.from_numpy(x).double()).numpy()
    finite = np.isfinite(expected) & (x > -87.3) & (expected != 0)
    assert (np.abs(out[finite] - expected[finite]) / np.abs(expected[finite])).max() < 5e-7
    nonfinite = ~np.isfinite(expected)
    np.testing.assert_array_equal(out[nonfinite], expected[nonfinite].astype(np.float32))
    assert (out[x < -87.4] == 0).all()


@numba.njit
def _round_trip(bits, values, read, written):
    for i in range(bits.shape[0]):
        read[i] = to_compute(bits[i])
        written[i] = from_compute(values[i], written)


def test_bfloat16_bits_are_read_and_rounded_as_torch_does():
    """A bfloat16 tensor's ``uint16`` bits read as its float32 values, and float32 written to the nearest bfloat16
    with ties to even, infinities, overflow and NaN as ``Tensor.to(torch.bfloat16)``."""
    gen = torch.Generator().manual_seed(0)
    values = torch.cat(
        [
            torch.randn(100_000, generator=gen) * 10.0 ** torch.randint(-30, 30, (100_000,), generator=gen),
            torch.tensor([1 + 2**-8, 1 + 3 * 2**-8, 3.4e38, -3.4e38, 1e-40]),  # ties, overflow, a denormal
            torch.from_numpy(SPECIAL),
        ]
    )
    expected = values.bfloat16()
    read = np.empty(len(values), np.float32)
    written = np.empty(len(values), np.uint16)
    _round_trip(expected.view(torch.uint16).numpy(), values.numpy(), read, written)
    np.testing.assert_array_equal(read, expected.float().numpy())
    written = torch.from_numpy(written.view(np.int16)).view(torch.bfloat16)
    same = (written == expected) | (written.isnan() & expected.isnan())
    assert same.all(), values[~same][:5]

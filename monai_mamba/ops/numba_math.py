# Copyright (c) monai-mamba contributors. Licensed under the Apache License, Version 2.0.
"""Math and threading for the numba CPU kernels (``scan_cpu``, ``causal_conv1d_cpu``).

``use_torch_threads``: the kernels use as many threads as ``torch.get_num_threads()`` (capped by numba's maximum).

``fast_exp``: in float32 a vectorisable ``exp`` (Cody-Waite range reduction, degree-6 polynomial, exponent built by
bit cast; relative error below 5e-7, NaN propagated, underflow to 0): ``math.exp`` is a scalar libm call that LLVM
cannot vectorise and took 80% of the scan's forward time. ``math.exp`` in float64.
"""

from __future__ import annotations

import math

import numba
import numpy as np
import torch
from numba import types
from numba.extending import intrinsic, overload

__all__ = ["FASTMATH", "fast_exp", "use_torch_threads"]

# reassociation lets LLVM vectorise the sums over the state dimension; NaN/Inf semantics are kept.
FASTMATH = {"reassoc", "contract", "nsz", "arcp"}


@intrinsic
def _float32_from_bits(typingctx, bits):
    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], context.get_value_type(types.float32))

    return types.float32(types.int32), codegen


_F32 = np.float32


@numba.njit(fastmath=False)  # no reassociation: it would undo the two-constant range reduction
def _exp_float32(x):
    clamped = min(max(x, _F32(-87.33)), _F32(88.7))
    k = np.floor(clamped * _F32(1.4426950408889634) + _F32(0.5))
    r = (clamped - k * _F32(0.693359375)) - k * _F32(-2.12194440e-4)  # ln 2 split in a short and a long part
    p = _F32(1.0) + r * (
        _F32(1.0) + r * (_F32(1 / 2) + r * (_F32(1 / 6) + r * (_F32(1 / 24) + r * (_F32(1 / 120) + r * _F32(1 / 720)))))
    )
    scaled = p * _float32_from_bits((np.int32(k) + np.int32(127)) << np.int32(23))
    if x != x:
        return x
    return _F32(0.0) if x < _F32(-87.33) else scaled


def fast_exp(x):
    """exp for the kernels: the vectorisable float32 version above, ``math.exp`` for float64."""
    return math.exp(x)


@overload(fast_exp)
def _fast_exp_overload(x):
    if x == types.float32:
        return lambda x: _exp_float32(x)
    return lambda x: math.exp(x)


def use_torch_threads() -> None:
    """numba uses as many threads as ``torch.get_num_threads()`` (capped by numba's own maximum)."""
    numba.set_num_threads(max(1, min(torch.get_num_threads(), numba.config.NUMBA_NUM_THREADS)))

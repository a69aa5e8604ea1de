# Copyright (c) monai-mamba contributors. Licensed under the Apache License, Version 2.0.
"""Math and threading for the numba CPU kernels (``scan_cpu``, ``causal_conv1d_cpu``).

``use_torch_threads``: the kernels use as many threads as ``torch.get_num_threads()`` (capped by numba's maximum).

``fast_exp``: in float32 a vectorisable ``exp`` (Cody-Waite range reduction, degree-6 polynomial, exponent built by
bit cast; relative error below 5e-7, NaN propagated, underflow to 0): ``math.exp`` is a scalar libm call that LLVM
cannot vectorise and took 80% of the scan's forward time. ``math.exp`` in float64. It is inlined into the caller's
numba IR (a call LLVM declined to inline kept whole loops scalar), its range reduction written as ``llvm.fmuladd``
calls that the caller's fast-math reassociation leaves alone.

``fast_softplus``: ``torch.nn.functional.softplus`` (threshold 20) in float32 from ``fast_exp``, a branch-free float32
``log`` (Cephes' polynomial) and ``log1p``'s series where ``1 + e`` would round ``e`` off; relative error below 4e-7.

``to_compute`` / ``from_compute``: bfloat16 read and written as its bits (numba has no bfloat16: a ``uint16`` view of
the tensor): the bits shifted into a float32, and a float32 rounded to the nearest bfloat16, ties to even, as
``Tensor.to(torch.bfloat16)``; other dtypes pass through.
"""

from __future__ import annotations

import math

import llvmlite.ir as llvmir
import numba
import numpy as np
import torch
from numba import types
from numba.extending import intrinsic, overload

__all__ = ["FASTMATH", "fast_exp", "fast_softplus", "from_compute", "kernel_bits", "to_compute", "use_torch_threads"]

# reassociation lets LLVM vectorise the sums over the state dimension; NaN/Inf semantics are kept.
FASTMATH = {"reassoc", "contract", "nsz", "arcp"}


@intrinsic
def _float32_from_bits(typingctx, bits):
    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], context.get_value_type(types.float32))

    return types.float32(types.int32), codegen


@intrinsic
def _bits_from_float32(typingctx, value):
    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], context.get_value_type(types.int32))

    return types.int32(types.float32), codegen


_F32 = np.float32


@intrinsic
def _multiply_add(typingctx, a, b, c):
    """``a * b + c`` as ``llvm.fmuladd`` (fused where the CPU has FMA): an intrinsic call, which the caller's fast-math
    reassociation does not rewrite."""

    def codegen(context, builder, signature, args):
        single = llvmir.FloatType()
        function = builder.module.declare_intrinsic("llvm.fmuladd", [single], llvmir.FunctionType(single, [single] * 3))
        return builder.call(function, args)

    return types.float32(types.float32, types.float32, types.float32), codegen


@numba.njit(inline="always")  # inlined into the caller's loop: a call can keep LLVM from vectorising it
def _exp_float32(x):
    clamped = min(max(x, _F32(-87.33)), _F32(88.7))
    k = np.floor(clamped * _F32(1.4426950408889634) + _F32(0.5))
    # x - k ln 2, ln 2 split in a short and a long part; as two multiply-adds, so that the caller's reassociation
    # cannot merge them into one product (which would lose the range reduction's precision)
    r = _multiply_add(-k, _F32(-2.12194440e-4), _multiply_add(-k, _F32(0.693359375), clamped))
    p = _F32(1.0) + r * (
        _F32(1.0) + r * (_F32(1 / 2) + r * (_F32(1 / 6) + r * (_F32(1 / 24) + r * (_F32(1 / 120) + r * _F32(1 / 720)))))
    )
    scaled = p * _float32_from_bits((np.int32(k) + np.int32(127)) << np.int32(23))
    scaled = x if x != x else scaled  # NaN propagated
    return _F32(0.0) if x < _F32(-87.33) else scaled


def fast_exp(x):
    """exp for the kernels: the vectorisable float32 version above, ``math.exp`` for float64."""
    return math.exp(x)


@overload(fast_exp)
def _fast_exp_overload(x):
    if x == types.float32:
        return lambda x: _exp_float32(x)
    return lambda x: math.exp(x)


@numba.njit(inline="always")
def _log_float32(x):
    """log of a finite float32 ``x >= 1`` (the only inputs softplus gives it); relative error about 1e-7. Written
    without branches or loops (selects and Horner's scheme), so that LLVM vectorises it."""
    bits = _bits_from_float32(x)
    mantissa = _float32_from_bits((bits & np.int32(0x7FFFFF)) | np.int32(0x3F800000))  # in [1, 2)
    above = mantissa > _F32(1.4142135)
    half = mantissa * _F32(0.5)
    f = (half if above else mantissa) - _F32(1.0)  # in [sqrt(1/2) - 1, sqrt(2) - 1)
    e = _F32((bits >> np.int32(23)) - np.int32(127)) + _F32(above)
    p = _F32(7.0376836292e-2) * f - _F32(1.1514610310e-1)
    p = p * f + _F32(1.1676998740e-1)
    p = p * f - _F32(1.2420140846e-1)
    p = p * f + _F32(1.4249322787e-1)
    p = p * f - _F32(1.6668057665e-1)
    p = p * f + _F32(2.0000714765e-1)
    p = p * f - _F32(2.4999993993e-1)
    p = p * f + _F32(3.3333331174e-1)
    f2 = f * f
    y = f * f2 * p + e * _F32(-2.12194440e-4) - _F32(0.5) * f2
    return f + y + e * _F32(0.693359375)


@numba.njit(inline="always")  # inlined into the kernel's loop, so that LLVM vectorises it
def _softplus_float32(x):
    e = fast_exp(min(x, _F32(20.0)))
    # log1p(e): its series where 1 + e would round off the digits of e (relative error below 3e-8 for e < 1/4),
    # else log(1 + e) (below 4e-7): no cancellation that reassociation could undo
    series = _F32(-1 / 12) * e + _F32(1 / 11)
    series = series * e - _F32(1 / 10)
    series = series * e + _F32(1 / 9)
    series = series * e - _F32(1 / 8)
    series = series * e + _F32(1 / 7)
    series = series * e - _F32(1 / 6)
    series = series * e + _F32(1 / 5)
    series = series * e - _F32(1 / 4)
    series = series * e + _F32(1 / 3)
    series = series * e - _F32(1 / 2)
    series = series * e + _F32(1.0)
    log_value = _log_float32(_F32(1.0) + e)  # both computed, then selected: a branch would not vectorise
    log1p = e * series if e < _F32(0.25) else log_value
    return x if (x > _F32(20.0)) | (x != x) else log1p


def fast_softplus(x):
    """``log(1 + exp(x))``, ``x`` above 20: the float32 version above, ``math.log1p(math.exp(x))`` for float64."""
    return x if x > 20.0 else math.log1p(math.exp(x))


@overload(fast_softplus, inline="always")
def _fast_softplus_overload(x):
    if x == types.float32:
        return lambda x: _softplus_float32(x)
    return lambda x: x if x > 20.0 else math.log1p(math.exp(x))


def kernel_bits(x: torch.Tensor) -> torch.Tensor:
    """``x`` as the kernels read it: a bfloat16 tensor as a ``uint16`` view of its bits (numpy and numba have no
    bfloat16), any other unchanged."""
    return x.view(torch.uint16) if x.dtype == torch.bfloat16 else x


def to_compute(x):
    """A kernel input element in its compute dtype: bfloat16 bits (``uint16``) as float32, others unchanged."""
    return x


@overload(to_compute, inline="always")
def _to_compute_overload(x):
    if x == types.uint16:
        return lambda x: _float32_from_bits(np.int32(x) << np.int32(16))
    return lambda x: x


def from_compute(value, out):
    """``value`` as an element of the array ``out``: float32 rounded to bfloat16 bits when ``out`` is ``uint16``."""
    return value


@overload(from_compute, inline="always")
def _from_compute_overload(value, out):
    if out.dtype == types.uint16:

        def to_bfloat16(value, out):
            bits = np.int64(_bits_from_float32(value)) & np.int64(0xFFFFFFFF)
            rounded = (bits + np.int64(0x7FFF) + ((bits >> np.int64(16)) & np.int64(1))) >> np.int64(16)
            nan = np.int64(value != value)  # NaN -> the quiet NaN 0x7FC0 (arithmetic: a select here upsets numba's IR)
            return np.uint16(rounded * (1 - nan) + np.int64(0x7FC0) * nan)

        return to_bfloat16
    return lambda value, out: value


def use_torch_threads() -> None:
    """numba uses as many threads as ``torch.get_num_threads()`` (capped by numba's own maximum)."""
    numba.set_num_threads(max(1, min(torch.get_num_threads(), numba.config.NUMBA_NUM_THREADS)))

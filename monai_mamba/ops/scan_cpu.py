# Copyright (c) monai-mamba contributors. Licensed under the Apache License, Version 2.0.
"""Compiled CPU selective scan (numba), forward and backward.

The forward runs the recurrence once per ``(batch, channel)`` pair, in parallel over those pairs, and saves
the state every ``CHECKPOINT_EVERY`` steps. The backward walks the chunks in reverse: it recomputes one
chunk's states from its checkpoint into a small per-task buffer, then runs the adjoint recurrence through it.
Nothing of shape ``(b, d, n, l)`` is ever kept; saved memory is ``b * d * n * l / CHECKPOINT_EVERY`` values.

Only the core recurrence is compiled; the delta bias, softplus, ``D`` and ``z`` terms are vectorised torch
ops around it (``scan_common``).

Gradients of ``B`` and ``C`` are sums over the channels of a group. To keep tasks free of write races and
the result deterministic, the channels of each group are split into ``P`` fixed partitions, each with its own
accumulator, summed at the end (``P = 1`` when batch x groups already fills the threads).

Computation is in float32 (float64 for float64 inputs); numba compiles each precision once and caches it.
The float32 kernels use a vectorisable ``exp`` (Cody-Waite range reduction, degree-6 polynomial, exponent
built by bit cast; relative error below 5e-7, NaN propagated, underflow to 0): ``math.exp`` is a scalar
libm call that LLVM cannot vectorise and took 80% of the forward time.
"""

from __future__ import annotations

import math

import numba
import numpy as np
import torch
from numba import types
from numba.extending import intrinsic, overload

from monai_mamba.ops.scan_common import scan_with_core

__all__ = ["selective_scan_cpu", "CHECKPOINT_EVERY"]

CHECKPOINT_EVERY = 128

# reassociation lets LLVM vectorise the sums over the state dimension; NaN/Inf semantics are kept.
_FASTMATH = {"reassoc", "contract", "nsz", "arcp"}


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


def _exp(x):
    """exp for the kernels: the vectorisable float32 version above, ``math.exp`` for float64."""
    return math.exp(x)


@overload(_exp)
def _exp_overload(x):
    if x == types.float32:
        return lambda x: _exp_float32(x)
    return lambda x: math.exp(x)


@numba.njit(parallel=True, nogil=True, cache=True, fastmath=_FASTMATH)
def _scan_forward(u, dt, A, B, C, out, checkpoints, last_state):
    """u, dt, out: (b, d, l); A: (d, n); B, C: (b, g, l, n);
    checkpoints: (b, d, chunks, n) state before each chunk; last_state: (b, d, n)."""
    nbatch, ndim, length = u.shape
    nstate = A.shape[1]
    per_group = ndim // B.shape[1]
    nchunks = checkpoints.shape[2]
    for task in numba.prange(nbatch * ndim):
        bi = task // ndim
        di = task % ndim
        gi = di // per_group
        a = A[di]
        state = np.zeros(nstate, dtype=out.dtype)
        for chunk in range(nchunks):
            checkpoints[bi, di, chunk, :] = state
            for t in range(chunk * CHECKPOINT_EVERY, min(length, (chunk + 1) * CHECKPOINT_EVERY)):
                step = dt[bi, di, t]
                step_u = step * u[bi, di, t]
                bt = B[bi, gi, t]
                ct = C[bi, gi, t]
                acc = 0.0
                for n in range(nstate):
                    state[n] = _exp(step * a[n]) * state[n] + step_u * bt[n]
                    acc += state[n] * ct[n]
                out[bi, di, t] = acc
        last_state[bi, di, :] = state


@numba.njit(parallel=True, nogil=True, cache=True, fastmath=_FASTMATH)
def _scan_backward(u, dt, A, B, C, checkpoints, dout, du, ddt, dA, dB_parts, dC_parts):
    """Shapes as in ``_scan_forward``; dA: (b, d, n); dB_parts, dC_parts: (b, g, P, l, n) per-partition sums."""
    nbatch, ndim, length = u.shape
    nstate = A.shape[1]
    ngroups = B.shape[1]
    per_group = ndim // ngroups
    nparts = dB_parts.shape[2]
    nchunks = checkpoints.shape[2]
    for task in numba.prange(nbatch * ngroups * nparts):
        bi = task // (ngroups * nparts)
        gi = (task // nparts) % ngroups
        part = task % nparts
        dBp = dB_parts[bi, gi, part]
        dCp = dC_parts[bi, gi, part]
        states = np.empty((CHECKPOINT_EVERY + 1, nstate), dtype=u.dtype)
        decays = np.empty((CHECKPOINT_EVERY, nstate), dtype=u.dtype)
        adjoint = np.empty(nstate, dtype=u.dtype)
        dA_acc = np.empty(nstate, dtype=u.dtype)
        first = gi * per_group + (part * per_group) // nparts
        stop = gi * per_group + ((part + 1) * per_group) // nparts
        for di in range(first, stop):
            a = A[di]
            adjoint[:] = 0.0
            dA_acc[:] = 0.0
            for chunk in range(nchunks - 1, -1, -1):
                t0 = chunk * CHECKPOINT_EVERY
                t1 = min(length, t0 + CHECKPOINT_EVERY)
                states[0, :] = checkpoints[bi, di, chunk]
                for t in range(t0, t1):  # recompute this chunk's states and decays
                    j = t - t0
                    step = dt[bi, di, t]
                    step_u = step * u[bi, di, t]
                    bt = B[bi, gi, t]
                    for n in range(nstate):
                        decay = _exp(step * a[n])
                        decays[j, n] = decay
                        states[j + 1, n] = decay * states[j, n] + step_u * bt[n]
                for t in range(t1 - 1, t0 - 1, -1):  # adjoint recurrence g_t = exp(dt_{t+1} A) g_{t+1} + C_t dy_t
                    j = t - t0
                    step = dt[bi, di, t]
                    ut = u[bi, di, t]
                    bt = B[bi, gi, t]
                    ct = C[bi, gi, t]
                    dy = dout[bi, di, t]
                    du_t = 0.0
                    ddt_t = 0.0
                    for n in range(nstate):
                        g = adjoint[n] + ct[n] * dy
                        prev = states[j, n]
                        decay = decays[j, n]
                        dCp[t, n] += dy * states[j + 1, n]
                        dBp[t, n] += g * step * ut
                        du_t += g * step * bt[n]
                        ddt_t += g * (bt[n] * ut + a[n] * decay * prev)
                        dA_acc[n] += g * step * decay * prev
                        adjoint[n] = g * decay
                    ddt[bi, di, t] = ddt_t
                    du[bi, di, t] = du_t
            dA[bi, di, :] = dA_acc


def _as_array(x: torch.Tensor) -> np.ndarray:
    return x.detach().contiguous().numpy()


def _partitions(batch: int, groups: int, per_group: int) -> int:
    """Partitions per group for the backward, so that batch * groups * P keeps every thread busy."""
    threads = numba.get_num_threads()
    return max(1, min(per_group, -(-threads // (batch * groups))))


class _CompiledScan(torch.autograd.Function):
    """Core recurrence on CPU: ``u, dt (b, d, l)``, ``A (d, n)``, ``B, C (b, g, n, l)``, all float32 or all float64."""

    @staticmethod
    def forward(ctx, u, dt, A, B, C):
        batch, dim, length = u.shape
        nstate = A.shape[1]
        # (b, g, l, n): the state dimension contiguous for the inner loops
        arrays = [
            _as_array(u),
            _as_array(dt),
            _as_array(A),
            _as_array(B.transpose(-1, -2)),
            _as_array(C.transpose(-1, -2)),
        ]
        dtype = arrays[0].dtype
        out = np.empty((batch, dim, length), dtype=dtype)
        checkpoints = np.empty((batch, dim, -(-length // CHECKPOINT_EVERY), nstate), dtype=dtype)
        last_state = np.empty((batch, dim, nstate), dtype=dtype)
        _scan_forward(*arrays, out, checkpoints, last_state)
        ctx.arrays, ctx.checkpoints = arrays, checkpoints
        last_state = torch.from_numpy(last_state)
        ctx.mark_non_differentiable(last_state)
        return torch.from_numpy(out), last_state

    @staticmethod
    def backward(ctx, dout, _dlast_state):
        u, dt, A, B, C = ctx.arrays
        batch, dim, length = u.shape
        groups, nstate = B.shape[1], A.shape[1]
        nparts = _partitions(batch, groups, dim // groups)
        du, ddt = np.empty_like(u), np.empty_like(u)
        dA = np.empty((batch, dim, nstate), dtype=u.dtype)
        dB_parts = np.zeros((batch, groups, nparts, length, nstate), dtype=u.dtype)
        dC_parts = np.zeros_like(dB_parts)
        dout = dout.detach().to(torch.from_numpy(u).dtype).contiguous().numpy()
        _scan_backward(u, dt, A, B, C, ctx.checkpoints, dout, du, ddt, dA, dB_parts, dC_parts)
        ctx.arrays = ctx.checkpoints = None
        return (
            torch.from_numpy(du),
            torch.from_numpy(ddt),
            torch.from_numpy(dA).sum(0),
            torch.from_numpy(dB_parts).sum(2).transpose(-1, -2),
            torch.from_numpy(dC_parts).sum(2).transpose(-1, -2),
        )


def selective_scan_cpu(*args, **kwargs) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
    """Compiled CPU scan; arguments as ``monai_mamba.ops.selective_scan`` with ``B, C`` grouped ``(b, g, n, l)``.

    numba uses as many threads as ``torch.get_num_threads()`` (capped by numba's own maximum).
    """
    numba.set_num_threads(max(1, min(torch.get_num_threads(), numba.config.NUMBA_NUM_THREADS)))
    return scan_with_core(_CompiledScan.apply, *args, **kwargs)

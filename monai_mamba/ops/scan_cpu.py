# Copyright (c) monai-mamba contributors. Licensed under the Apache License, Version 2.0.
"""Compiled CPU selective scan (numba), forward and backward.

The forward runs the recurrence once per ``(batch, channel)`` pair, in parallel over those pairs, and saves
the state every ``CHECKPOINT_EVERY`` steps. The backward walks the chunks in reverse: it recomputes one
chunk's states from its checkpoint into a small per-task buffer, then runs the adjoint recurrence through it.
Nothing of shape ``(b, d, n, l)`` is ever kept; saved memory is ``b * d * n * l / CHECKPOINT_EVERY`` values.

Gradients of ``B`` and ``C`` are sums over the channels of a group. To keep tasks free of write races and
the result deterministic, the channels of each group are split into ``P`` fixed partitions, each with its own
accumulator, summed at the end (``P = 1`` when batch x groups already fills the threads).

Computation is in float32 (float64 for float64 inputs); numba compiles each precision once and caches it.
"""

from __future__ import annotations

import math

import numba
import numpy as np
import torch

__all__ = ["selective_scan_cpu", "CHECKPOINT_EVERY"]

CHECKPOINT_EVERY = 128

# reassociation lets LLVM vectorise the sums over the state dimension; NaN/Inf semantics are kept.
_FASTMATH = {"reassoc", "contract", "nsz", "arcp"}


@numba.njit(inline="always", fastmath=_FASTMATH)
def _softplus(x):
    # torch.nn.functional.softplus with its default threshold of 20
    return x if x > 20.0 else math.log1p(math.exp(x))


@numba.njit(parallel=True, cache=True, fastmath=_FASTMATH)
def _scan_forward(u, delta, A, B, C, D, delta_bias, z, has_z, softplus, out, checkpoints, last_state):
    """u, delta, z, out: (b, d, l); A: (d, n); B, C: (b, g, l, n); D, delta_bias: (d,);
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
        dd = D[di]
        bias = delta_bias[di]
        state = np.zeros(nstate, dtype=out.dtype)
        for chunk in range(nchunks):
            checkpoints[bi, di, chunk, :] = state
            for t in range(chunk * CHECKPOINT_EVERY, min(length, (chunk + 1) * CHECKPOINT_EVERY)):
                dt = delta[bi, di, t] + bias
                if softplus:
                    dt = _softplus(dt)
                ut = u[bi, di, t]
                dtu = dt * ut
                bt = B[bi, gi, t]
                ct = C[bi, gi, t]
                acc = 0.0
                for n in range(nstate):
                    state[n] = math.exp(dt * a[n]) * state[n] + dtu * bt[n]
                    acc += state[n] * ct[n]
                y = acc + dd * ut
                if has_z:
                    zt = z[bi, di, t]
                    y = y * zt / (1.0 + math.exp(-zt))
                out[bi, di, t] = y
        last_state[bi, di, :] = state


@numba.njit(parallel=True, cache=True, fastmath=_FASTMATH)
def _scan_backward(
    u, delta, A, B, C, D, delta_bias, z, has_z, softplus, checkpoints, dout,
    du, ddelta, dA, dB_parts, dC_parts, dD, ddelta_bias, dz,
):
    """Shapes as in ``_scan_forward``; dB_parts, dC_parts: (b, g, P, l, n) per-partition accumulators."""
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
            dd = D[di]
            bias = delta_bias[di]
            adjoint[:] = 0.0
            dA_acc[:] = 0.0
            dD_acc = 0.0
            dbias_acc = 0.0
            for chunk in range(nchunks - 1, -1, -1):
                t0 = chunk * CHECKPOINT_EVERY
                t1 = min(length, t0 + CHECKPOINT_EVERY)
                states[0, :] = checkpoints[bi, di, chunk]
                for t in range(t0, t1):  # recompute this chunk's states and decays
                    j = t - t0
                    dt = delta[bi, di, t] + bias
                    if softplus:
                        dt = _softplus(dt)
                    dtu = dt * u[bi, di, t]
                    bt = B[bi, gi, t]
                    for n in range(nstate):
                        decay = math.exp(dt * a[n])
                        decays[j, n] = decay
                        states[j + 1, n] = decay * states[j, n] + dtu * bt[n]
                for t in range(t1 - 1, t0 - 1, -1):  # adjoint recurrence, in reverse
                    j = t - t0
                    raw = delta[bi, di, t] + bias
                    dt = _softplus(raw) if softplus else raw
                    ut = u[bi, di, t]
                    bt = B[bi, gi, t]
                    ct = C[bi, gi, t]
                    dy = dout[bi, di, t]
                    if has_z:
                        zt = z[bi, di, t]
                        sig = 1.0 / (1.0 + math.exp(-zt))
                        y = dd * ut
                        for n in range(nstate):
                            y += ct[n] * states[j + 1, n]
                        dz[bi, di, t] = dy * y * sig * (1.0 + zt * (1.0 - sig))
                        dy = dy * zt * sig
                    dD_acc += dy * ut
                    du_t = dy * dd
                    ddt = 0.0
                    for n in range(nstate):
                        g = adjoint[n] + ct[n] * dy
                        prev = states[j, n]
                        decay = decays[j, n]
                        dCp[t, n] += dy * states[j + 1, n]
                        dBp[t, n] += g * dt * ut
                        du_t += g * dt * bt[n]
                        ddt += g * (bt[n] * ut + a[n] * decay * prev)
                        dA_acc[n] += g * dt * decay * prev
                        adjoint[n] = g * decay
                    if softplus:
                        ddt = ddt / (1.0 + math.exp(-raw))
                    ddelta[bi, di, t] = ddt
                    dbias_acc += ddt
                    du[bi, di, t] = du_t
            dA[bi, di, :] = dA_acc
            dD[bi, di] = dD_acc
            ddelta_bias[bi, di] = dbias_acc


def _compute_dtype(dtype: torch.dtype) -> torch.dtype:
    return torch.float64 if dtype == torch.float64 else torch.float32


def _as_array(x: torch.Tensor, dtype: torch.dtype) -> np.ndarray:
    return x.detach().to(dtype).contiguous().numpy()


def _partitions(batch: int, groups: int, per_group: int) -> int:
    """Partitions per group for the backward, so that batch * groups * P keeps every thread busy."""
    threads = numba.get_num_threads()
    return max(1, min(per_group, -(-2 * threads // (batch * groups)) if batch * groups < threads else 1))


class _SelectiveScanCPU(torch.autograd.Function):
    @staticmethod
    def forward(ctx, u, delta, A, B, C, D, z, delta_bias, delta_softplus):
        dtype = _compute_dtype(u.dtype)
        batch, dim, length = u.shape
        zeros = u.new_zeros(dim, dtype=dtype)
        arrays = [
            _as_array(u, dtype),
            _as_array(delta, dtype),
            _as_array(A, dtype),
            _as_array(B.transpose(-1, -2), dtype),  # (b, g, l, n): the state dimension contiguous
            _as_array(C.transpose(-1, -2), dtype),
            _as_array(zeros if D is None else D, dtype),
            _as_array(zeros if delta_bias is None else delta_bias, dtype),
            _as_array(u.new_zeros(1, 1, 1) if z is None else z, dtype),
        ]
        nchunks = -(-length // CHECKPOINT_EVERY)
        out = np.empty((batch, dim, length), dtype=arrays[0].dtype)
        checkpoints = np.empty((batch, dim, nchunks, A.shape[1]), dtype=out.dtype)
        last_state = np.empty((batch, dim, A.shape[1]), dtype=out.dtype)
        _scan_forward(*arrays, z is not None, bool(delta_softplus), out, checkpoints, last_state)
        ctx.arrays, ctx.checkpoints = arrays, checkpoints
        ctx.has = (D is not None, z is not None, delta_bias is not None, bool(delta_softplus))
        ctx.dtypes = [t.dtype if t is not None else None for t in (u, delta, A, B, C, D, z, delta_bias)]
        ctx.mark_non_differentiable(last_state_t := torch.from_numpy(last_state))
        return torch.from_numpy(out).to(u.dtype), last_state_t

    @staticmethod
    def backward(ctx, dout, _dlast_state):
        u, delta, A, B, C, D, delta_bias, z = ctx.arrays
        has_d, has_z, has_bias, softplus = ctx.has
        batch, dim, length = u.shape
        groups, nstate = B.shape[1], A.shape[1]
        nparts = _partitions(batch, groups, dim // groups)
        dout_a = dout.detach().to(torch.from_numpy(u).dtype).contiguous().numpy()
        du, ddelta, dz = np.empty_like(u), np.empty_like(u), np.empty_like(u) if has_z else np.empty((1, 1, 1), u.dtype)
        dA = np.empty((batch, dim, nstate), dtype=u.dtype)
        dB_parts = np.zeros((batch, groups, nparts, length, nstate), dtype=u.dtype)
        dC_parts = np.zeros_like(dB_parts)
        dD = np.empty((batch, dim), dtype=u.dtype)
        dbias = np.empty_like(dD)
        _scan_backward(
            u, delta, A, B, C, D, delta_bias, z, has_z, softplus, ctx.checkpoints, dout_a,
            du, ddelta, dA, dB_parts, dC_parts, dD, dbias, dz,
        )
        ctx.arrays = ctx.checkpoints = None
        grads = [
            torch.from_numpy(du),
            torch.from_numpy(ddelta),
            torch.from_numpy(dA).sum(0),
            torch.from_numpy(dB_parts).sum(2).transpose(-1, -2),
            torch.from_numpy(dC_parts).sum(2).transpose(-1, -2),
            torch.from_numpy(dD).sum(0) if has_d else None,
            torch.from_numpy(dz) if has_z else None,
            torch.from_numpy(dbias).sum(0) if has_bias else None,
        ]
        grads = [g if g is None else g.to(dt) for g, dt in zip(grads, ctx.dtypes)]
        return (*grads, None)


def selective_scan_cpu(
    u: torch.Tensor,
    delta: torch.Tensor,
    A: torch.Tensor,
    B: torch.Tensor,
    C: torch.Tensor,
    D: torch.Tensor | None = None,
    z: torch.Tensor | None = None,
    delta_bias: torch.Tensor | None = None,
    delta_softplus: bool = False,
    return_last_state: bool = False,
) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
    """Compiled CPU scan; arguments as ``monai_mamba.ops.selective_scan`` with ``B, C`` grouped ``(b, g, n, l)``.

    numba uses as many threads as ``torch.get_num_threads()`` (capped by numba's own maximum).
    """
    numba.set_num_threads(max(1, min(torch.get_num_threads(), numba.config.NUMBA_NUM_THREADS)))
    y, last_state = _SelectiveScanCPU.apply(u, delta, A, B, C, D, z, delta_bias, delta_softplus)
    return (y, last_state) if return_last_state else y

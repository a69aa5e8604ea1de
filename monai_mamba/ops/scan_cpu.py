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
The kernels use ``numba_math.fast_exp``, a vectorisable float32 ``exp``.

The forward and the backward are PyTorch operators (``torch.library.custom_op``, with fake implementations and
the backward registered as the forward's gradient), so ``torch.compile`` runs them without a graph break and
``torch.export`` records each as one node.
"""

from __future__ import annotations

import numba
import numpy as np
import torch

from monai_mamba.ops.numba_math import FASTMATH, fast_exp, use_torch_threads
from monai_mamba.ops.scan_common import scan_with_core

__all__ = ["CHECKPOINT_EVERY", "selective_scan_cpu", "selective_scan_cpu_backward", "selective_scan_cpu_op"]

CHECKPOINT_EVERY = 128


@numba.njit(parallel=True, nogil=True, cache=True, fastmath=FASTMATH)
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
                    state[n] = fast_exp(step * a[n]) * state[n] + step_u * bt[n]
                    acc += state[n] * ct[n]
                out[bi, di, t] = acc
        last_state[bi, di, :] = state


@numba.njit(parallel=True, nogil=True, cache=True, fastmath=FASTMATH)
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
                        decay = fast_exp(step * a[n])
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


def _transposed_array(x: torch.Tensor) -> np.ndarray:
    """``B`` or ``C`` ``(b, g, n, l)`` as ``(b, g, l, n)``: the state dimension contiguous for the inner loops."""
    return _as_array(x.transpose(-1, -2))


@torch.library.custom_op("monai_mamba::selective_scan_cpu", mutates_args=(), device_types="cpu")
def selective_scan_cpu_op(
    u: torch.Tensor, dt: torch.Tensor, A: torch.Tensor, B: torch.Tensor, C: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Core recurrence on CPU: ``u, dt (b, d, l)``, ``A (d, n)``, ``B, C (b, g, n, l)``, all float32 or all float64
    -> ``y (b, d, l)``, the last state ``(b, d, n)`` and the states saved for the backward
    ``(b, d, ceil(l / CHECKPOINT_EVERY), n)``. A PyTorch operator: ``torch.compile`` runs it without a graph break
    and ``torch.export`` records it as one node; its gradient is ``selective_scan_cpu_backward``."""
    use_torch_threads()
    batch, dim, length = u.shape
    nstate = A.shape[1]
    arrays = [_as_array(u), _as_array(dt), _as_array(A), _transposed_array(B), _transposed_array(C)]
    dtype = arrays[0].dtype
    out = np.empty((batch, dim, length), dtype=dtype)
    checkpoints = np.empty((batch, dim, -(-length // CHECKPOINT_EVERY), nstate), dtype=dtype)
    last_state = np.empty((batch, dim, nstate), dtype=dtype)
    _scan_forward(*arrays, out, checkpoints, last_state)
    return torch.from_numpy(out), torch.from_numpy(last_state), torch.from_numpy(checkpoints)


@selective_scan_cpu_op.register_fake
def _(u, dt, A, B, C):
    batch, dim, length = u.shape
    nstate = A.shape[1]
    return (
        u.new_empty(batch, dim, length),
        u.new_empty(batch, dim, nstate),
        u.new_empty(batch, dim, -(-length // CHECKPOINT_EVERY), nstate),
    )


@torch.library.custom_op("monai_mamba::selective_scan_cpu_backward", mutates_args=(), device_types="cpu")
def selective_scan_cpu_backward(
    dout: torch.Tensor,
    u: torch.Tensor,
    dt: torch.Tensor,
    A: torch.Tensor,
    B: torch.Tensor,
    C: torch.Tensor,
    checkpoints: torch.Tensor,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Gradients of ``selective_scan_cpu`` with respect to ``u, dt, A, B, C`` from the gradient of ``y``; the
    chunks' states are recomputed from ``checkpoints``."""
    use_torch_threads()
    arrays = [_as_array(u), _as_array(dt), _as_array(A), _transposed_array(B), _transposed_array(C)]
    batch, dim, length = u.shape
    groups, nstate = B.shape[1], A.shape[1]
    nparts = _partitions(batch, groups, dim // groups)
    dtype = arrays[0].dtype
    du, ddt = np.empty_like(arrays[0]), np.empty_like(arrays[0])
    dA = np.empty((batch, dim, nstate), dtype=dtype)
    dB_parts = np.zeros((batch, groups, nparts, length, nstate), dtype=dtype)
    dC_parts = np.zeros_like(dB_parts)
    _scan_backward(*arrays, _as_array(checkpoints), _as_array(dout.to(u.dtype)), du, ddt, dA, dB_parts, dC_parts)
    return (
        torch.from_numpy(du),
        torch.from_numpy(ddt),
        torch.from_numpy(dA).sum(0),
        torch.from_numpy(dB_parts).sum(2).transpose(-1, -2).contiguous(),
        torch.from_numpy(dC_parts).sum(2).transpose(-1, -2).contiguous(),
    )


@selective_scan_cpu_backward.register_fake
def _(dout, u, dt, A, B, C, checkpoints):
    return tuple(t.new_empty(t.shape) for t in (u, dt, A, B, C))  # contiguous, as the kernel returns them


def _setup_context(ctx, inputs, output):
    ctx.save_for_backward(*inputs, output[2])
    ctx.mark_non_differentiable(output[1], output[2])


def _backward(ctx, dout, _dlast_state, _dcheckpoints):
    return selective_scan_cpu_backward(dout, *ctx.saved_tensors)


selective_scan_cpu_op.register_autograd(_backward, setup_context=_setup_context)


def _core(u, dt, A, B, C):
    y, last_state, _ = selective_scan_cpu_op(u, dt, A, B, C)
    return y, last_state


def selective_scan_cpu(*args, **kwargs) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
    """Compiled CPU scan; arguments as ``monai_mamba.ops.selective_scan`` with ``B, C`` grouped ``(b, g, n, l)``."""
    return scan_with_core(_core, *args, **kwargs)

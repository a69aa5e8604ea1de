# Copyright (c) monai-mamba contributors. Licensed under the Apache License, Version 2.0.
"""Compiled CPU selective scan (numba), forward and backward.

The kernels index ``(b, l, d)`` arrays and read them in either memory layout without a copy: channels-last, as a
Mamba layer's projections produce ``u`` and ``dt`` (``(b, d, l)`` views of ``(b, l, d)`` tensors), or channels-first,
as VMamba's cross-scan does (numba compiles one version per layout). ``y``, ``du`` and ``ddt`` are returned in the
layout of ``u``, so the element-wise work around the scan and the projections after it run on contiguous memory
instead of copying between layouts.

Each parallel task is one block of ``CHANNEL_BLOCK`` channels of one group and batch element. The forward runs the
recurrence of each channel of its block chunk by chunk (vectorised over the state dimension) and saves the state
every ``CHECKPOINT_EVERY`` steps. The backward walks the chunks in reverse: for each channel of the block it
recomputes the chunk's states from the checkpoint into a small per-task buffer, then runs the adjoint recurrence
through it; with the chunk as the outer loop, the chunk's rows of the inputs and of the ``dB``/``dC`` sums stay in
cache across the channels of the block. Nothing of shape ``(b, d, n, l)`` is ever kept; saved memory is
``b * d * n * l / CHECKPOINT_EVERY`` values.

Only the core recurrence is compiled; the delta bias, softplus, ``D`` and ``z`` terms are vectorised torch
ops around it (``scan_common``). Where no backward can follow, ``scan_cpu_inference`` does all of it in one kernel.

Gradients of ``B`` and ``C`` are sums over the channels of a group. To keep tasks free of write races and
the result deterministic, the channel blocks of each group are split into ``P`` fixed partitions, each with its
own accumulator, summed at the end (``P = 1`` when batch x groups already fills the threads).

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

from monai_mamba.ops.backends import gradient_can_follow
from monai_mamba.ops.numba_math import FASTMATH, fast_exp, use_torch_threads
from monai_mamba.ops.scan_common import scan_with_core

__all__ = ["CHECKPOINT_EVERY", "selective_scan_cpu", "selective_scan_cpu_backward", "selective_scan_cpu_op"]

CHECKPOINT_EVERY = 128
CHANNEL_BLOCK = 16  # channels per parallel task (16 and 32 measured fastest at 64 and 128 channels on 2 cores)


@numba.njit(inline="always")
def _channel_block(task, ngroups, nblocks, per_group):
    """(batch, group, first channel, channel stop) of one block of at most ``CHANNEL_BLOCK`` channels of a group."""
    bi = task // (ngroups * nblocks)
    gi = (task // nblocks) % ngroups
    first = gi * per_group + (task % nblocks) * CHANNEL_BLOCK
    return bi, gi, first, min(first + CHANNEL_BLOCK, (gi + 1) * per_group)


@numba.njit(inline="always")
def _chunk_and_channel(index, nchunks, first, width, channels_last):
    """The ``index``-th (chunk, channel) pair of a block of channels ``[first, first + width)``: chunk by chunk when
    the channels are contiguous in memory (the chunk's rows of the inputs, and of the dB/dC sums in the backward, then
    stay in cache across the block's channels), channel by channel otherwise (each channel's sequence is contiguous).
    Measured on 2 cores: the backward chunk by chunk 30 % faster on channels-last inputs, 10 % slower on channels-first
    ones."""
    if channels_last:
        return index // width, first + index % width
    return index % nchunks, first + index // nchunks


@numba.njit(parallel=True, nogil=True, cache=True, fastmath=FASTMATH)
def _scan_forward(u, dt, A, B, C, out, checkpoints, last_state):
    """u, dt, out: (b, l, d); A: (d, n); B, C: (b, g, l, n); checkpoints: (b, chunks, d, n) the state before each
    chunk, or (b, 0, d, n) to save none (no backward will follow); last_state: (b, d, n)."""
    nbatch, length, ndim = u.shape
    nstate = A.shape[1]
    ngroups = B.shape[1]
    per_group = ndim // ngroups
    nblocks = -(-per_group // CHANNEL_BLOCK)
    nchunks = -(-length // CHECKPOINT_EVERY)
    save = checkpoints.shape[1] > 0
    channels_last = u.strides[2] < u.strides[1]
    for task in numba.prange(nbatch * ngroups * nblocks):
        bi, gi, first, stop = _channel_block(task, ngroups, nblocks, per_group)
        state = np.zeros((CHANNEL_BLOCK, nstate), dtype=out.dtype)
        for index in range(nchunks * (stop - first)):
            chunk, di = _chunk_and_channel(index, nchunks, first, stop - first, channels_last)
            h = state[di - first]
            if save:
                checkpoints[bi, chunk, di] = h
            a = A[di]
            for t in range(chunk * CHECKPOINT_EVERY, min(length, (chunk + 1) * CHECKPOINT_EVERY)):
                step = dt[bi, t, di]
                step_u = step * u[bi, t, di]
                bt = B[bi, gi, t]
                ct = C[bi, gi, t]
                acc = 0.0
                for n in range(nstate):
                    h[n] = fast_exp(step * a[n]) * h[n] + step_u * bt[n]
                    acc += h[n] * ct[n]
                out[bi, t, di] = acc
        last_state[bi, first:stop] = state[: stop - first]


@numba.njit(parallel=True, nogil=True, cache=True, fastmath=FASTMATH)
def _scan_backward(u, dt, A, B, C, checkpoints, dout, du, ddt, dA, dB_parts, dC_parts):
    """Shapes as in ``_scan_forward``; dout, du, ddt: (b, l, d); dA: (b, d, n); dB_parts, dC_parts: (b, g, P, l, n)
    per-partition sums."""
    nbatch, length, ndim = u.shape
    nstate = A.shape[1]
    ngroups = B.shape[1]
    per_group = ndim // ngroups
    nblocks = -(-per_group // CHANNEL_BLOCK)
    nparts = dB_parts.shape[2]
    nchunks = checkpoints.shape[1]
    channels_last = u.strides[2] < u.strides[1]
    for task in numba.prange(nbatch * ngroups * nparts):
        part = task % nparts
        group_task = task // nparts  # batch * ngroups + group
        dBp = dB_parts[group_task // ngroups, group_task % ngroups, part]
        dCp = dC_parts[group_task // ngroups, group_task % ngroups, part]
        # one buffer for a chunk's states and decays, so that row t of the two is never a multiple of 4 KiB apart:
        # with two allocations that malloc happened to place so, the backward ran 25 % slower (4K aliasing between
        # the stores to one and the loads from the other)
        buffer = np.empty((2 * CHECKPOINT_EVERY + 2, nstate), dtype=u.dtype)
        states = buffer[: CHECKPOINT_EVERY + 1]
        decays = buffer[CHECKPOINT_EVERY + 2 :]
        adjoint = np.empty((CHANNEL_BLOCK, nstate), dtype=u.dtype)
        dA_acc = np.empty((CHANNEL_BLOCK, nstate), dtype=u.dtype)
        for block in range((part * nblocks) // nparts, ((part + 1) * nblocks) // nparts):
            bi, gi, first, stop = _channel_block(group_task * nblocks + block, ngroups, nblocks, per_group)
            adjoint[:] = 0.0
            dA_acc[:] = 0.0
            for index in range(nchunks * (stop - first)):
                chunk, di = _chunk_and_channel(index, nchunks, first, stop - first, channels_last)
                chunk = nchunks - 1 - chunk  # the chunks in reverse
                t0 = chunk * CHECKPOINT_EVERY
                t1 = min(length, t0 + CHECKPOINT_EVERY)
                a = A[di]
                g_adj = adjoint[di - first]
                g_dA = dA_acc[di - first]
                states[0] = checkpoints[bi, chunk, di]
                for t in range(t0, t1):  # recompute this chunk's states and decays
                    j = t - t0
                    step = dt[bi, t, di]
                    step_u = step * u[bi, t, di]
                    bt = B[bi, gi, t]
                    for n in range(nstate):
                        decay = fast_exp(step * a[n])
                        decays[j, n] = decay
                        states[j + 1, n] = decay * states[j, n] + step_u * bt[n]
                for t in range(t1 - 1, t0 - 1, -1):  # adjoint recurrence g_t = exp(dt_{t+1} A) g_{t+1} + C_t dy_t
                    j = t - t0
                    step = dt[bi, t, di]
                    ut = u[bi, t, di]
                    dy = dout[bi, t, di]
                    bt = B[bi, gi, t]
                    ct = C[bi, gi, t]
                    dBt = dBp[t]
                    dCt = dCp[t]
                    du_t = 0.0
                    ddt_t = 0.0
                    for n in range(nstate):
                        g = g_adj[n] + ct[n] * dy
                        prev = states[j, n]
                        decay = decays[j, n]
                        dCt[n] += dy * states[j + 1, n]
                        dBt[n] += g * step * ut
                        du_t += g * step * bt[n]
                        ddt_t += g * (bt[n] * ut + a[n] * decay * prev)
                        g_dA[n] += g * step * decay * prev
                        g_adj[n] = g * decay
                    ddt[bi, t, di] = ddt_t
                    du[bi, t, di] = du_t
            dA[bi, first:stop] = dA_acc[: stop - first]


def _saved_chunks(length: int, save_states: bool) -> int:
    """How many chunk states the forward saves for the backward: one per ``CHECKPOINT_EVERY`` steps, or none."""
    return -(-length // CHECKPOINT_EVERY) if save_states else 0


def _as_array(x: torch.Tensor) -> np.ndarray:
    return x.detach().contiguous().numpy()


def _partitions(batch: int, groups: int, blocks: int) -> int:
    """Partitions of each group's channel blocks for the backward, so that batch * groups * P keeps every thread
    busy."""
    threads = numba.get_num_threads()
    return max(1, min(blocks, -(-threads // (batch * groups))))


def _transposed_array(x: torch.Tensor) -> np.ndarray:
    """``B`` or ``C`` ``(b, g, n, l)`` as ``(b, g, l, n)``: the state dimension contiguous for the inner loops."""
    return _as_array(x.transpose(-1, -2))


def _sequence_array(x: torch.Tensor) -> np.ndarray:
    """``x (b, d, l)`` as the ``(b, l, d)`` array the kernels index, sharing its memory when ``x`` is contiguous either
    way round: channels-last (as MambaLayer's projections make it) or channels-first (as SS2D's cross-scan)."""
    view = x.detach().transpose(1, 2)
    return (view if view.is_contiguous() or x.is_contiguous() else view.contiguous()).numpy()


def _sum_partitions(parts: np.ndarray) -> torch.Tensor:
    """``(b, g, P, l, n)`` per-partition sums -> the contiguous ``(b, g, n, l)`` gradient, summed straight into it
    (a sum, then a transposed copy, held one more ``(b, g, n, l)`` at the backward's peak)."""
    parts = torch.from_numpy(parts)
    batch, groups, _, length, nstate = parts.shape
    grad = parts.new_empty(batch, groups, nstate, length)
    torch.sum(parts, dim=2, out=grad.transpose(-1, -2))
    return grad


def _arrays(u, dt, A, B, C) -> list[np.ndarray]:
    return [_sequence_array(u), _sequence_array(dt), _as_array(A), _transposed_array(B), _transposed_array(C)]


def _channels_last(u: torch.Tensor) -> bool:
    """Whether ``u (b, d, l)`` is a transposed view of a contiguous ``(b, l, d)`` tensor."""
    return not u.is_contiguous() and u.transpose(1, 2).is_contiguous()


def _empty_sequence(u: torch.Tensor, dtype) -> np.ndarray:
    """An uninitialised ``(b, l, d)`` array laid out as ``u``: the kernels write ``y``, ``du`` and ``ddt`` in the
    layout of their inputs."""
    batch, dim, length = u.shape
    if _channels_last(u):
        return np.empty((batch, length, dim), dtype=dtype)
    return np.empty((batch, dim, length), dtype=dtype).transpose(0, 2, 1)


def _new_sequence(u: torch.Tensor) -> torch.Tensor:
    """The fake counterpart of ``torch.from_numpy(_empty_sequence(u)).transpose(1, 2)``."""
    batch, dim, length = u.shape
    return u.new_empty(batch, length, dim).transpose(1, 2) if _channels_last(u) else u.new_empty(batch, dim, length)


@torch.library.custom_op("monai_mamba::selective_scan_cpu", mutates_args=(), device_types="cpu")
def selective_scan_cpu_op(
    u: torch.Tensor, dt: torch.Tensor, A: torch.Tensor, B: torch.Tensor, C: torch.Tensor, save_states: bool = True
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Core recurrence on CPU: ``u, dt (b, d, l)``, ``A (d, n)``, ``B, C (b, g, n, l)``, all float32 or all float64
    -> ``y (b, d, l)`` laid out as ``u``, the last state ``(b, d, n)`` and the states saved for the backward
    ``(b, ceil(l / CHECKPOINT_EVERY), d, n)``, or ``(b, 0, d, n)`` with ``save_states=False`` (inference: nothing
    allocated or written for a backward). A PyTorch operator: ``torch.compile`` runs it without a graph break and
    ``torch.export`` records it as one node; its gradient is ``selective_scan_cpu_backward``."""
    use_torch_threads()
    batch, dim, length = u.shape
    nstate = A.shape[1]
    arrays = _arrays(u, dt, A, B, C)
    dtype = arrays[0].dtype
    out = _empty_sequence(u, dtype)
    checkpoints = np.empty((batch, _saved_chunks(length, save_states), dim, nstate), dtype=dtype)
    last_state = np.empty((batch, dim, nstate), dtype=dtype)
    _scan_forward(*arrays, out, checkpoints, last_state)
    return torch.from_numpy(out).transpose(1, 2), torch.from_numpy(last_state), torch.from_numpy(checkpoints)


@selective_scan_cpu_op.register_fake
def _(u, dt, A, B, C, save_states=True):
    batch, dim, length = u.shape
    nstate = A.shape[1]
    return (
        _new_sequence(u),
        u.new_empty(batch, dim, nstate),
        u.new_empty(batch, _saved_chunks(length, save_states), dim, nstate),
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
    chunks' states are recomputed from ``checkpoints``. ``du, ddt`` are laid out as ``u``."""
    use_torch_threads()
    arrays = _arrays(u, dt, A, B, C)
    batch, dim, length = u.shape
    groups, nstate = B.shape[1], A.shape[1]
    nparts = _partitions(batch, groups, -(-(dim // groups) // CHANNEL_BLOCK))
    dtype = arrays[0].dtype
    du, ddt = _empty_sequence(u, dtype), _empty_sequence(u, dtype)
    dA = np.empty((batch, dim, nstate), dtype=dtype)
    dB_parts = np.zeros((batch, groups, nparts, length, nstate), dtype=dtype)
    dC_parts = np.zeros_like(dB_parts)
    dout = _sequence_array(dout.to(u.dtype))
    _scan_backward(*arrays, _as_array(checkpoints), dout, du, ddt, dA, dB_parts, dC_parts)
    return (
        torch.from_numpy(du).transpose(1, 2),
        torch.from_numpy(ddt).transpose(1, 2),
        torch.from_numpy(dA).sum(0),
        _sum_partitions(dB_parts),
        _sum_partitions(dC_parts),
    )


@selective_scan_cpu_backward.register_fake
def _(dout, u, dt, A, B, C, checkpoints):
    return (_new_sequence(u), _new_sequence(u)) + tuple(t.new_empty(t.shape) for t in (A, B, C))  # as the kernel


def _setup_context(ctx, inputs, output):
    if not inputs[5]:
        raise RuntimeError("selective_scan_cpu: save_states=False saves nothing for a backward pass")
    ctx.save_for_backward(*inputs[:5], output[2])
    ctx.mark_non_differentiable(output[1], output[2])


def _backward(ctx, dout, _dlast_state, _dcheckpoints):
    return *selective_scan_cpu_backward(dout, *ctx.saved_tensors), None


selective_scan_cpu_op.register_autograd(_backward, setup_context=_setup_context)


def _core(u, dt, A, B, C):
    """The operator, saving the chunks' states only when a backward can follow (not under ``no_grad`` or
    ``inference_mode``, nor for inputs that need no gradient)."""
    y, last_state, _ = selective_scan_cpu_op(u, dt, A, B, C, save_states=gradient_can_follow(u, dt, A, B, C))
    return y, last_state


def selective_scan_cpu(*args, **kwargs) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
    """Compiled CPU scan; arguments as ``monai_mamba.ops.selective_scan`` with ``B, C`` grouped ``(b, g, n, l)``."""
    return scan_with_core(_core, *args, **kwargs)

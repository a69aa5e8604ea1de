# Copyright (c) monai-mamba contributors. Licensed under the Apache License, Version 2.0.
"""Pure-PyTorch chunked selective scan with a recomputing backward (any device).

The sequence is cut into chunks of ``T`` steps and stored position-major, ``(T, b, g, h, chunks)``, so each
step of a Python loop is one contiguous op over all chunks at once:

1. within every chunk, scan from a zero state to get the chunk's local end state;
2. scan the ``chunks`` local end states (with each chunk's total decay) to get every chunk's true start state;
3. scan within every chunk again from its start state and read out ``y``.

Only multiplications by decays ``exp(dt * A) <= 1`` and additions occur: no division by a decay, so large
``dt`` or very negative ``A`` underflow harmlessly to zero instead of producing Inf/NaN (the trap of the
published "divide by the cumulative decay" chunked scans). The backward runs the same two-level scheme in
reverse for the adjoint state and recomputes the forward states block of chunks by block of chunks from the
saved chunk start states, so its extra memory stays a small multiple of ``b * d * l``.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from monai_mamba.ops.scan_common import scan_with_core
from monai_mamba.ops.tracing import is_tracing

__all__ = ["selective_scan_torch"]

# state values a backward block may hold, as a multiple of b * d * l
_BLOCK_BUDGET = 2


def _chunk_length(length: int) -> int:
    """About sqrt(length) steps (16 to 256), never more than the sequence has: a short sequence (a deep stage's few
    tokens) is one chunk of its own length, not padded to 16 steps."""
    return int(min(length, 256, max(16, 2 ** round(math.log2(math.sqrt(length))))))


def _position_major(x: torch.Tensor, length: int, chunk: int) -> torch.Tensor:
    """(..., l) -> (chunk, ..., chunks), zero-padded to a whole number of chunks."""
    padded = -(-length // chunk) * chunk
    x = F.pad(x, (0, padded - length))
    return x.unflatten(-1, (-1, chunk)).movedim(-1, 0).contiguous()


def _from_position_major(x: torch.Tensor, length: int) -> torch.Tensor:
    return x.movedim(0, -1).flatten(-2)[..., :length]


def _scan_chunks(start: torch.Tensor, decay: torch.Tensor, local_end: torch.Tensor, reverse: bool) -> torch.Tensor:
    """Carry states across chunks. All (..., chunks, n); returns each chunk's incoming state."""
    decay, local_end = decay.movedim(-2, 0), local_end.movedim(-2, 0)
    carried, state = [], start
    order = range(local_end.shape[0] - 1, -1, -1) if reverse else range(local_end.shape[0])
    for c in order:
        carried.append(state)
        state = decay[c] * state + local_end[c]
    return torch.stack(carried[::-1] if reverse else carried).movedim(0, -2)


def _grouped_chunked_scan(u, dt, A, B, C):
    """``u, dt (b, d, l)``, ``A (d, n)``, ``B, C (b, g, n, l)`` -> ``y (b, d, l)``, last state ``(b, d, n)``.

    Without gradients to compute (inference), and while tracing or exporting, the forward runs as plain tensor
    operations (``_chunked_forward``), which ``torch.jit.trace`` and ``torch.export`` record; training goes through
    ``_ChunkedScan`` for its memory-saving backward."""
    batch, dim, length = u.shape
    groups = B.shape[1]
    split = (batch, groups, dim // groups, length)
    args = (u.reshape(split), dt.reshape(split), A.reshape(groups, dim // groups, -1), B, C)
    needs_grad = torch.is_grad_enabled() and any(t.requires_grad for t in args)
    if needs_grad and not is_tracing():
        y, last_state = _ChunkedScan.apply(*args)
    else:
        y, last_state, _ = _chunked_forward(*args)
    return y.reshape(batch, dim, length), last_state.reshape(batch, dim, -1)


def _chunked_forward(u, dt, A, B, C):
    """The two-level forward: ``y (b, g, h, l)``, the last state and every chunk's start state."""
    length = u.shape[-1]
    chunk = _chunk_length(length)
    dt_p = _position_major(dt, length, chunk)  # (T, b, g, h, c)
    dtu_p = _position_major(dt * u, length, chunk)
    B_p = _position_major(B, length, chunk).transpose(-1, -2).unsqueeze(3)  # (T, b, g, 1, c, n)
    C_p = _position_major(C, length, chunk).transpose(-1, -2).unsqueeze(3)
    A_b = A.unsqueeze(-2)  # (g, h, 1, n)
    if dt_p.shape[-1] == 1:  # one chunk (a short sequence): it starts from zero, no pass for its start state
        starts = torch.zeros(dtu_p.shape[1:] + A.shape[-1:], dtype=dtu_p.dtype, device=dtu_p.device)
    else:
        local = dtu_p[0].unsqueeze(-1) * B_p[0]
        for j in range(1, chunk):  # decays computed step by step: memory b * d * chunks * n, not b * d * l * n
            local = local * torch.exp(dt_p[j].unsqueeze(-1) * A_b) + dtu_p[j].unsqueeze(-1) * B_p[j]
        chunk_decay = torch.exp(dt_p.sum(0).unsqueeze(-1) * A_b)
        starts = _scan_chunks(torch.zeros_like(local[..., 0, :]), chunk_decay, local, reverse=False)
    state, ys = starts, []
    for j in range(chunk):  # padded steps (dt = 0) keep the state: the last one is the sequence's last state
        state = state * torch.exp(dt_p[j].unsqueeze(-1) * A_b) + dtu_p[j].unsqueeze(-1) * B_p[j]
        ys.append(torch.linalg.vecdot(state, C_p[j]))
    return _from_position_major(torch.stack(ys), length), state[..., -1, :], starts


class _ChunkedScan(torch.autograd.Function):
    """Core recurrence ``h_t = exp(dt_t A) h_{t-1} + dt_t u_t B_t``, ``y_t = <C_t, h_t>`` in float32/64.

    Inputs: ``u, dt (b, g, h, l)``, ``A (g, h, n)``, ``B, C (b, g, n, l)``. Returns ``y (b, g, h, l)`` and the last
    state.
    """

    @staticmethod
    def forward(ctx, u, dt, A, B, C):
        y, last_state, starts = _chunked_forward(u, dt, A, B, C)
        ctx.save_for_backward(u, dt, A, B, C, starts)
        ctx.mark_non_differentiable(last_state)
        return y, last_state

    @staticmethod
    def backward(ctx, dy, _dlast_state):
        u, dt, A, B, C, starts = ctx.saved_tensors
        length = u.shape[-1]
        chunk = _chunk_length(length)
        dt_p = _position_major(dt, length, chunk)
        u_p = _position_major(u, length, chunk)
        dtu_p = dt_p * u_p
        dy_p = _position_major(dy.to(u.dtype), length, chunk)
        B_p = _position_major(B, length, chunk).transpose(-1, -2).unsqueeze(3)
        C_p = _position_major(C, length, chunk).transpose(-1, -2).unsqueeze(3)
        A_b = A.unsqueeze(-2)
        # adjoint q_t = exp(dt_t A) * g_t, g_t = q_{t+1} + C_t dy_t: local reverse scans, then across chunks
        decay = torch.empty(dt_p.shape[1:] + A.shape[-1:], dtype=u.dtype, device=u.device)
        local = torch.zeros_like(decay)
        for j in range(chunk - 1, -1, -1):
            torch.mul(dt_p[j].unsqueeze(-1), A_b, out=decay).exp_()
            local.addcmul_(dy_p[j].unsqueeze(-1), C_p[j]).mul_(decay)
        chunk_decay = torch.exp(dt_p.sum(0).unsqueeze(-1) * A_b)
        incoming = _scan_chunks(torch.zeros_like(local[..., 0, :]), chunk_decay, local, reverse=True)
        del local, chunk_decay

        du_p, ddt_p = torch.empty_like(dt_p), torch.empty_like(dt_p)
        dB_p = torch.empty(B_p.shape[:3] + B_p.shape[4:], dtype=u.dtype, device=u.device)  # (T, b, g, c, n)
        dC_p = torch.empty_like(dB_p)
        dA = torch.zeros_like(A)
        nchunks = dt_p.shape[-1]
        block = max(1, (_BLOCK_BUDGET * nchunks * chunk) // ((chunk + 1) * A.shape[-1]))
        for c0 in range(0, nchunks, block):
            blk = slice(c0, min(nchunks, c0 + block))
            states = torch.empty((chunk + 1,) + starts[..., blk, :].shape, dtype=u.dtype, device=u.device)
            states[0] = starts[..., blk, :]
            for j in range(chunk):
                torch.mul(dt_p[j, ..., blk].unsqueeze(-1), A_b, out=states[j + 1]).exp_()
                states[j + 1].mul_(states[j]).addcmul_(dtu_p[j, ..., blk].unsqueeze(-1), B_p[j][..., blk, :])
            q = incoming[..., blk, :].clone()
            for j in range(chunk - 1, -1, -1):
                dt_j, dy_j = dt_p[j, ..., blk], dy_p[j, ..., blk]
                b_j, c_j = B_p[j][..., blk, :], C_p[j][..., blk, :]
                g = q.addcmul_(dy_j.unsqueeze(-1), c_j)
                dC_p[j, ..., blk, :] = torch.einsum("bghc,bghcn->bgcn", dy_j, states[j + 1])
                dB_p[j, ..., blk, :] = torch.einsum("bghc,bghcn->bgcn", dtu_p[j, ..., blk], g)
                g_b = torch.linalg.vecdot(g, b_j)
                decay_j = torch.exp(dt_j.unsqueeze(-1) * A_b)
                g_decay_prev = g * decay_j * states[j]
                du_p[j, ..., blk] = g_b * dt_j
                ddt_p[j, ..., blk] = g_b * u_p[j, ..., blk] + torch.einsum("bghcn,ghn->bghc", g_decay_prev, A)
                dA += torch.einsum("bghcn,bghc->ghn", g_decay_prev, dt_j)
                q = g.mul_(decay_j)
            del states
        del dt_p, u_p, dtu_p, dy_p, B_p, C_p, starts, incoming  # free before the layout copies below
        dB = _from_position_major(dB_p.transpose(-1, -2), length)
        dC = _from_position_major(dC_p.transpose(-1, -2), length)
        return _from_position_major(du_p, length), _from_position_major(ddt_p, length), dA, dB, dC


def selective_scan_torch(*args, **kwargs) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
    """Chunked PyTorch scan; arguments as ``monai_mamba.ops.selective_scan`` with ``B, C`` grouped ``(b, g, n, l)``."""
    return scan_with_core(_grouped_chunked_scan, *args, **kwargs)

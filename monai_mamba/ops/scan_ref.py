# Copyright (c) monai-mamba contributors. Licensed under the Apache License, Version 2.0.
"""The obvious sequential selective scan, for tests only.

It follows ``mamba_ssm.ops.selective_scan_interface.selective_scan_ref`` line for line in meaning and is
differentiated by autograd. It is slow (a Python loop over the sequence) and keeps the whole
``(b, d, l, n)`` state history for backward: never use it outside tests.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

__all__ = ["selective_scan_ref"]


def selective_scan_ref(
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
    """Reference scan. ``B, C`` are grouped ``(b, g, n, l)``; computes in ``promote(u.dtype, float32)``.

    Returns ``y (b, d, l)`` in ``u.dtype`` and, when asked, the last state ``(b, d, n)`` in the compute dtype.
    """
    in_dtype = u.dtype
    dtype = torch.promote_types(in_dtype, torch.float32)
    batch, dim, length = u.shape
    groups = B.shape[1]
    u, delta, A = u.to(dtype), delta.to(dtype), A.to(dtype)
    B = B.to(dtype).repeat_interleave(dim // groups, dim=1)  # (b, d, n, l)
    C = C.to(dtype).repeat_interleave(dim // groups, dim=1)
    if delta_bias is not None:
        delta = delta + delta_bias.to(dtype)[:, None]
    if delta_softplus:
        delta = F.softplus(delta)
    state = u.new_zeros(batch, dim, A.shape[1])
    ys = []
    for delta_t, u_t, b_t, c_t in zip(delta.unbind(-1), u.unbind(-1), B.unbind(-1), C.unbind(-1)):
        state = torch.exp(delta_t[..., None] * A) * state + (delta_t * u_t)[..., None] * b_t
        ys.append((state * c_t).sum(-1))
    y = torch.stack(ys, dim=-1)
    if D is not None:
        y = y + u * D.to(dtype)[:, None]
    if z is not None:
        y = y * F.silu(z.to(dtype))
    y = y.to(in_dtype)
    return (y, state) if return_last_state else y

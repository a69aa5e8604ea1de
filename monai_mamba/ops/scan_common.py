# Copyright (c) monai-mamba contributors. Licensed under the Apache License, Version 2.0.
"""What the ``cpu`` and ``torch`` backends share: everything around the core recurrence.

A backend supplies only the core ``h_t = exp(dt_t A) h_{t-1} + dt_t u_t B_t``, ``y_t = <C_t, h_t>`` as an
autograd function of ``(u, dt, A, B, C)``. The delta bias, the softplus, the ``D`` skip and the ``silu(z)``
gate are elementwise over ``(b, d, l)``: they run here as ordinary vectorised torch ops, differentiated by
autograd, in the compute precision.
"""

from __future__ import annotations

from typing import Callable

import torch
import torch.nn.functional as F

__all__ = ["compute_dtype", "scan_with_core"]

CoreScan = Callable[..., tuple[torch.Tensor, torch.Tensor]]


def compute_dtype(dtype: torch.dtype) -> torch.dtype:
    """float64 stays float64; everything else (fp16, bf16, fp32) is computed in float32."""
    return torch.float64 if dtype == torch.float64 else torch.float32


def scan_with_core(
    core: CoreScan,
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
    """Selective scan (arguments as ``monai_mamba.ops.selective_scan``, ``B, C`` grouped ``(b, g, n, l)``)
    around ``core(u, dt, A, B, C) -> (y (b, d, l), last_state (b, d, n))`` in the compute precision."""
    in_dtype = u.dtype
    dtype = compute_dtype(in_dtype)
    u = u.to(dtype)
    dt = delta.to(dtype)
    if delta_bias is not None:
        dt = dt + delta_bias.to(dtype)[:, None]
    if delta_softplus:
        dt = F.softplus(dt)
    y, last_state = core(u, dt, A.to(dtype), B.to(dtype), C.to(dtype))
    if D is not None:
        y = torch.addcmul(y, u, D.to(dtype)[:, None])
    if z is not None:
        y = y * F.silu(z.to(dtype))
    y = y.to(in_dtype)
    return (y, last_state) if return_last_state else y

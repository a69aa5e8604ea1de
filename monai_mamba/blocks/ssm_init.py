# Copyright (c) monai-mamba contributors. Licensed under the Apache License, Version 2.0.
"""Initialisation of the selective-scan parameters shared by the Mamba layer and SS2D, as in mamba_ssm's
``Mamba.__init__`` and VMamba's ``SS2D.dt_init`` / ``A_log_init`` / ``D_init``."""

from __future__ import annotations

import math

import torch

__all__ = ["init_dt_projection", "s4d_real_log_a"]


@torch.no_grad()
def init_dt_projection(
    weight: torch.Tensor,
    bias: torch.Tensor,
    dt_min: float = 0.001,
    dt_max: float = 0.1,
    dt_init: str = "random",
    dt_scale: float = 1.0,
    dt_init_floor: float = 1e-4,
) -> None:
    """Initialise a ``dt`` projection in place.

    ``weight (..., d_inner, dt_rank)`` gets ``U(-s, s)`` (or the constant ``s``) with ``s = dt_rank**-0.5 * dt_scale``;
    ``bias (..., d_inner)`` gets ``softplus^{-1}(dt)`` with ``dt`` log-uniform in ``[dt_min, dt_max]``, floored at
    ``dt_init_floor``, so that ``softplus(bias)`` starts in that range.
    """
    std = weight.shape[-1] ** -0.5 * dt_scale
    if dt_init == "constant":
        weight.fill_(std)
    elif dt_init == "random":
        weight.uniform_(-std, std)
    else:
        raise ValueError(f"dt_init must be 'random' or 'constant', got {dt_init!r}.")
    dt = torch.exp(torch.rand_like(bias) * (math.log(dt_max) - math.log(dt_min)) + math.log(dt_min))
    dt = dt.clamp(min=dt_init_floor)
    bias.copy_(dt + torch.log(-torch.expm1(-dt)))


def s4d_real_log_a(d_inner: int, d_state: int) -> torch.Tensor:
    """S4D-real initialisation of ``A_log``: row ``c`` is ``log(1), ..., log(d_state)``; shape
    ``(d_inner, d_state)``."""
    return torch.log(torch.arange(1, d_state + 1, dtype=torch.float32)).repeat(d_inner, 1)

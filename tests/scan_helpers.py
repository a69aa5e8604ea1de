# Copyright (c) monai-mamba contributors. Licensed under the Apache License, Version 2.0.
"""Test helpers: random selective-scan inputs and a norm-relative closeness check."""

from __future__ import annotations

import torch


def make_scan_inputs(
    batch=2,
    dim=8,
    nstate=4,
    length=300,
    groups=2,
    grouped=True,
    with_d=True,
    with_z=True,
    with_bias=True,
    dtype=torch.float32,
    device="cpu",
    delta_scale=1.0,
    a_min=-3.0,
    seed=0,
):
    """Inputs of ``selective_scan`` as a dict of leaf tensors requiring grad (None where left out)."""
    gen = torch.Generator().manual_seed(seed)

    def rand(*shape):
        return torch.randn(*shape, generator=gen, dtype=torch.float64)

    b_shape = (batch, groups, nstate, length) if grouped else (batch, nstate, length)
    inputs = {
        "u": rand(batch, dim, length),
        "delta": rand(batch, dim, length).abs() * delta_scale,  # positive time steps, also without softplus
        "A": torch.rand(dim, nstate, generator=gen, dtype=torch.float64) * a_min,
        "B": rand(*b_shape),
        "C": rand(*b_shape),
        "D": rand(dim) if with_d else None,
        "z": rand(batch, dim, length) if with_z else None,
        "delta_bias": rand(dim).abs() * 0.5 if with_bias else None,
    }
    return {k: None if v is None else v.to(dtype=dtype, device=device).requires_grad_() for k, v in inputs.items()}


def assert_rel_close(actual: torch.Tensor, expected: torch.Tensor, rtol: float, name: str = "") -> None:
    """``max|actual - expected| <= rtol * max|expected|`` (relative to the tensor's scale, not per element)."""
    expected = expected.to(actual.device, torch.float64)
    err = (actual.detach().double() - expected.detach()).abs().max().item()
    scale = expected.detach().abs().max().item()
    assert err <= rtol * max(scale, 1e-12), f"{name}: max error {err:.3g} > {rtol:g} x scale {scale:.3g}"

# Copyright (c) monai-mamba contributors. Licensed under the Apache License, Version 2.0.
"""Outputs and gradients of a module on a backend, and how to compare them with float64.

A network's float32 gradients can be far from float64's with no bug at all: the gradient of a parameter before a norm
layer (``skip_scale``, a conv bias before InstanceNorm) is a sum of large terms that cancel, and float32 rounding
dominates it (LightM-UNet: ``skip_scale`` gradients 40x their float64 value on either CPU backend). So a path is judged
by its distance to float64 against the CPU path's own distance, tensor by tensor.
"""

from __future__ import annotations

import copy
import os

import torch

from monai_mamba.ops import SCAN_BACKEND_ENV


def run_forward_backward(module: torch.nn.Module, inputs: torch.Tensor, backend: str, autocast=None, device="cpu"):
    """Output, input gradient and parameter gradients of a copy of ``module`` on ``backend`` and ``device``
    (``inputs`` cast to the module's dtype), optionally under autocast to ``autocast``. The loss is the output weighted
    by fixed random numbers, over the square root of its size (gradients of a training loss's magnitude: far from
    float16's overflow and underflow); dropout and drop-path draw the same masks on every run."""
    module = copy.deepcopy(module).to(device)
    x = inputs.to(device, next(module.parameters()).dtype).clone().requires_grad_()
    saved = os.environ.get(SCAN_BACKEND_ENV)
    os.environ[SCAN_BACKEND_ENV] = backend
    try:
        torch.manual_seed(0)
        with torch.autocast(torch.device(device).type, dtype=autocast, enabled=autocast is not None):
            out = module(x)
        out = out[0] if isinstance(out, (list, tuple)) else out
        weights = torch.randn(out.shape, generator=torch.Generator().manual_seed(1), dtype=torch.float64).to(device)
        ((out.double() * weights).sum() / out.numel() ** 0.5).backward()
    finally:
        if saved is None:
            os.environ.pop(SCAN_BACKEND_ENV)
        else:
            os.environ[SCAN_BACKEND_ENV] = saved
    grads = {name: p.grad for name, p in module.named_parameters() if p.grad is not None}
    return {"output": out.detach(), "input gradient": x.grad, **grads}


def float64_errors(result: dict, truth: dict) -> dict:
    """Max absolute difference of each tensor of ``result`` from the float64 ``truth``."""
    assert result.keys() == truth.keys(), f"different tensors: {set(result) ^ set(truth)}"
    return {k: (v.double() - truth[k].to(v.device)).abs().max().item() for k, v in result.items()}


def assert_as_close_to_float64(actual: dict, reference: dict, truth: dict, label: str, factor=4.0, rtol=1e-5) -> None:
    """Each tensor of ``actual`` is as close to float64's ``truth`` as the ``reference`` path's (within ``factor`` of
    its error, plus ``rtol`` of the tensor's scale): a wrong argument to a kernel shows as an O(1) error."""
    errors, allowed = float64_errors(actual, truth), float64_errors(reference, truth)
    for name, error in errors.items():
        limit = factor * allowed[name] + rtol * truth[name].abs().max().item()
        assert error <= limit, (
            f"{label}, {name}: error {error:.3g} from float64 > {limit:.3g} (CPU path's {allowed[name]:.3g})"
        )


def relative_error(result: dict, truth: dict, keys) -> float:
    """``|result - truth| / |truth|`` over the tensors ``keys`` taken together (Euclidean norms)."""
    diff = sum(((result[k].double() - truth[k].to(result[k].device)) ** 2).sum().item() for k in keys)
    norm = sum((truth[k].double() ** 2).sum().item() for k in keys)
    return (diff / norm) ** 0.5


def assert_network_as_close_to_float64(actual: dict, references: list, truth: dict, label: str, factor=2.0) -> None:
    """A network's output, input gradient and parameter gradients (each taken together) are as close to float64's
    ``truth`` as the closest-to-float64 bound the ``references`` (our CPU backends) set: within ``factor`` of the
    larger of their errors, plus 1e-5. Per-tensor checks are for blocks: in a network, rounding can flip a max-pool's
    choice or a ReLU's side, which moves a gradient between elements (LightM-UNet's torch backend: 6e-3 of the
    gradients' norm from float64, against 2e-5 for the numba backend)."""
    parameters = [k for k in truth if k not in ("output", "input gradient")]
    checks = [("output", ["output"]), ("input gradient", ["input gradient"]), ("gradients", parameters)]
    for what, keys in (check for check in checks if all(k in truth for k in check[1])):
        error = relative_error(actual, truth, keys)
        limit = factor * max(relative_error(r, truth, keys) for r in references) + 1e-5
        assert error <= limit, f"{label}: {what} {error:.3g} from float64 > {limit:.3g}"


def assert_autocast_close(result: dict, truth: dict, tolerance: dict, label: str) -> None:
    """Under autocast: every output and gradient is finite, and the output, the input gradient and the parameter
    gradients (each taken together) are within ``tolerance`` (``{"output": ..., "gradients": ...}``) of float64."""
    for name, tensor in result.items():
        assert tensor.isfinite().all(), f"{label}: {name} is not finite"
    parameters = [k for k in result if k not in ("output", "input gradient")]
    for what, keys, limit in (
        ("output", ["output"], tolerance["output"]),
        ("input gradient", ["input gradient"], tolerance["gradients"]),
        ("gradients", parameters, tolerance["gradients"]),
    ):
        error = relative_error(result, truth, keys)
        assert error <= limit, f"{label}: {what} {error:.3g} from float64 > {limit}"

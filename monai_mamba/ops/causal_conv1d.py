# Copyright (c) monai-mamba contributors. Licensed under the Apache License, Version 2.0.
"""Depthwise causal 1-D convolution, same result and weights on every path: ``causal_conv1d_fn`` of the causal-conv1d
package on CUDA when it is installed, the compiled numba kernel (``causal_conv1d_cpu``) on CPU, and
``torch.nn.functional.conv1d`` otherwise (other devices and dtypes, and under ``torch.jit.trace`` and ONNX export,
which record plain tensor operations)."""

from __future__ import annotations

import functools
import importlib.util
import logging

import torch
import torch.nn.functional as F

from monai_mamba.ops.tracing import records_plain_tensor_ops

__all__ = ["causal_conv1d"]

logger = logging.getLogger(__name__)


@functools.lru_cache(maxsize=1)
def _load_causal_conv1d_fn():
    try:
        from causal_conv1d import causal_conv1d_fn
    except Exception as error:  # absent, or built for another torch/CUDA
        logger.debug("causal_conv1d unavailable: %s", error)
        return None
    return causal_conv1d_fn


def _cpu_kernel():
    """The numba kernel, imported on first use (numba compiles or loads its cache then); None without numba."""
    if importlib.util.find_spec("numba") is None:
        return None
    from monai_mamba.ops.causal_conv1d_cpu import causal_conv1d_cpu

    return causal_conv1d_cpu


def causal_conv1d(
    x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None = None, activation: str | None = None
) -> torch.Tensor:
    """Depthwise causal convolution: ``out[:, c, t]`` sees ``x[:, c, t - w + 1 .. t]``.

    Args:
        x: ``(b, d, l)``.
        weight: ``(d, w)`` (``nn.Conv1d(d, d, w, groups=d).weight`` squeezed).
        bias: ``(d,)`` or None.
        activation: None or ``"silu"``.

    Returns:
        ``(b, d, l)``.
    """
    if activation not in (None, "silu", "swish"):
        raise ValueError(f"causal_conv1d: activation must be None or 'silu', got {activation!r}.")
    fused = _load_causal_conv1d_fn() if x.is_cuda else None
    if fused is not None:
        return fused(x, weight, bias, activation)
    if x.device.type == "cpu" and x.dtype in (torch.float32, torch.float64) and not records_plain_tensor_ops():
        kernel = _cpu_kernel()
        if kernel is not None:
            bias = bias if bias is not None else x.new_zeros(x.shape[1])
            return kernel(x, weight.to(x.dtype), bias.to(x.dtype), activation is not None)
    width = weight.shape[-1]
    out = F.conv1d(x, weight.unsqueeze(1), bias, padding=width - 1, groups=x.shape[1])[..., : x.shape[-1]]
    return F.silu(out) if activation is not None else out

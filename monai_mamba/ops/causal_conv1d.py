# Copyright (c) monai-mamba contributors. Licensed under the Apache License, Version 2.0.
"""Depthwise causal 1-D convolution, same result and weights on every path: ``causal_conv1d_fn`` of the causal-conv1d
package (``"cuda"``), the compiled numba kernel (``"cpu"``, ``causal_conv1d_cpu``) and ``torch.nn.functional.conv1d``
(``"torch"``: other devices and dtypes, and under ``torch.jit.trace`` and ONNX export, which record plain tensor
operations). The backend is asked for as the selective scan's is (``monai_mamba.ops.backends``); where the one asked
for cannot take the call, the next one does, as mamba_ssm's ``Mamba`` falls back to ``conv1d`` without causal-conv1d.
On the CPU kernel, bfloat16/float16 inputs (CPU bfloat16 autocast) are summed in float32 and rounded once."""

from __future__ import annotations

import importlib.util

import torch
import torch.nn.functional as F

from monai_mamba.ops.backends import gradient_can_follow, requested_backend
from monai_mamba.ops.kernel_packages import kernel_package
from monai_mamba.ops.tracing import records_plain_tensor_ops

__all__ = ["causal_conv1d", "causal_conv1d_backend"]

# what causal-conv1d's kernel takes (csrc/causal_conv1d.cpp): these dtypes, widths 2..4; channels-last inputs only with
# a multiple of 8 channels and strides
_PACKAGE_DTYPES = (torch.float32, torch.float16, torch.bfloat16)
_PACKAGE_WIDTHS = range(2, 5)


def _cpu_kernel():
    """The numba kernel, imported on first use (numba compiles or loads its cache then); None without numba."""
    if importlib.util.find_spec("numba") is None:
        return None
    from monai_mamba.ops.causal_conv1d_cpu import causal_conv1d_cpu

    return causal_conv1d_cpu


_CPU_DTYPES = (torch.float32, torch.float64, torch.bfloat16, torch.float16)


def causal_conv1d_backend(x: torch.Tensor, width: int, backend: str | None = None) -> str:
    """The path a call with input ``x`` and kernel ``width`` takes: ``"cuda"``, ``"cpu"`` or ``"torch"``."""
    requested = requested_backend(backend)
    if records_plain_tensor_ops() or requested in ("torch", "ref"):
        return "torch"
    package_fits = x.dtype in _PACKAGE_DTYPES and width in _PACKAGE_WIDTHS
    if (requested == "cuda" or x.is_cuda) and package_fits and kernel_package("causal-conv1d").function is not None:
        return "cuda"
    if x.device.type == "cpu" and x.dtype in _CPU_DTYPES and _cpu_kernel() is not None:
        return "cpu"
    return "torch"


def causal_conv1d(
    x: torch.Tensor,
    weight: torch.Tensor,
    bias: torch.Tensor | None = None,
    activation: str | None = None,
    backend: str | None = None,
) -> torch.Tensor:
    """Depthwise causal convolution: ``out[:, c, t]`` sees ``x[:, c, t - w + 1 .. t]``.

    Args:
        x: ``(b, d, l)``, in either memory layout.
        weight: ``(d, w)`` (``nn.Conv1d(d, d, w, groups=d).weight`` squeezed).
        bias: ``(d,)`` or None.
        activation: None or ``"silu"``.
        backend: None/``"auto"``, ``"cuda"``, ``"cpu"``, ``"torch"`` or ``"ref"`` (``monai_mamba.ops.backends``).

    Returns:
        ``(b, d, l)`` in ``x.dtype``.
    """
    if activation not in (None, "silu", "swish"):
        raise ValueError(f"causal_conv1d: activation must be None or 'silu', got {activation!r}.")
    width = weight.shape[-1]
    path = causal_conv1d_backend(x, width, backend)
    if path == "cuda":
        channels_last = x.stride(1) == 1 and x.stride(2) > 1
        if channels_last and (x.shape[1] % 8 or x.stride(0) % 8 or x.stride(2) % 8):
            x = x.contiguous()  # the kernel reads channels-last inputs only in blocks of 8 channels
        function = kernel_package("causal-conv1d").function
        return function(x=x, weight=weight, bias=None if bias is None else bias.to(weight.dtype), activation=activation)
    if path == "cpu":  # half-precision inputs (CPU bfloat16 autocast) are computed in float32 and rounded once
        compute = torch.promote_types(x.dtype, torch.float32)
        bias = bias if bias is not None else x.new_zeros(x.shape[1])
        # where no backward follows, the kernel reads and writes bfloat16 itself (no float32 copies of x and out)
        inference = x.dtype == torch.bfloat16 and not gradient_can_follow(x, weight, bias)
        out = _cpu_kernel()(
            x if inference else x.to(compute), weight.to(compute), bias.to(compute), activation is not None
        )
        return out.to(x.dtype)
    out = F.conv1d(x, weight.unsqueeze(1), bias, padding=width - 1, groups=x.shape[1])[..., : x.shape[-1]]
    return F.silu(out) if activation is not None else out

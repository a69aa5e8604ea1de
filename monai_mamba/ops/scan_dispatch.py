# Copyright (c) monai-mamba contributors. Licensed under the Apache License, Version 2.0.
"""One selective-scan contract (Mamba-1, ``mamba_ssm``'s ``selective_scan_fn``), several backends.

Backends, picked at call time:

- ``"cuda"``: mamba-ssm's kernel; used automatically when it imports and the tensors are on a CUDA device. Asked for by
  name, it is called whatever the device (``monai_mamba.ops.backends``).
- ``"cpu"``: the compiled numba kernels; used automatically for CPU tensors: ``scan_cpu`` (the recurrence as an
  autograd operator) where a backward can follow, ``scan_cpu_inference`` (the whole scan in one pass) where none can.
- ``"torch"``: the pure-PyTorch chunked scan (``scan_torch``); used on a GPU without mamba-ssm, and on CPU
  when numba cannot be imported.
- ``"ref"``: the sequential reference loop (``scan_ref``), for tests only.

The choice can be forced with the ``backend`` argument or, for a whole run, the environment variable
``MONAI_MAMBA_SCAN_BACKEND`` (the argument wins). Every backend computes in float32 (float64 for float64
inputs), also under autocast, and returns ``y`` in the dtype of ``u``.
"""

from __future__ import annotations

import importlib.util

import torch

from monai_mamba.ops.backends import SCAN_BACKEND_ENV, gradient_can_follow, requested_backend
from monai_mamba.ops.scan_cuda import cuda_scan_available, cuda_scan_unavailable_reason, selective_scan_cuda
from monai_mamba.ops.scan_ref import selective_scan_ref
from monai_mamba.ops.scan_torch import selective_scan_torch
from monai_mamba.ops.tracing import records_plain_tensor_ops

__all__ = ["selective_scan", "available_scan_backends", "resolve_scan_backend", "SCAN_BACKEND_ENV", "scan_observers"]

# callables(u, A, D, z) told of every scan call, e.g. by monai_mamba.profiling to count its FLOPs; empty normally
scan_observers: list = []


def _cpu_scan(inference: bool = False):
    """The numba kernel, imported on first use (numba compiles or loads its cache then); None without numba.
    ``inference``: the fused forward-only kernel."""
    if importlib.util.find_spec("numba") is None:
        return None
    if inference:
        from monai_mamba.ops.scan_cpu_inference import selective_scan_cpu_inference

        return selective_scan_cpu_inference
    from monai_mamba.ops.scan_cpu import selective_scan_cpu

    return selective_scan_cpu


def available_scan_backends(device: torch.device | str = "cpu", dtype: torch.dtype | None = None) -> list[str]:
    """Backends that can run on tensors of ``device`` (and ``dtype``: mamba-ssm has no float64 kernel), fastest
    first."""
    device = torch.device(device)
    names = []
    if device.type == "cuda" and dtype != torch.float64 and cuda_scan_available():
        names.append("cuda")
    if device.type == "cpu" and _cpu_scan() is not None:
        names.append("cpu")
    return names + ["torch", "ref"]


def resolve_scan_backend(
    device: torch.device | str, backend: str | None = None, dtype: torch.dtype | None = None
) -> str:
    """The backend a call on ``device`` (with ``dtype`` inputs) will use: ``backend``, else
    ``$MONAI_MAMBA_SCAN_BACKEND``, else the fastest available. ``"cuda"`` asked for by name needs mamba-ssm to import
    and a dtype its kernel has (not float64), whatever the device."""
    requested = requested_backend(backend)
    available = available_scan_backends(device, dtype)
    if requested == "auto":
        return available[0]
    if requested == "cuda" and dtype != torch.float64 and cuda_scan_unavailable_reason() is None:
        return requested
    if requested not in available:
        tensors = " ".join(str(x) for x in (torch.device(device), dtype) if x)
        reason = cuda_scan_unavailable_reason() if requested == "cuda" else None
        why = f" (mamba-ssm: {reason})" if reason else ""
        raise RuntimeError(
            f"selective-scan backend {requested!r} cannot run on {tensors} tensors here{why}; "
            f"available: {available}. Use backend='auto' (or unset ${SCAN_BACKEND_ENV}) to pick one automatically."
        )
    return requested


def _check_shapes(u, delta, A, B, C, D, z, delta_bias) -> None:
    def fail(problem: str) -> None:
        raise ValueError(
            f"selective_scan: {problem}. Expected u, delta, z (b, d, l); A (d, n); "
            "B, C (b, n, l) or grouped (b, g, n, l) with d % g == 0; D, delta_bias (d,)."
        )

    if u.dim() != 3:
        fail(f"u must be 3-D (b, d, l), got shape {tuple(u.shape)}")
    batch, dim, length = u.shape
    if delta.shape != u.shape:
        fail(f"delta has shape {tuple(delta.shape)}, u has {tuple(u.shape)}")
    if z is not None and z.shape != u.shape:
        fail(f"z has shape {tuple(z.shape)}, u has {tuple(u.shape)}")
    if A.dim() != 2 or A.shape[0] != dim or A.is_complex():
        fail(f"A must be real of shape (d={dim}, n), got {tuple(A.shape)} {A.dtype}")
    nstate = A.shape[1]
    for name, t in (("B", B), ("C", C)):
        if t.dim() == 3:
            t = t.unsqueeze(1)
        if t.dim() != 4 or t.shape[0] != batch or t.shape[2] != nstate or t.shape[3] != length:
            fail(f"{name} has shape {tuple(t.shape)}, need (b={batch}, [g,] n={nstate}, l={length})")
        if dim % t.shape[1]:
            fail(f"{name} has {t.shape[1]} groups, which do not divide d={dim}")
    for name, t in (("D", D), ("delta_bias", delta_bias)):
        if t is not None and t.shape != (dim,):
            fail(f"{name} has shape {tuple(t.shape)}, need (d={dim},)")


def selective_scan(
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
    backend: str | None = None,
) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
    """Selective scan of Mamba (Gu & Dao, 2023), with the semantics of mamba_ssm's ``selective_scan_fn``.

    With ``dt = softplus(delta + delta_bias)`` (softplus only if ``delta_softplus``) and ``g(c)`` the group
    of channel ``c``::

        h_t[c] = exp(dt_t[c] * A[c]) * h_{t-1}[c] + dt_t[c] * u_t[c] * B_t[g(c)]      (h_{-1} = 0)
        y_t[c] = <C_t[g(c)], h_t[c]> + D[c] * u_t[c],   then   y *= silu(z)  if z is given

    Args:
        u: input ``(b, d, l)``.
        delta: time steps before bias/softplus ``(b, d, l)``.
        A: real state matrix diagonal ``(d, n)``, usually ``-exp(A_log)``.
        B, C: input/output projections ``(b, n, l)``, or grouped ``(b, g, n, l)`` with ``d % g == 0``
            (channels ``[k d/g, (k+1) d/g)`` read group ``k``; VMamba passes its scan directions as groups).
        D: skip ``(d,)``.
        z: gate ``(b, d, l)``.
        delta_bias: ``(d,)``.
        delta_softplus: apply softplus to ``delta + delta_bias``.
        return_last_state: also return the state after the last step ``(b, d, n)`` (no gradient flows
            through it, as in mamba_ssm).
        backend: ``"auto"``/None, ``"cuda"``, ``"cpu"``, ``"torch"`` or ``"ref"``; see the module docstring.

    Returns:
        ``y (b, d, l)`` in ``u.dtype``, and the last state in float32 when ``return_last_state``.
    """
    _check_shapes(u, delta, A, B, C, D, z, delta_bias)
    for observe in scan_observers:
        observe(u, A, D, z)
    if records_plain_tensor_ops():
        name = "torch"  # torch.jit.trace and ONNX export record the pure-PyTorch scan instead of a compiled kernel
    else:
        name = resolve_scan_backend(u.device, backend, u.dtype)
    if B.dim() == 3:
        B = B.unsqueeze(1)
    if C.dim() == 3:
        C = C.unsqueeze(1)
    args = (u, delta, A, B, C, D, z, delta_bias, delta_softplus, return_last_state)
    if name == "cuda":
        return selective_scan_cuda(*args)
    if name == "cpu":
        scan = _cpu_scan(inference=not gradient_can_follow(u, delta, A, B, C, D, z, delta_bias))
    else:
        scan = {"torch": selective_scan_torch, "ref": selective_scan_ref}[name]
    with torch.autocast(device_type=u.device.type, enabled=False):
        return scan(*args)

# Copyright (c) monai-mamba contributors. Licensed under the Apache License, Version 2.0.
"""The backend a run asks for, shared by the selective scan and the causal conv1d: the ``backend`` argument, else the
environment variable ``MONAI_MAMBA_SCAN_BACKEND``, else ``"auto"``.

- ``"cuda"``: the kernel packages (mamba-ssm, causal-conv1d). ``"auto"`` takes them for CUDA tensors when they import;
  asked for by name they are called whatever the device (their compiled kernels take CUDA tensors only; the contract
  tests run them on CPU with stand-ins for the compiled parts).
- ``"cpu"``: the compiled numba kernels, for CPU tensors.
- ``"torch"``: plain PyTorch (the chunked scan, ``F.conv1d``).
- ``"ref"``: the sequential reference scan, for tests (the conv1d takes ``F.conv1d``).

On the CPU both ops take a forward-only path where ``gradient_can_follow`` is false (``no_grad``, ``inference_mode``).
"""

from __future__ import annotations

import os

import torch

__all__ = ["BACKENDS", "SCAN_BACKEND_ENV", "gradient_can_follow", "requested_backend"]

SCAN_BACKEND_ENV = "MONAI_MAMBA_SCAN_BACKEND"
BACKENDS = ("cuda", "cpu", "torch", "ref")


def requested_backend(backend: str | None = None) -> str:
    """``backend``, else ``$MONAI_MAMBA_SCAN_BACKEND``, else ``"auto"``, lower-cased and checked."""
    requested = (backend or os.environ.get(SCAN_BACKEND_ENV) or "auto").lower()
    if requested != "auto" and requested not in BACKENDS:
        raise ValueError(
            f"unknown selective-scan backend {requested!r} (from the backend argument or ${SCAN_BACKEND_ENV}); "
            f"choose one of 'auto', {', '.join(repr(b) for b in BACKENDS)}."
        )
    return requested


def gradient_can_follow(*tensors: torch.Tensor | None) -> bool:
    """Whether a backward pass can follow a call on ``tensors``: grad mode on (not ``no_grad`` or ``inference_mode``)
    and one of them requires a gradient."""
    return torch.is_grad_enabled() and any(t is not None and t.requires_grad for t in tensors)

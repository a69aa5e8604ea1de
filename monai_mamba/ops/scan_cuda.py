# Copyright (c) monai-mamba contributors. Licensed under the Apache License, Version 2.0.
"""mamba-ssm's CUDA selective scan, imported lazily: its absence is normal, never an error."""

from __future__ import annotations

import functools
import logging

import torch

__all__ = ["cuda_scan_available", "selective_scan_cuda"]

logger = logging.getLogger(__name__)


@functools.lru_cache(maxsize=1)
def _load_cuda_scan():
    """Return mamba_ssm's ``selective_scan_fn`` when its compiled extension imports, else None."""
    try:
        import selective_scan_cuda  # noqa: F401  (mamba_ssm's compiled extension; its absence means no kernel)
        from mamba_ssm.ops.selective_scan_interface import selective_scan_fn
    except Exception as error:  # ImportError, or an extension built for another torch/CUDA
        logger.debug("mamba_ssm CUDA selective scan unavailable: %s", error)
        return None
    return selective_scan_fn


def cuda_scan_available() -> bool:
    """True when mamba_ssm's CUDA kernel can be used (it also needs the tensors on a CUDA device)."""
    return torch.cuda.is_available() and _load_cuda_scan() is not None


def selective_scan_cuda(
    u, delta, A, B, C, D=None, z=None, delta_bias=None, delta_softplus=False, return_last_state=False
):
    """mamba_ssm's ``selective_scan_fn`` on contiguous inputs; ``B, C`` grouped ``(b, g, n, l)``."""
    scan = _load_cuda_scan()
    if scan is None:
        raise RuntimeError(
            "backend='cuda' needs mamba-ssm with its CUDA extension: install it with "
            "`pip install \"monai-mamba[cuda]\"` on a machine with CUDA, or use backend='torch'."
        )
    contiguous = [None if t is None else t.contiguous() for t in (u, delta, A, B, C, D, z, delta_bias)]
    return scan(*contiguous, delta_softplus=delta_softplus, return_last_state=return_last_state)

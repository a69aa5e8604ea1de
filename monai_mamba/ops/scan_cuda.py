# Copyright (c) monai-mamba contributors. Licensed under the Apache License, Version 2.0.
"""mamba-ssm's selective scan (``selective_scan_fn``), called by keyword with the inputs its CUDA kernel accepts."""

from __future__ import annotations

import torch

from monai_mamba.ops.kernel_packages import kernel_package

__all__ = ["cuda_scan_available", "cuda_scan_unavailable_reason", "selective_scan_cuda"]


def cuda_scan_available() -> bool:
    """True when mamba-ssm's kernel can run here: a CUDA device, and mamba-ssm imports."""
    return torch.cuda.is_available() and kernel_package("mamba-ssm").function is not None


def cuda_scan_unavailable_reason() -> str | None:
    """Why mamba-ssm's ``selective_scan_fn`` cannot be called (its import error), or None when it can."""
    return kernel_package("mamba-ssm").error


def selective_scan_cuda(
    u, delta, A, B, C, D=None, z=None, delta_bias=None, delta_softplus=False, return_last_state=False
):
    """mamba-ssm's ``selective_scan_fn``; ``B, C`` grouped ``(b, g, n, l)``.

    Its kernel (``csrc/selective_scan/selective_scan.cpp``) takes ``u, delta, B, C, z`` in one dtype (float32,
    float16 or bfloat16; under autocast they can differ here) and ``A, D, delta_bias`` in float32, and keeps its state
    in float32; the interface makes the sequences contiguous along ``l``.
    """
    package = kernel_package("mamba-ssm")
    if package.function is None:
        raise RuntimeError(
            f"backend='cuda' needs mamba-ssm, which does not import here ({package.error}). Fix: {package.fix}; "
            "or use backend='auto'."
        )

    def sequence(t):
        return None if t is None else t.to(u.dtype)

    def weight(t):
        return None if t is None else t.float().contiguous()

    try:
        return package.function(
            u=u,
            delta=sequence(delta),
            A=weight(A),
            B=sequence(B),
            C=sequence(C),
            D=weight(D),
            z=sequence(z),
            delta_bias=weight(delta_bias),
            delta_softplus=delta_softplus,
            return_last_state=return_last_state,
        )
    except RuntimeError as error:
        if u.is_cuda:
            raise
        raise RuntimeError(
            f"backend='cuda' got {u.device} tensors, and mamba-ssm's kernel takes CUDA tensors only: move the model "
            "and its inputs to a GPU, or use backend='auto'."
        ) from error

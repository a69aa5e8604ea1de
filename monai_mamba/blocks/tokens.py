# Copyright (c) monai-mamba contributors. Licensed under the Apache License, Version 2.0.
"""Run a token-wise function over a channels-first feature map in float32, for the Mamba layers of the U-Nets."""

from __future__ import annotations

from typing import Callable

import torch

__all__ = ["at_least_float32", "map_tokens_fp32"]


def at_least_float32(x: torch.Tensor) -> torch.Tensor:
    """``x`` in float32 if it is a half-precision (or integer) tensor, unchanged if float32 or float64."""
    return x if x.dtype in (torch.float32, torch.float64) else x.float()


def map_tokens_fp32(x: torch.Tensor, fn: Callable[[torch.Tensor], torch.Tensor]) -> torch.Tensor:
    """Flatten ``x`` ``(b, c, *spatial)`` to raster-order tokens ``(b, L, c)`` in float32 (float64 stays float64),
    apply ``fn`` with autocast disabled, and fold the result ``(b, L, c_out)`` back to ``(b, c_out, *spatial)``.

    The Mamba layers of LightM-UNet and MambaClinix compute in float32 also under fp16/bf16 autocast, as their
    official code does (the selective scan's state is not safe in half precision).

    The result is contiguous (channels-first), not a channels-last view of the tokens: on such a view, the GroupNorm
    that follows in LightM-UNet computes wrong values and gradients in ``torch.compile``'s CPU training graphs (torch
    2.13, inductor; caught by ``tests/test_compile.py``).
    """
    batch, spatial = x.shape[0], x.shape[2:]
    with torch.autocast(device_type=x.device.type, enabled=False):
        out = fn(at_least_float32(x).flatten(2).transpose(1, 2))
    return out.transpose(1, 2).reshape(batch, out.shape[-1], *spatial).contiguous()

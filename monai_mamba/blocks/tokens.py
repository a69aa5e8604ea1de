# Copyright (c) monai-mamba contributors. Licensed under the Apache License, Version 2.0.
"""The precision of the U-Nets' Mamba layers under autocast, and running a token-wise function over a channels-first
feature map in it.

The Mamba layers of LightM-UNet, MambaClinix and U-Mamba compute in float32 also under float16 autocast, as their
official code does (float16's range is not safe for the layer's activations). Under bfloat16 autocast (float32's
range; a bundle's ``cpu_bf16``, or bfloat16 AMP on a GPU) they take part in it like every other layer: the
projections run in bfloat16, while the causal conv1d and the selective scan read their inputs into float32 and keep
their sums and state in float32. On a CPU with AMX/AVX512-BF16 the projections were most of the layer's float32 time
(``benchmarks/networks.py --profile``).
"""

from __future__ import annotations

import contextlib
from typing import Callable

import torch

__all__ = ["at_least_float32", "layer_input", "layer_precision", "map_tokens"]


def at_least_float32(x: torch.Tensor) -> torch.Tensor:
    """``x`` in float32 if it is a half-precision (or integer) tensor, unchanged if float32 or float64."""
    return x if x.dtype in (torch.float32, torch.float64) else x.float()


def _bfloat16_autocast(x: torch.Tensor) -> bool:
    device = x.device.type
    return torch.is_autocast_enabled(device) and torch.get_autocast_dtype(device) == torch.bfloat16


def layer_input(x: torch.Tensor) -> torch.Tensor:
    """A Mamba layer's input: unchanged under bfloat16 autocast, else at least float32."""
    return x if _bfloat16_autocast(x) else at_least_float32(x)


def layer_precision(x: torch.Tensor) -> contextlib.AbstractContextManager:
    """The context a Mamba layer computes in: the current bfloat16 autocast, else autocast disabled (float32)."""
    return contextlib.nullcontext() if _bfloat16_autocast(x) else torch.autocast(x.device.type, enabled=False)


def map_tokens(x: torch.Tensor, fn: Callable[[torch.Tensor], torch.Tensor]) -> torch.Tensor:
    """Flatten ``x`` ``(b, c, *spatial)`` to raster-order tokens ``(b, L, c)``, apply ``fn`` in the Mamba layers'
    precision (``layer_input``, ``layer_precision``) and fold the result ``(b, L, c_out)`` back to
    ``(b, c_out, *spatial)``.

    The result is contiguous (channels-first), not a channels-last view of the tokens: on such a view, the GroupNorm
    that follows in LightM-UNet computes wrong values and gradients in ``torch.compile``'s CPU training graphs (torch
    2.13, inductor; caught by ``tests/test_compile.py``).
    """
    batch, spatial = x.shape[0], x.shape[2:]
    with layer_precision(x):
        out = fn(layer_input(x).flatten(2).transpose(1, 2))
    return out.transpose(1, 2).reshape(batch, out.shape[-1], *spatial).contiguous()

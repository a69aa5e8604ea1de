# Copyright (c) monai-mamba contributors. Licensed under the Apache License, Version 2.0.
"""Input checks shared by the blocks, so a wrong shape fails at the block's door with a message that names the fix."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from monai.utils import ensure_tuple_rep

from monai_mamba.ops.tracing import is_tracing

__all__ = ["check_channels_first", "check_channels_last", "per_stage"]


def check_channels_last(owner: str, x: torch.Tensor, channels: int, spatial_dims: int, multiple: int = 1) -> None:
    """Raise ``ValueError`` unless ``x`` is ``(batch, *spatial, channels)`` with spatial sizes divisible by ``multiple``
    (skipped while tracing or exporting)."""
    if is_tracing():
        return
    if x.dim() != spatial_dims + 2 or x.shape[-1] != channels:
        raise ValueError(
            f"{owner} (spatial_dims={spatial_dims}) expects channels-last input (batch, "
            f"{', '.join('xyz'[:spatial_dims])}, channels={channels}), got shape {tuple(x.shape)}."
        )
    if any(s % multiple for s in x.shape[1:-1]):
        raise ValueError(
            f"{owner} needs spatial sizes divisible by {multiple}, got {tuple(x.shape[1:-1])}; crop or pad the input "
            "(e.g. monai.transforms.DivisiblePad) to a multiple of the network's total stride."
        )


def check_channels_first(
    owner: str,
    x: torch.Tensor,
    channels: int,
    spatial_dims: int,
    multiple: int | Sequence[int] = 1,
    resize_hint: str = "",
) -> None:
    """Raise ``ValueError`` unless ``x`` is ``(batch, channels, *spatial)`` with ``spatial_dims`` spatial axes whose
    sizes are divisible by ``multiple`` (one for all axes, or one per axis); ``resize_hint`` says how to get there.
    Skipped while tracing or exporting (the shapes are then symbolic; the check ran on the eager model)."""
    if is_tracing():
        return
    if x.dim() != spatial_dims + 2 or x.shape[1] != channels:
        raise ValueError(
            f"{owner} (spatial_dims={spatial_dims}) expects input (batch, in_channels={channels}, {spatial_dims} "
            f"spatial dims), got shape {tuple(x.shape)}; check the image channels (e.g. EnsureChannelFirstd) and "
            "whether the data is 2-D or 3-D."
        )
    multiples = ensure_tuple_rep(multiple, spatial_dims)
    if any(s % m for s, m in zip(x.shape[2:], multiples)):
        raise ValueError(
            f"{owner} needs spatial sizes divisible by {multiple if isinstance(multiple, int) else list(multiples)}, "
            f"got {tuple(x.shape[2:])}; {resize_hint}"
        )


def per_stage(owner: str, value, n_stages: int, spatial_dims: int, name: str) -> list[tuple[int, ...]]:
    """A plan's per-stage setting (strides, kernel sizes): an int, or one entry (int or per-axis sequence) per stage
    -> per-stage per-axis tuples; ``ValueError`` naming ``owner`` and ``name`` otherwise."""
    try:
        return [ensure_tuple_rep(v, spatial_dims) for v in ensure_tuple_rep(value, n_stages)]
    except ValueError as error:
        raise ValueError(
            f"{owner}: {name} needs an int or one entry per stage ({n_stages}), each an int or "
            f"{spatial_dims} per-axis values: {error}"
        ) from None

# Copyright (c) monai-mamba contributors. Licensed under the Apache License, Version 2.0.
"""A stage of VSS blocks, as VMamba's ``VSSLayer`` (and Mamba-UNet's ``VSSLayer_up``)."""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn as nn

from monai_mamba.blocks.patch_ops import PatchExpand, PatchMerging
from monai_mamba.blocks.vss_block import VSSBlock

__all__ = ["VSSStage"]


class VSSStage(nn.Module):
    """``len(drop_path)`` VSS blocks, then optionally ``PatchMerging`` (``resample="downsample"``) or
    ``PatchExpand`` (``"upsample"``), with VMamba's module names (``blocks``, ``downsample``, ``upsample``).

    Args:
        dim: channels.
        drop_path: stochastic-depth rate of each block (its length is the depth).
        d_state: SSM state size.
        spatial_dims: 2 or 3.
        resample: None, ``"downsample"`` or ``"upsample"``.
        ss2d_kwargs: further ``SS2D`` arguments.

    Shapes:
        channels-last ``(b, *spatial, dim)`` -> the same, or resampled by the merging/expanding layer.
    """

    def __init__(
        self,
        dim: int,
        drop_path: Sequence[float],
        d_state: int = 16,
        spatial_dims: int = 2,
        resample: str | None = None,
        **ss2d_kwargs,
    ) -> None:
        super().__init__()
        self.blocks = nn.ModuleList(
            VSSBlock(dim, drop_path=rate, d_state=d_state, spatial_dims=spatial_dims, **ss2d_kwargs)
            for rate in drop_path
        )
        if resample == "downsample":
            self.downsample = PatchMerging(dim, spatial_dims)
        elif resample == "upsample":
            self.upsample = PatchExpand(dim, spatial_dims)
        elif resample is not None:
            raise ValueError(f"resample must be None, 'downsample' or 'upsample', got {resample!r}.")
        self.resample = resample

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for block in self.blocks:
            x = block(x)
        return x if self.resample is None else getattr(self, self.resample)(x)

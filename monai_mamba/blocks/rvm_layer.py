# Copyright (c) monai-mamba contributors. Licensed under the Apache License, Version 2.0.
"""Residual Vision Mamba (RVM) layer of LightM-UNet (Liao et al., "LightM-UNet: Mamba Assists in
Lightweight UNet for Medical Image Segmentation", 2024)."""

from __future__ import annotations

import torch
import torch.nn as nn
from torch.utils.checkpoint import checkpoint

from monai_mamba.blocks.mamba_layer import MambaLayer
from monai_mamba.blocks.tokens import map_tokens

__all__ = ["RVMLayer"]


class RVMLayer(nn.Module):
    """``proj(LN(Mamba(LN(t)) + s * t))`` over the raster-flattened tokens ``t`` of a feature map.

    As the official code (``MambaLayer`` in the LightM-UNet repository): one forward Mamba scan over the
    tokens in raster order, a learnable scalar skip scale ``s`` (initialised to 1), the *same* LayerNorm
    applied before the Mamba layer and again after the residual sum, then ``Linear(C_in -> C_out)`` with bias.
    The layer computes in float32, also under float16 autocast (the official code upcasts float16 inputs); under
    bfloat16 autocast its projections run in bfloat16, the scan and conv1d in float32 (``tokens``).

    Args:
        in_channels: ``C_in``.
        out_channels: ``C_out``.
        d_state, d_conv, expand: of the Mamba layer (16, 4, 2 as the paper).
        scan_backend: selective-scan backend; None picks per device.
        activation_checkpointing: in training, keep only the layer's input and recompute the layer in the backward
            (``torch.utils.checkpoint``; one more forward of the layer). A LightM-UNet 3-D training step on one
            128^3 patch ran out of 24 GiB without it and peaked at 10.2 GiB with it.

    Shapes:
        ``(b, C_in, *spatial)`` -> ``(b, C_out, *spatial)`` in float32 (bfloat16 under bfloat16 autocast).
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        d_state: int = 16,
        d_conv: int = 4,
        expand: int = 2,
        scan_backend: str | None = None,
        activation_checkpointing: bool = False,
    ) -> None:
        super().__init__()
        self.in_channels, self.out_channels = in_channels, out_channels
        self.activation_checkpointing = activation_checkpointing
        self.norm = nn.LayerNorm(in_channels)
        self.mamba = MambaLayer(in_channels, d_state=d_state, d_conv=d_conv, expand=expand, scan_backend=scan_backend)
        self.proj = nn.Linear(in_channels, out_channels)
        self.skip_scale = nn.Parameter(torch.ones(1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() < 3 or x.shape[1] != self.in_channels:
            raise ValueError(
                f"RVMLayer expects channels-first input (batch, channels={self.in_channels}, *spatial), "
                f"got shape {tuple(x.shape)}."
            )
        if self.activation_checkpointing and torch.is_grad_enabled():
            return map_tokens(x, lambda tokens: checkpoint(self._tokens, tokens, use_reentrant=False))
        return map_tokens(x, self._tokens)

    def _tokens(self, tokens: torch.Tensor) -> torch.Tensor:
        return self.proj(self.norm(self.mamba(self.norm(tokens)) + self.skip_scale * tokens))

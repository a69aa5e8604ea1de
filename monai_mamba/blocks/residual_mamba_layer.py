# Copyright (c) monai-mamba contributors. Licensed under the Apache License, Version 2.0.
"""MambaClinix's residual Mamba layer (Bian et al. 2024; ``MambaLayer`` in ``nnunetv2/nets/MambaClinix_3d.py``)."""

from __future__ import annotations

import torch
import torch.nn as nn

from monai_mamba.blocks.mamba_layer import MambaLayer
from monai_mamba.blocks.tokens import layer_input, map_tokens

__all__ = ["ResidualMambaLayer"]


class ResidualMambaLayer(nn.Module):
    """``x + proj(LN(Mamba(LN(t))))`` over the raster-flattened tokens ``t`` of a channels-first feature map.

    As the official code: one forward Mamba scan in raster order, the *same* LayerNorm before and after the Mamba
    layer, ``Linear(c -> c)`` with bias, float32 also under float16 autocast (under bfloat16 autocast in
    its precision, ``tokens``). The official layer also creates a
    ``skip_scale`` parameter that its forward never uses; it is left out here (1 parameter less per layer).

    Args:
        channels: ``c``.
        d_state, d_conv, expand: of the Mamba layer (16, 4, 2).
        scan_backend: selective-scan backend; None picks per device.

    Shapes:
        ``(b, c, *spatial)`` -> ``(b, c, *spatial)`` in float32 (float64 for float64 input; under bfloat16
        autocast bfloat16).
    """

    def __init__(
        self, channels: int, d_state: int = 16, d_conv: int = 4, expand: int = 2, scan_backend: str | None = None
    ) -> None:
        super().__init__()
        self.channels = channels
        self.norm = nn.LayerNorm(channels)
        self.mamba = MambaLayer(channels, d_state=d_state, d_conv=d_conv, expand=expand, scan_backend=scan_backend)
        self.proj = nn.Linear(channels, channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() < 3 or x.shape[1] != self.channels:
            raise ValueError(
                f"ResidualMambaLayer expects (batch, channels={self.channels}, *spatial), got shape {tuple(x.shape)}."
            )
        return layer_input(x) + map_tokens(x, self._tokens)

    def _tokens(self, tokens: torch.Tensor) -> torch.Tensor:
        return self.proj(self.norm(self.mamba(self.norm(tokens))))

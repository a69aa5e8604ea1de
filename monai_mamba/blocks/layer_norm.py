# Copyright (c) monai-mamba contributors. Licensed under the Apache License, Version 2.0.
"""LayerNorm over the channel axis of a channels-first feature map."""

from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

__all__ = ["ChannelsFirstLayerNorm"]


class ChannelsFirstLayerNorm(nn.Module):
    """``LayerNorm`` over ``c`` of ``(b, c, *spatial)``, with an affine weight and bias of shape ``(c,)`` (the
    ``LayerNorm`` of ConvNeXt, HorNet and MambaClinix).

    Args:
        channels: ``c``.
        eps: added to the variance.
    """

    def __init__(self, channels: int, eps: float = 1e-6) -> None:
        super().__init__()
        self.weight, self.bias = nn.Parameter(torch.ones(channels)), nn.Parameter(torch.zeros(channels))
        self.eps = eps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.layer_norm(x.movedim(1, -1), self.weight.shape, self.weight, self.bias, self.eps).movedim(-1, 1)

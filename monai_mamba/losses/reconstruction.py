# Copyright (c) monai-mamba contributors. Licensed under the Apache License, Version 2.0.
"""ReSeg-UNet's stage-1 loss: reconstruct the image from its label map."""

from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

__all__ = ["ReconstructionLoss"]


class ReconstructionLoss(nn.Module):
    """``mse_weight * MSE + l1_weight * L1`` between a reconstruction and the image (ReSeg-UNet, Li et al., MICCAI
    2025: 0.6 and 0.4).

    The official code feeds a segmentation network's C-channel output against the 1-channel image (broadcast, so
    every output channel learns the image); here the reconstruction network has the image's channel count instead
    (``out_channels = in_channels``), and a shape mismatch is an error.

    Args:
        mse_weight: weight of the mean squared error.
        l1_weight: weight of the mean absolute error.

    Shapes:
        ``input`` and ``target``: ``(b, c, *spatial)``, the same shape.
    """

    def __init__(self, mse_weight: float = 0.6, l1_weight: float = 0.4) -> None:
        super().__init__()
        self.mse_weight, self.l1_weight = mse_weight, l1_weight

    def forward(self, input: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        if not isinstance(input, torch.Tensor):
            raise TypeError(
                f"the reconstruction network returned {type(input).__name__}; build it without deep "
                "supervision (deep_supervision=False) so that it returns one image."
            )
        if input.shape != target.shape:
            raise ValueError(
                f"reconstruction of shape {tuple(input.shape)} vs image {tuple(target.shape)}: build the "
                "reconstruction network with out_channels equal to the image channels."
            )
        target = target.to(input.dtype)
        return self.mse_weight * F.mse_loss(input, target) + self.l1_weight * F.l1_loss(input, target)

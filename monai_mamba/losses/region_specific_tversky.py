# Copyright (c) monai-mamba contributors. Licensed under the Apache License, Version 2.0.
"""MambaClinix's region-specific Tversky loss and its compound with cross-entropy and Dice (Bian et al. 2024; official
code ``CYB08/MambaClinix-PyTorch``: ``region_specific_tversky_losses.py``, ``mambaclinix_loss.py``)."""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn as nn
import torch.nn.functional as F
from monai.losses import DiceCELoss
from monai.networks import one_hot

__all__ = ["DiceCERegionSpecificTverskyLoss", "RegionSpecificTverskyLoss", "nnunet_deep_supervision_weights"]


class RegionSpecificTverskyLoss(nn.Module):
    """Tversky loss computed per sub-region of the patch, with adaptive false-positive/negative weights.

    With softmax probabilities ``p`` and one-hot labels ``y``, the per-voxel ``tp = p y``, ``fp = p (1 - y)``,
    ``fn = (1 - p) y`` are average-pooled into a grid of ``num_regions_per_axis`` sub-regions (adaptive pooling, so
    the patch need not divide evenly), summed over the batch when ``batch``; per class and region, with ``s`` =
    ``smooth``::

        alpha = a + b (FP + s) / (FP + FN + s),   beta = a + b (FN + s) / (FP + FN + s)      (adaptive, a=0.3, b=0.4)
        T = (TP + s) / (TP + alpha FP + beta FN + s)

    then ``T`` is averaged over regions, the background dropped (unless ``include_background``) and averaged over
    classes (and cases, without ``batch``). Returns ``1 - T`` (>= 0, 0 for a perfect prediction); the official code
    returns ``-T``, which differs by a constant (same gradients). ``adaptive=False`` uses the fixed ``alpha``/``beta``
    of the paper's ablation (0.3 / 0.7).

    Args:
        num_regions_per_axis: sub-regions per spatial axis ((8, 8, 14) in the official trainer; 2 entries for 2-D).
        include_background: keep class 0 in the mean.
        batch: sum the statistics over the batch before the ratio (nnU-Net's ``batch_dice``).
        softmax: apply a softmax over channels to the input (logits in).
        to_onehot_y: the target holds class indices ``(b, 1, *spatial)``.
        adaptive: adaptive alpha/beta as above; else the fixed ``alpha``, ``beta``.
        a, b: of the adaptive weights. alpha, beta: the fixed weights.
        smooth: ``s``.

    Shapes:
        ``input`` ``(b, c, *spatial)``; ``target`` ``(b, 1, *spatial)`` indices or ``(b, c, *spatial)`` one-hot.
    """

    def __init__(
        self,
        num_regions_per_axis: Sequence[int] = (8, 8, 14),
        include_background: bool = False,
        batch: bool = False,
        softmax: bool = True,
        to_onehot_y: bool = True,
        adaptive: bool = True,
        a: float = 0.3,
        b: float = 0.4,
        alpha: float = 0.3,
        beta: float = 0.7,
        smooth: float = 1e-5,
    ) -> None:
        super().__init__()
        self.num_regions_per_axis = tuple(num_regions_per_axis)
        if len(self.num_regions_per_axis) not in (2, 3):
            raise ValueError(f"num_regions_per_axis needs 2 or 3 entries, got {self.num_regions_per_axis}.")
        self.include_background, self.batch, self.softmax, self.to_onehot_y = (
            include_background,
            batch,
            softmax,
            to_onehot_y,
        )
        self.adaptive, self.a, self.b, self.alpha, self.beta, self.smooth = adaptive, a, b, alpha, beta, smooth

    def region_statistics(self, probabilities: torch.Tensor, target: torch.Tensor):
        """Pooled ``tp, fp, fn``: ``(b, c, *regions)``, or ``(c, *regions)`` when ``batch``."""
        pool = F.adaptive_avg_pool3d if probabilities.dim() == 5 else F.adaptive_avg_pool2d
        tp = pool(probabilities * target, self.num_regions_per_axis)
        fp = pool(probabilities * (1 - target), self.num_regions_per_axis)
        fn = pool((1 - probabilities) * target, self.num_regions_per_axis)
        if self.batch:
            tp, fp, fn = tp.sum(0), fp.sum(0), fn.sum(0)
        return tp, fp, fn

    def forward(self, input: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        spatial_dims = input.dim() - 2
        if spatial_dims != len(self.num_regions_per_axis):
            raise ValueError(
                f"RegionSpecificTverskyLoss: {spatial_dims}-D input but num_regions_per_axis="
                f"{self.num_regions_per_axis}; give one entry per spatial axis."
            )
        probabilities = torch.softmax(input.float(), 1) if self.softmax else input.float()
        if self.to_onehot_y:
            if target.shape[1] != 1:
                raise ValueError(
                    f"to_onehot_y expects class indices of shape (b, 1, *spatial), got {tuple(target.shape)}."
                )
            target = one_hot(target.long(), num_classes=input.shape[1])
        if target.shape != input.shape:
            raise ValueError(f"target shape {tuple(target.shape)} does not match input {tuple(input.shape)}.")
        tp, fp, fn = self.region_statistics(probabilities, target.float())
        s = self.smooth
        if self.adaptive:
            alpha = self.a + self.b * (fp + s) / (fp + fn + s)
            beta = self.a + self.b * (fn + s) / (fp + fn + s)
        else:
            alpha, beta = self.alpha, self.beta
        tversky = (tp + s) / (tp + alpha * fp + beta * fn + s)
        class_dim = 0 if self.batch else 1
        tversky = tversky.flatten(class_dim + 1).mean(-1)  # over regions: (c,) or (b, c)
        if not self.include_background:
            tversky = tversky[1:] if self.batch else tversky[:, 1:]
        return 1 - tversky.mean()


class DiceCERegionSpecificTverskyLoss(nn.Module):
    """MambaClinix's compound loss ``lambda_ce CE + lambda_dice Dice + lambda_rs RS`` (1, 1, 0.8 as the official
    trainer), built from MONAI's ``DiceCELoss`` (Dice without the background) and ``RegionSpecificTverskyLoss``.

    Args:
        num_regions_per_axis: of the region-specific loss.
        batch: batch Dice and batch region statistics (nnU-Net's ``batch_dice``).
        lambda_ce, lambda_dice, lambda_rs: weights.
        adaptive: adaptive alpha/beta of the region-specific loss.

    Shapes:
        ``input`` logits ``(b, c, *spatial)``; ``target`` class indices ``(b, 1, *spatial)``.
    """

    def __init__(
        self,
        num_regions_per_axis: Sequence[int] = (8, 8, 14),
        batch: bool = False,
        lambda_ce: float = 1.0,
        lambda_dice: float = 1.0,
        lambda_rs: float = 0.8,
        adaptive: bool = True,
    ) -> None:
        super().__init__()
        self.dice_ce = DiceCELoss(
            to_onehot_y=True,
            softmax=True,
            include_background=False,
            batch=batch,
            lambda_dice=lambda_dice,
            lambda_ce=lambda_ce,
        )
        self.region_tversky = RegionSpecificTverskyLoss(num_regions_per_axis, batch=batch, adaptive=adaptive)
        self.lambda_rs = lambda_rs

    def forward(self, input: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return self.dice_ce(input, target) + self.lambda_rs * self.region_tversky(input, target)


def nnunet_deep_supervision_weights(num_outputs: int) -> list[float]:
    """nnU-Net's deep-supervision weights for ``num_outputs`` heads (full resolution first): ``1 / 2^i``, the
    coarsest set to 0, normalised to sum 1 (for MONAI's ``DeepSupervisionLoss(weights=...)``)."""
    if num_outputs < 1:
        raise ValueError(f"num_outputs must be >= 1, got {num_outputs}.")
    if num_outputs == 1:
        return [1.0]
    weights = [1 / 2**i for i in range(num_outputs)]
    weights[-1] = 0.0
    total = sum(weights)
    return [w / total for w in weights]

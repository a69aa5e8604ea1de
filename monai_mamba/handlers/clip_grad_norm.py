# Copyright (c) monai-mamba contributors. Licensed under the Apache License, Version 2.0.
"""Gradient-norm clipping for MONAI's trainers, AMP included."""

from __future__ import annotations

import torch
from ignite.engine import Engine
from monai.engines.utils import IterationEvents

__all__ = ["ClipGradNorm"]


class ClipGradNorm:
    """Clip the gradient norm of the trainer's network to ``max_norm`` after every backward pass, before the
    optimizer step (nnU-Net clips at 12).

    MONAI's ``SupervisedTrainer`` fires ``IterationEvents.BACKWARD_COMPLETED`` between ``backward`` and
    ``optimizer.step``; with AMP the gradients are first unscaled (``GradScaler.unscale_``), so the norm is that of
    the true gradients and the scaler still skips steps with infinite gradients.

    Args:
        max_norm: the largest total gradient norm (2-norm over all parameters).
    """

    def __init__(self, max_norm: float = 12.0) -> None:
        self.max_norm = max_norm

    def attach(self, engine: Engine) -> None:
        engine.add_event_handler(IterationEvents.BACKWARD_COMPLETED, self)

    def __call__(self, engine: Engine) -> None:
        scaler = getattr(engine, "scaler", None)
        if getattr(engine, "amp", False) and scaler is not None:
            scaler.unscale_(engine.optimizer)
        torch.nn.utils.clip_grad_norm_(engine.network.parameters(), self.max_norm)

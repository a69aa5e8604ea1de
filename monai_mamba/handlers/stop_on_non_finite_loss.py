# Copyright (c) monai-mamba contributors. Licensed under the Apache License, Version 2.0.
"""Stop training with a clear error as soon as the loss is NaN or infinite."""

from __future__ import annotations

import math
from typing import Callable

import torch
from ignite.engine import Engine, Events
from monai.handlers import from_engine

__all__ = ["NonFiniteLossError", "StopOnNonFiniteLoss"]


class NonFiniteLossError(FloatingPointError):
    """Training produced a NaN or infinite loss."""


class StopOnNonFiniteLoss:
    """Raise ``NonFiniteLossError`` at the first iteration whose loss is NaN or infinite.

    Unlike ignite's ``TerminateOnNan``, which ends the run quietly with success, this fails the run with a message
    saying where and what to try. The error is raised inside the iteration, so the epoch never completes and no
    epoch-level checkpoint (``ResumableCheckpoint``, ``CheckpointSaver``) saves the poisoned weights: the newest
    checkpoint on disk is the last good one, and a restart resumes from it.

    Args:
        output_transform: extracts the loss from ``engine.state.output`` (MONAI trainers: the default).
    """

    def __init__(self, output_transform: Callable = from_engine(["loss"], first=True)) -> None:
        self.output_transform = output_transform

    def attach(self, engine: Engine) -> None:
        engine.add_event_handler(Events.ITERATION_COMPLETED, self)

    def __call__(self, engine: Engine) -> None:
        loss = self.output_transform(engine.state.output)
        loss = float(loss.detach()) if isinstance(loss, torch.Tensor) else float(loss)
        if not math.isfinite(loss):
            raise NonFiniteLossError(
                f"training loss is {loss} at epoch {engine.state.epoch}, iteration {engine.state.iteration}: stopped "
                "without saving this epoch, so the newest checkpoint is the last good one and a restart resumes "
                "from it. Try a lower learning_rate, run without amp, and check the data for NaN/Inf "
                "(monai_mamba.data.check_datalist)."
            )

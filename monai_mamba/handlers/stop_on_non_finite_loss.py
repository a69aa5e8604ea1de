# Copyright (c) monai-mamba contributors. Licensed under the Apache License, Version 2.0.
"""Stop training with a clear error as soon as the loss, or the weights, are NaN or infinite."""

from __future__ import annotations

import math
from typing import Callable

import torch
import torch.nn as nn
from ignite.engine import Engine, Events
from monai.handlers import from_engine

from monai_mamba.errors import ActionableError

__all__ = ["NonFiniteLossError", "StopOnNonFiniteLoss", "non_finite_parameters"]


class NonFiniteLossError(ActionableError, FloatingPointError):
    """Training produced a NaN or infinite loss, or NaN or infinite weights."""


def non_finite_parameters(network: nn.Module) -> list[str]:
    """Names of the parameters and floating-point buffers of ``network`` holding NaN or Inf (empty: all finite)."""
    tensors = list(network.named_parameters()) + [(n, b) for n, b in network.named_buffers() if b.is_floating_point()]
    return [name for name, tensor in tensors if not torch.isfinite(tensor.detach()).all()]


class StopOnNonFiniteLoss:
    """Raise ``NonFiniteLossError`` at the first iteration whose loss is NaN or infinite, and at the end of an epoch
    whose last optimizer step made the weights NaN or infinite.

    Unlike ignite's ``TerminateOnNan``, which ends the run quietly with success, this fails the run with a message
    saying where and what to try. The error is raised inside the iteration, so the epoch never completes and no
    epoch-level checkpoint (``ResumableCheckpoint``, ``BestModelSaver``) saves the poisoned weights: the newest
    checkpoint on disk is the last good one, and a restart resumes from it. The weights are checked on the last
    iteration of every epoch (cheap: once per epoch), which catches a step that ruins them after a finite loss.

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
        where = f"epoch {engine.state.epoch}, iteration {engine.state.iteration}"
        advice = (
            "stopped without saving this epoch, so the newest checkpoint is the last good one and a restart "
            "resumes from it. Try a lower learning_rate, run without amp, and check the data for NaN/Inf "
            "(monai_mamba.data.check_datalist)."
        )
        if not math.isfinite(loss):
            raise NonFiniteLossError(f"training loss is {loss} at {where}: {advice}")
        network = getattr(engine, "network", None)
        last_of_epoch = engine.state.epoch_length and engine.state.iteration % engine.state.epoch_length == 0
        if network is not None and last_of_epoch:
            bad = non_finite_parameters(network)
            if bad:
                raise NonFiniteLossError(
                    f"the weights are NaN/Inf after the last step of {where} "
                    f"({', '.join(bad[:3])}{', ...' if len(bad) > 3 else ''}): {advice}"
                )

# Copyright (c) monai-mamba contributors. Licensed under the Apache License, Version 2.0.
"""Stop training with a clear error as soon as the loss, or the weights, are NaN or infinite."""

from __future__ import annotations

import math
import os
from typing import Callable

import ignite.distributed as idist
import torch
import torch.nn as nn
from ignite.engine import Engine, Events
from monai.handlers import from_engine

from monai_mamba.errors import ActionableError
from monai_mamba.handlers.checkpoint_files import find_checkpoints

__all__ = ["NON_FINITE_SUFFIX", "NonFiniteLossError", "StopOnNonFiniteLoss", "non_finite_parameters"]

_ADVICE = (
    "Try a lower learning_rate, run without amp, and check the data for NaN/Inf (monai_mamba.data.check_datalist)."
)
NON_FINITE_SUFFIX = ".non-finite"  # a checkpoint whose weights gave a non-finite loss, kept out of the resume path


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
    epoch-level checkpoint (``ResumableCheckpoint``, ``BestModelSaver``) saves the poisoned weights. The weights are
    checked on the last iteration of every epoch (cheap: once per epoch), which catches a step that ruins them after a
    finite loss.

    A step can also leave the weights finite but exploded (a huge learning rate: |w| ~ 1e30), so that the checkpoint
    of that epoch is saved and the next loss is NaN. When the loss is non-finite at the first step of an epoch, it was
    computed with exactly the weights of the previous epoch's checkpoint (nothing changes them in between), so with
    ``checkpoint_dir`` that checkpoint is set aside (renamed ``checkpoint_epoch=<N>.pt.non-finite``) and a restart
    resumes from the one before it (``ResumableCheckpoint`` keeps two), or starts over if there is none. The message
    says which.

    Args:
        output_transform: extracts the loss from ``engine.state.output`` (MONAI trainers: the default).
        checkpoint_dir: the folder of ``ResumableCheckpoint``'s checkpoints; ``None``: nothing is set aside.
    """

    def __init__(
        self, output_transform: Callable = from_engine(["loss"], first=True), checkpoint_dir: str | None = None
    ) -> None:
        self.output_transform = output_transform
        self.checkpoint_dir = checkpoint_dir

    def attach(self, engine: Engine) -> None:
        engine.add_event_handler(Events.ITERATION_COMPLETED, self)

    def __call__(self, engine: Engine) -> None:
        loss = self.output_transform(engine.state.output)
        loss = float(loss.detach()) if isinstance(loss, torch.Tensor) else float(loss)
        epoch, iteration, length = engine.state.epoch, engine.state.iteration, engine.state.epoch_length
        where = f"epoch {epoch}, iteration {iteration}"
        if not math.isfinite(loss):
            first_step = bool(length) and (iteration - 1) % length == 0
            kept = self._set_aside_checkpoint(epoch - 1) if first_step else self._newest_checkpoint()
            raise NonFiniteLossError(f"training loss is {loss} at {where}: {kept} {_ADVICE}")
        network = getattr(engine, "network", None)
        last_of_epoch = length and iteration % length == 0
        if network is not None and last_of_epoch:
            bad = non_finite_parameters(network)
            if bad:
                raise NonFiniteLossError(
                    f"the weights are NaN/Inf after the last step of {where} "
                    f"({', '.join(bad[:3])}{', ...' if len(bad) > 3 else ''}): {self._newest_checkpoint()} {_ADVICE}"
                )

    def _newest_checkpoint(self) -> str:
        found = find_checkpoints(self.checkpoint_dir) if self.checkpoint_dir else []
        if not found:
            return "this epoch was not saved."
        return (
            f"this epoch was not saved; a restart resumes from {os.path.basename(found[0][1])}, whose weights gave "
            "finite losses until this epoch."
        )

    def _set_aside_checkpoint(self, epoch: int) -> str:
        """Rename the checkpoint of ``epoch`` (whose weights gave the non-finite loss) out of the resume path."""
        found = dict(find_checkpoints(self.checkpoint_dir)) if self.checkpoint_dir else {}
        if epoch not in found:
            return "this epoch was not saved."
        path = found.pop(epoch)
        if idist.get_rank() == 0:  # one process renames it
            os.replace(path, path + NON_FINITE_SUFFIX)
        then = f"resumes from {os.path.basename(found[max(found)])}" if found else "starts over"
        return (
            f"it is the first step with the weights saved in {os.path.basename(path)}, so that checkpoint was renamed "
            f"{os.path.basename(path)}{NON_FINITE_SUFFIX} and a restart {then}; with the same settings it will "
            "diverge again."
        )

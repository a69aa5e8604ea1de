# Copyright (c) monai-mamba contributors. Licensed under the Apache License, Version 2.0.
"""Training checkpoints that a restarted run resumes from."""

from __future__ import annotations

import glob
import logging
import os
import re

import torch
from ignite.engine import Engine, Events
from ignite.handlers import Checkpoint, DiskSaver

__all__ = ["ResumableCheckpoint", "find_checkpoints"]

logger = logging.getLogger(__name__)

_FILENAME = re.compile(r"checkpoint_epoch=(\d+)\.pt$")


def find_checkpoints(checkpoint_dir: str) -> list[tuple[int, str]]:
    """``(epoch, path)`` of the interval checkpoints in ``checkpoint_dir``, newest first."""
    found = []
    for path in glob.glob(os.path.join(checkpoint_dir, "checkpoint_epoch=*.pt")):
        match = _FILENAME.search(path)
        if match:
            found.append((int(match.group(1)), path))
    return sorted(found, reverse=True)


class ResumableCheckpoint:
    """Save the training state every ``save_interval`` epochs and resume from it when training starts again.

    What is saved: ``objects`` (network, optimizer, LR scheduler, ...) and the trainer itself (epoch and
    iteration counters), with ignite's ``Checkpoint`` into ``checkpoint_dir/checkpoint_epoch=N.pt``, keeping
    the newest ``n_saved``. Files are written atomically (a temporary file renamed into place), so a run killed
    while saving never leaves a truncated newest checkpoint; under DDP only rank 0 writes and DDP wrappers are
    unwrapped.

    At ``STARTED`` the newest checkpoint that loads (with ``torch.load(weights_only=True)``) is restored: a
    restarted run continues at the epoch after the last saved one, with the optimizer and scheduler state, up
    to this run's ``max_epochs`` (raise it to train longer); nothing already trained is redone. With no checkpoint the run starts fresh.
    The trainer is attached automatically, so a bundle config need not reference the trainer it belongs to.

    Args:
        checkpoint_dir: folder of the checkpoints (created when missing).
        objects: name -> object with ``state_dict``/``load_state_dict`` (not the trainer).
        n_saved: newest checkpoints kept.
        save_interval: save every this many epochs.
        map_location: where loaded tensors go.
    """

    def __init__(
        self,
        checkpoint_dir: str,
        objects: dict,
        n_saved: int = 2,
        save_interval: int = 1,
        map_location: str | torch.device | None = None,
    ) -> None:
        self.checkpoint_dir, self.objects = checkpoint_dir, dict(objects)
        self.n_saved, self.save_interval, self.map_location = n_saved, save_interval, map_location
        self._checkpoint: Checkpoint | None = None
        self._saving_registered = False

    def attach(self, engine: Engine) -> None:
        to_save = {**self.objects, "trainer": engine}
        self._checkpoint = Checkpoint(
            to_save,
            DiskSaver(self.checkpoint_dir, require_empty=False, atomic=True, create_dir=True),
            score_function=lambda e: e.state.epoch,
            score_name="epoch",
            n_saved=self.n_saved,
        )
        engine.add_event_handler(Events.STARTED, self.resume)
        engine.add_event_handler(Events.STARTED, self._register_saving_last)

    def _register_saving_last(self, engine: Engine) -> None:
        """Register the save when the run starts, after every other handler was attached, so that each epoch
        is saved after the LR scheduler stepped and validation ran, whatever the order of the handler list."""
        if not self._saving_registered:
            engine.add_event_handler(Events.EPOCH_COMPLETED(every=self.save_interval), self._checkpoint)
            self._saving_registered = True

    def resume(self, engine: Engine) -> None:
        """Restore the newest loadable checkpoint, if any, and let the saver rotate the files already there."""
        existing = find_checkpoints(self.checkpoint_dir)
        for epoch, path in existing:
            max_epochs = engine.state.max_epochs  # this run's target wins over the saved one
            try:
                state = torch.load(path, map_location=self.map_location, weights_only=True)
                Checkpoint.load_objects(to_load={**self.objects, "trainer": engine}, checkpoint=state)
                engine.state.max_epochs = max_epochs
            except Exception as error:  # unreadable or from another network: try the one before
                logger.warning("cannot resume from %s (%s); trying an older checkpoint", path, error)
                continue
            logger.info("resumed training from %s: continuing after epoch %d", path, engine.state.epoch)
            kept = sorted(e for e in existing if e[0] <= epoch)[-self.n_saved :]
            self._checkpoint.load_state_dict({"_saved": [(e, os.path.basename(p)) for e, p in kept]})
            return

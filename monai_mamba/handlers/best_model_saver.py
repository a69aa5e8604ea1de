# Copyright (c) monai-mamba contributors. Licensed under the Apache License, Version 2.0.
"""Keep the model with the best validation metric, across restarts."""

from __future__ import annotations

import os

import ignite.distributed as idist
from ignite.engine import Engine
from ignite.handlers import DiskSaver
from monai.handlers import CheckpointSaver

__all__ = ["BestModelSaver"]


class _AtomicFixedNameSaver(DiskSaver):
    """Writes every checkpoint to one file name, atomically (a temporary file renamed into place, readable as a
    normal file), and never deletes it: a crash while saving leaves the previous best model intact."""

    def __init__(self, dirname: str, filename: str) -> None:
        super().__init__(dirname, atomic=True, require_empty=False, create_dir=True)
        self.filename = filename

    def __call__(self, checkpoint, filename, metadata=None) -> None:
        super().__call__(checkpoint, self.filename, metadata)
        if idist.get_rank() == self.save_on_rank:  # the rank that wrote it (ignite writes on one rank)
            umask = os.umask(0)
            os.umask(umask)
            os.chmod(os.path.join(self.dirname, self.filename), 0o666 & ~umask)

    def remove(self, filename: str) -> None:
        """The next best model replaces the file by renaming; nothing is deleted before."""


class BestModelSaver(CheckpointSaver):
    """MONAI's ``CheckpointSaver`` for the best key metric, saving ``save_dict`` to ``save_dir/filename`` (what
    inference, evaluation and MONAI Label load), made safe for resumed runs:

    - its tracking (the best score so far) and the evaluator's ``best_metric``/``best_metric_epoch`` are part of
      ``state_dict()``, so a training checkpoint that saves this object (``ResumableCheckpoint``) restores them: after
      a restart a worse model never replaces the best one;
    - the file is written atomically and never deleted first, so a crash while saving keeps the previous best.

    With one object in ``save_dict`` the file is its bare ``state_dict`` (ignite's convention), which is what the
    model zoo, ``monai.bundle ckpt_export`` and MONAI Label expect of ``models/model.pt``.

    Args:
        save_dir: folder of the file.
        save_dict: what to save, e.g. ``{"model": network}``.
        filename: the file name.
        key_metric_name: the metric to compare (default: the evaluator's key metric).
        key_metric_negative_sign: lower is better.
    """

    def __init__(
        self,
        save_dir: str,
        save_dict: dict,
        filename: str = "model.pt",
        key_metric_name: str | None = None,
        key_metric_negative_sign: bool = False,
    ) -> None:
        super().__init__(
            save_dir,
            save_dict,
            save_key_metric=True,
            key_metric_name=key_metric_name,
            key_metric_filename=filename,
            key_metric_negative_sign=key_metric_negative_sign,
        )
        self.path = os.path.join(save_dir, filename)
        self._key_metric_checkpoint.save_handler = _AtomicFixedNameSaver(save_dir, filename)
        self._engine: Engine | None = None
        self._pending_best: tuple | None = None

    def attach(self, engine: Engine) -> None:
        super().attach(engine)
        self._engine = engine
        if self._pending_best is not None:
            engine.state.best_metric, engine.state.best_metric_epoch = self._pending_best

    def state_dict(self) -> dict:
        state = {"tracking": self._key_metric_checkpoint.state_dict(), "best_metric": -1, "best_metric_epoch": -1}
        if self._engine is not None:
            state["best_metric"] = float(self._engine.state.best_metric)
            state["best_metric_epoch"] = int(self._engine.state.best_metric_epoch)
        return state

    def load_state_dict(self, state_dict: dict) -> None:
        """Restore the tracking and the evaluator's best metric (also accepts MONAI's bare tracking state)."""
        if "tracking" not in state_dict:
            super().load_state_dict(state_dict)
            return
        super().load_state_dict(state_dict["tracking"])
        self._pending_best = (state_dict["best_metric"], state_dict["best_metric_epoch"])
        if self._engine is not None:
            self._engine.state.best_metric, self._engine.state.best_metric_epoch = self._pending_best

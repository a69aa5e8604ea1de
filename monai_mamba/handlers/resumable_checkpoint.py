# Copyright (c) monai-mamba contributors. Licensed under the Apache License, Version 2.0.
"""Training checkpoints that a restarted run resumes from, and only into the same run."""

from __future__ import annotations

import logging
import os
import re
import shutil
import time

import torch
from ignite.engine import Engine, Events
from ignite.handlers import Checkpoint, DiskSaver

from monai_mamba.errors import ActionableError
from monai_mamba.handlers.best_model_saver import BestModelSaver
from monai_mamba.handlers.checkpoint_files import find_checkpoints
from monai_mamba.handlers.run_identity import RunIdentity
from monai_mamba.handlers.run_lock import RunLock
from monai_mamba.handlers.stop_on_non_finite_loss import NonFiniteLossError, non_finite_parameters

__all__ = ["RESUME_MODES", "ResumableCheckpoint", "RunMismatchError"]

logger = logging.getLogger(__name__)

_TEMPORARY = re.compile(r"^tmp[a-z0-9_]{8}$")  # what an atomic write killed half-way leaves (tempfile's names)
RESUME_MODES = ("auto", "fresh", "force")


class RunMismatchError(ActionableError, RuntimeError):
    """The run folder holds another run than the one being started."""


def _rank() -> int:
    return (
        torch.distributed.get_rank() if torch.distributed.is_available() and torch.distributed.is_initialized() else 0
    )


class ResumableCheckpoint:
    """Save the training state every ``save_interval`` epochs and resume from it when the same run starts again.

    What is saved: ``objects`` (network, optimizer, LR scheduler, a ``BestModelSaver``, ...), the trainer itself
    (epoch and iteration counters) and the run's ``identity``, with ignite's ``Checkpoint`` into
    ``checkpoint_dir/checkpoint_epoch=N.pt``, keeping the newest ``n_saved``. Files are written atomically; under DDP
    only rank 0 writes (and holds the lock), DDP wrappers are unwrapped. Before saving, the network's weights are
    checked: non-finite weights are never saved (``NonFiniteLossError``).

    When training starts (``STARTED``):

    1. the run folder is locked (``RunLock``): a second run in the same folder stops at once with a clear message;
       temporary files left by a write that was killed half-way are removed;
    2. the newest checkpoint that loads (``torch.load(weights_only=True)``) is compared with this run's identity:

       - the same run: resume at the epoch after the saved one, with the optimizer, scheduler and best-model
         tracking; nothing already trained is redone;
       - the same run with another horizon (``max_epochs`` raised or lowered): resume, with every LR scheduler
         rebuilt for the new horizon from the current step (its closed form at the saved step), so the learning rate
         continues as if the run had been planned that long; a horizon below the epochs already trained is refused;
       - another run: ``resume="auto"`` stops with a ``RunMismatchError`` that lists what differs and the ways out;
         ``"fresh"`` moves the old run's checkpoints (and a copy of its best model) to
         ``checkpoint_dir/previous_runs/<time>/`` and starts over; ``"force"`` resumes it anyway.

    A fresh start that finds a best model of an earlier run keeps a copy in ``previous_runs/`` before the first
    validation can replace it. The trainer is attached automatically.

    Args:
        checkpoint_dir: folder of the checkpoints (created when missing).
        objects: name -> object with ``state_dict``/``load_state_dict`` (not the trainer).
        identity: this run's ``RunIdentity``; None: resume whatever is there (no check).
        resume: ``"auto"``, ``"fresh"`` or ``"force"`` (see above).
        n_saved: newest checkpoints kept.
        save_interval: save every this many epochs.
        map_location: where loaded tensors go.
    """

    def __init__(
        self,
        checkpoint_dir: str,
        objects: dict,
        identity: RunIdentity | None = None,
        resume: str = "auto",
        n_saved: int = 2,
        save_interval: int = 1,
        map_location: str | torch.device | None = None,
    ) -> None:
        if resume not in RESUME_MODES:
            raise ValueError(f"resume={resume!r}: choose one of {', '.join(RESUME_MODES)}.")
        self.checkpoint_dir, self.objects, self.identity, self.resume_mode = (
            checkpoint_dir,
            dict(objects),
            identity,
            resume,
        )
        self.n_saved, self.save_interval, self.map_location = n_saved, save_interval, map_location
        self.lock = RunLock(checkpoint_dir)
        self._checkpoint: Checkpoint | None = None
        self._saving_registered = False

    def attach(self, engine: Engine) -> None:
        to_save = {**self.objects, "trainer": engine}
        if self.identity is not None:
            to_save["run_identity"] = self.identity
        self._checkpoint = Checkpoint(
            to_save,
            DiskSaver(self.checkpoint_dir, require_empty=False, atomic=True, create_dir=True),
            score_function=lambda e: e.state.epoch,
            score_name="epoch",
            n_saved=self.n_saved,
        )
        engine.add_event_handler(Events.STARTED, self.resume)
        engine.add_event_handler(Events.STARTED, self._register_saving_last)
        # released when the run completes or is terminated, and by the operating system when the process ends (no
        # EXCEPTION_RAISED handler: registering one would make ignite swallow the exception)
        for event in (Events.COMPLETED, Events.TERMINATE):
            engine.add_event_handler(event, lambda _: self.lock.release())

    def _register_saving_last(self, engine: Engine) -> None:
        """Register the save when the run starts, after every other handler was attached, so that each epoch
        is saved after the LR scheduler stepped and validation ran, whatever the order of the handler list."""
        if not self._saving_registered:
            engine.add_event_handler(Events.EPOCH_COMPLETED(every=self.save_interval), self._save)
            self._saving_registered = True

    def _save(self, engine: Engine) -> None:
        model = self.objects.get("model")
        if model is not None:
            bad = non_finite_parameters(model)
            if bad:
                raise NonFiniteLossError(
                    f"the weights became NaN/Inf during epoch {engine.state.epoch} ({', '.join(bad[:3])}...): this "
                    "epoch is not saved and a restart resumes from the newest checkpoint. Try a lower learning_rate or "
                    "run without amp."
                )
        self._checkpoint(engine)

    def _clean_temporary_files(self) -> None:
        if not os.path.isdir(self.checkpoint_dir):
            return
        for name in os.listdir(self.checkpoint_dir):
            if _TEMPORARY.match(name) or name.endswith(".tmp"):
                os.remove(os.path.join(self.checkpoint_dir, name))
                logger.info("removed %s, left by a checkpoint write that was interrupted", name)

    def _best_model_savers(self) -> list[BestModelSaver]:
        return [obj for obj in self.objects.values() if isinstance(obj, BestModelSaver)]

    def _archive(self, checkpoints: list[tuple[int, str]]) -> None:
        """Move the old run's checkpoints, and copy its best model, into ``previous_runs/<time>/``."""
        target = os.path.join(self.checkpoint_dir, "previous_runs", time.strftime("%Y%m%d-%H%M%S"))
        os.makedirs(target, exist_ok=True)
        for _, path in checkpoints:
            shutil.move(path, os.path.join(target, os.path.basename(path)))
        for saver in self._best_model_savers():
            if os.path.isfile(saver.path):
                shutil.copy2(saver.path, os.path.join(target, os.path.basename(saver.path)))
        logger.warning(
            "the earlier run's files in %s were moved to %s; starting a new run", self.checkpoint_dir, target
        )

    def _mismatch_message(self, path: str, differences: list[str]) -> str:
        listed = "\n  - ".join(differences)
        return (
            f"{self.checkpoint_dir} holds another training run than this one ({os.path.basename(path)}):\n  - "
            f"{listed}\nNothing was changed. To keep both runs, give this one its own folder with --bundle_root "
            "DIR; to start over here, rerun with --resume fresh (the old checkpoints move to "
            "previous_runs/, the old best model is copied there); to continue the old run with these settings "
            "anyway, rerun with --resume force."
        )

    def resume(self, engine: Engine) -> None:
        """Lock the folder, then restore the newest loadable checkpoint of this run, if any (see the class doc)."""
        if _rank() == 0:
            self.lock.acquire()
            self._clean_temporary_files()
        existing = find_checkpoints(self.checkpoint_dir)
        for epoch, path in existing:
            try:
                state = torch.load(path, map_location=self.map_location, weights_only=True)
            except Exception as error:  # unreadable (truncated): try the one before
                logger.warning("cannot resume from %s (%s); trying an older checkpoint", path, error)
                continue
            comparison = None
            if self.identity is not None:
                comparison = self.identity.compare(state.get("run_identity", {}))
                if not comparison.same_run and self.resume_mode == "auto":
                    raise RunMismatchError(self._mismatch_message(path, comparison.differences))
                if not comparison.same_run and self.resume_mode == "fresh":
                    if _rank() == 0:
                        self._archive(existing)
                    return
                if not comparison.same_run:
                    logger.warning(
                        "resuming %s although it is another run (--resume force): %s",
                        path,
                        "; ".join(comparison.differences),
                    )
            self._restore(engine, state, path, comparison)
            kept = sorted(e for e in existing if e[0] <= epoch)[-self.n_saved :]
            self._checkpoint.load_state_dict({"_saved": [(e, os.path.basename(p)) for e, p in kept]})
            return
        self._keep_earlier_best_models()

    def _keep_earlier_best_models(self) -> None:
        if _rank() != 0:
            return
        for saver in self._best_model_savers():
            if os.path.isfile(saver.path):
                target = os.path.join(self.checkpoint_dir, "previous_runs", time.strftime("%Y%m%d-%H%M%S"))
                os.makedirs(target, exist_ok=True)
                shutil.copy2(saver.path, os.path.join(target, os.path.basename(saver.path)))
                logger.warning(
                    "%s is from an earlier run; a copy is kept in %s before this new run replaces it",
                    saver.path,
                    target,
                )

    def _restore(self, engine: Engine, state: dict, path: str, comparison) -> None:
        max_epochs = engine.state.max_epochs  # this run's target wins over the saved one
        schedulers = {
            name: obj for name, obj in self.objects.items() if isinstance(obj, torch.optim.lr_scheduler.LRScheduler)
        }
        fresh = {name: scheduler.state_dict() for name, scheduler in schedulers.items()}
        to_load = {**{k: v for k, v in self.objects.items() if k in state}, "trainer": engine}
        try:
            Checkpoint.load_objects(to_load=to_load, checkpoint=state)
        except RuntimeError as error:
            raise RunMismatchError(
                f"{path} does not fit this run's network or optimizer ({str(error)[:400]}); give "
                "this run its own --bundle_root, or rerun with --resume fresh."
            ) from None
        done = engine.state.epoch
        if done > max_epochs:
            raise RunMismatchError(
                f"{path}: this run has already trained {done} epochs, more than max_epochs={max_epochs}. Nothing to "
                "train: evaluate models/model.pt with evaluate.yaml, raise max_epochs to train longer, or rerun with "
                "--resume fresh to start over."
            )
        engine.state.max_epochs = max_epochs
        if comparison is not None and comparison.horizon_changed:
            for name, scheduler in schedulers.items():
                _rebuild_for_new_horizon(name, scheduler, fresh[name])
            logger.info(
                "training horizon changed from %s to %s: learning-rate schedule rebuilt from step %s",
                comparison.saved_horizon,
                comparison.horizon,
                next(iter(schedulers.values())).last_epoch if schedulers else "-",
            )
        if done == max_epochs:
            logger.info(
                "%s: this run is complete (epoch %d of %d); raise max_epochs to train longer", path, done, max_epochs
            )
        else:
            logger.info("resumed training from %s: continuing after epoch %d", path, done)


def _rebuild_for_new_horizon(name: str, scheduler, fresh_state: dict) -> None:
    """Keep the schedule's new hyper-parameters (its horizon) and the saved progress; set the optimizer's learning
    rates to the schedule's value at the saved step."""
    if not hasattr(scheduler, "_get_closed_form_lr"):
        raise RunMismatchError(
            f"{name}: {type(scheduler).__name__} has no closed form, so it cannot be rebuilt for a "
            "new training length; keep max_epochs, or rerun with --resume fresh."
        )
    progress = {k: scheduler.state_dict()[k] for k in ("last_epoch", "_step_count")}
    scheduler.load_state_dict({**fresh_state, **progress})
    lrs = scheduler._get_closed_form_lr()
    for group, lr in zip(scheduler.optimizer.param_groups, lrs):
        group["lr"] = lr
    scheduler._last_lr = list(lrs)

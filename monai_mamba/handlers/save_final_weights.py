# Copyright (c) monai-mamba contributors. Licensed under the Apache License, Version 2.0.
"""Write a network's weights once training has completed, and only then."""

from __future__ import annotations

import logging
import os

import torch.nn as nn
from ignite.engine import Engine, Events
from ignite.handlers import DiskSaver

__all__ = ["SaveFinalWeights"]

logger = logging.getLogger(__name__)


class SaveFinalWeights:
    """Save ``network.state_dict()`` to ``path`` when the run completes.

    Unlike MONAI's ``CheckpointSaver(save_final=True)``, which also writes when the run fails, nothing is written
    if training raises (a NaN loss, an interrupted run): a file at ``path`` always comes from a completed run, so a
    later stage can rely on it. The file is written atomically by rank 0, DDP wrappers unwrapped; it holds the
    bare state_dict (``monai_mamba.weights.load_trained_network`` reads it).

    Args:
        path: the file to write (its folder is created).
        network: the network whose weights are saved.
    """

    def __init__(self, path: str, network: nn.Module) -> None:
        self.path, self.network = path, network

    def attach(self, engine: Engine) -> None:
        engine.add_event_handler(Events.COMPLETED, self)

    def __call__(self, engine: Engine) -> None:
        network = self.network.module if hasattr(self.network, "module") else self.network
        saver = DiskSaver(
            os.path.dirname(os.path.abspath(self.path)), atomic=True, require_empty=False, create_dir=True
        )
        saver(network.state_dict(), os.path.basename(self.path))
        logger.info("training completed: weights written to %s", self.path)

# Copyright (c) monai-mamba contributors. Licensed under the Apache License, Version 2.0.
"""Load a trained model before evaluation, inference or a later training stage, with errors a user can act on."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch.nn as nn
from ignite.engine import Engine, Events

from monai_mamba.weights import load_trained_network

__all__ = ["TrainedModelLoader", "training_command"]


def training_command(train_configs: Sequence[str], arguments: Mapping | None = None) -> str:
    """``python -m monai.bundle run --config_file ...`` for ``train_configs`` with ``--key value`` ``arguments`` (empty
    values left out), as a user would type it."""
    configs = list(train_configs)
    config = configs[0] if len(configs) == 1 else '"[' + ",".join(repr(c) for c in configs) + ']"'
    extra = "".join(f" --{key} {value}" for key, value in (arguments or {}).items() if value not in ("", None))
    return f"python -m monai.bundle run --config_file {config}{extra}"


class TrainedModelLoader:
    """Load ``load_path`` (e.g. ``models/model.pt``) strictly into ``network`` when the engine starts, as MONAI's
    ``CheckpointLoader`` does, but:

    - a missing file names the command that writes it (``train_configs`` with ``arguments``) instead of
      "No such file";
    - a file trained with other network settings says what differs (from the run identity saved with it) instead of
      a list of size mismatches;
    - the file is read with ``torch.load(weights_only=True)``.

    Args:
        load_path: the trained model (a state_dict, or one under ``"model"``).
        network: the network to fill (a DDP wrapper is unwrapped).
        train_configs: the config files whose run writes ``load_path``.
        arguments: command-line arguments of that run (e.g. ``bundle_root``, ``dataset_dir``); empty ones are left out.
    """

    def __init__(
        self,
        load_path: str,
        network: nn.Module,
        train_configs: Sequence[str] = ("configs/train.yaml",),
        arguments: Mapping | None = None,
    ) -> None:
        self.load_path, self.network = load_path, network
        self.train_configs, self.arguments = list(train_configs), dict(arguments or {})

    def attach(self, engine: Engine) -> None:
        engine.add_event_handler(Events.STARTED, self)

    def __call__(self, engine: Engine) -> None:
        network = self.network.module if hasattr(self.network, "module") else self.network
        hint = (
            f"It is written by training: {training_command(self.train_configs, self.arguments)} (with the "
            "overlays of your task, if any)."
        )
        load_trained_network(network, self.load_path, hint)

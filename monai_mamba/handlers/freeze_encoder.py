# Copyright (c) monai-mamba contributors. Licensed under the Apache License, Version 2.0.
"""Keep a pretrained encoder frozen for the first epochs of fine-tuning (Swin-UMamba's recipe)."""

from __future__ import annotations

from collections.abc import Sequence

import torch.nn as nn
from ignite.engine import Engine, Events

__all__ = ["FreezeEncoder"]


class FreezeEncoder:
    """Freeze ``encoder`` (except parameters whose name contains one of ``trainable``) during epochs
    ``1..frozen_epochs``, then unfreeze it.

    Decided at every ``EPOCH_STARTED`` from the epoch number, so a resumed run is frozen or not as it should be.
    Build the optimizer over *all* parameters: frozen ones get no gradient and are skipped by the optimizer (no
    update, no weight decay), and once unfrozen they are updated like the rest. Under DDP, wrap the model with
    ``find_unused_parameters=True`` or keep ``frozen_epochs=0``, since the set of trained parameters changes.

    Args:
        encoder: the pretrained part, e.g. ``network.vssm_encoder``.
        frozen_epochs: epochs to keep it frozen (10 in Swin-UMamba).
        trainable: name fragments of encoder parameters that always train (the patch embedding, which Swin-UMamba
            does not take from the checkpoint).
    """

    def __init__(
        self, encoder: nn.Module, frozen_epochs: int = 10, trainable: Sequence[str] = ("patch_embed",)
    ) -> None:
        self.encoder, self.frozen_epochs, self.trainable = encoder, frozen_epochs, tuple(trainable)

    def attach(self, engine: Engine) -> None:
        engine.add_event_handler(Events.EPOCH_STARTED, self)

    def __call__(self, engine: Engine) -> None:
        frozen = engine.state.epoch <= self.frozen_epochs
        for name, param in self.encoder.named_parameters():
            param.requires_grad_(not frozen or any(fragment in name for fragment in self.trainable))

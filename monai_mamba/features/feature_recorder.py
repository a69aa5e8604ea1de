# Copyright (c) monai-mamba contributors. Licensed under the Apache License, Version 2.0.
"""Record the outputs of named submodules during a network's forward pass, with forward hooks."""

from __future__ import annotations

import torch
import torch.nn as nn

__all__ = ["FeatureRecorder"]


class FeatureRecorder:
    """Keep the output of each named module of ``network`` from its latest forward pass.

    The network's code is not changed: a forward hook on each module stores its output (gradients flow through the
    stored tensors). ``pop()`` hands the features over and forgets them, so a batch's features are not kept alive
    longer than needed.

    Args:
        network: the module to watch (unwrapped: not a DDP wrapper, whose module names carry a ``module.`` prefix).
        names: module names as in ``network.named_modules()``.
        training_only: record only while ``network`` is in training mode (nothing kept during validation or
            inference).

    Example::

        recorder = FeatureRecorder(net, ["down_1", "upcat_2"])
        net(x)
        features = recorder.pop()  # {"down_1": tensor, "upcat_2": tensor}
    """

    def __init__(self, network: nn.Module, names: list[str] | tuple[str, ...], training_only: bool = False) -> None:
        modules = dict(network.named_modules())
        missing = [name for name in names if name not in modules]
        if missing:
            raise ValueError(f"{type(network).__name__} has no module(s) {missing} (see network.named_modules()).")
        self.network, self.training_only = network, training_only
        self._features: dict[str, torch.Tensor] = {}
        self._handles = [modules[name].register_forward_hook(self._hook(name)) for name in dict.fromkeys(names)]

    def _hook(self, name: str):
        def store(module: nn.Module, args, output) -> None:
            if self.training_only and not self.network.training:
                return
            if not isinstance(output, torch.Tensor):
                raise TypeError(
                    f"module {name!r} returns {type(output).__name__}, not a tensor; record a module that "
                    "returns one feature map."
                )
            self._features[name] = output

        return store

    def pop(self) -> dict[str, torch.Tensor]:
        """The features of the latest forward pass (name -> tensor), then forget them."""
        features, self._features = self._features, {}
        return features

    def remove(self) -> None:
        """Detach the hooks from the network."""
        for handle in self._handles:
            handle.remove()
        self._handles, self._features = [], {}

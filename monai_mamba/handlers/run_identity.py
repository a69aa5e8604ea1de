# Copyright (c) monai-mamba contributors. Licensed under the Apache License, Version 2.0.
"""What defines a training run, so that a restart resumes only into the same run."""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import torch.nn as nn

__all__ = ["RunComparison", "RunIdentity", "network_fingerprint", "network_differences"]

_FORMAT = 1


def _digest(value) -> str:
    return hashlib.sha256(json.dumps(value, sort_keys=True, default=str).encode()).hexdigest()[:16]


def _relative(value, root: str | None):
    """Datalist values with paths under ``root`` made relative to it, so a moved data set keeps its identity."""
    if isinstance(value, str) and root and os.path.isabs(value):
        relative = os.path.relpath(value, root)
        return value if relative.startswith("..") else relative
    if isinstance(value, Mapping):
        return {str(k): _relative(v, root) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_relative(v, root) for v in value]
    return value


def _plain(value):
    """JSON-able copy of a setting (tuples as lists, tensors and numpy scalars as numbers)."""
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if hasattr(value, "tolist"):
        return value.tolist()
    return value


def network_fingerprint(network: nn.Module) -> dict:
    """Class, parameter/buffer shapes and a hash of the module tree (``repr``: the layer settings) of ``network``
    (a DDP wrapper is unwrapped)."""
    network = network.module if hasattr(network, "module") else network
    return {
        "class": type(network).__name__,
        "shapes": {name: list(t.shape) for name, t in network.state_dict().items()},
        "digest": _digest(repr(network)),
    }


def network_differences(saved: Mapping, current: Mapping, where: str = "in the checkpoint") -> list[str]:
    """The first difference between two ``network_fingerprint``s, in words (empty: the same network)."""
    if saved["class"] != current["class"]:
        return [f"network: {current['class']} here, {saved['class']} {where}"]
    for name in list(current["shapes"]) + [n for n in saved["shapes"] if n not in current["shapes"]]:
        if saved["shapes"].get(name) != current["shapes"].get(name):
            return [
                f"network settings: {current['class']} tensor {name!r} has shape {current['shapes'].get(name)} "
                f"here, {saved['shapes'].get(name)} {where}"
            ]
    if saved["digest"] != current["digest"]:
        return [
            f"network settings: {current['class']} has the same parameters but other layer settings (kernel, "
            "dropout, normalisation, ...)"
        ]
    return []


@dataclass
class RunComparison:
    """How a saved run identity relates to this run's.

    Attributes:
        differences: one line per thing that differs besides the horizon (empty: the same run).
        saved_horizon, horizon: the number of epochs (or iterations) the saved run and this run train for.
    """

    differences: list[str] = field(default_factory=list)
    saved_horizon: int | None = None
    horizon: int | None = None

    @property
    def same_run(self) -> bool:
        return not self.differences

    @property
    def horizon_changed(self) -> bool:
        return self.saved_horizon is not None and self.horizon is not None and self.saved_horizon != self.horizon


class RunIdentity:
    """The fingerprint of a training run: what it trains on, what it trains and how.

    Stored in every training checkpoint (and in the best model and MambaClinix's plan); a restarted run compares it
    with its own before resuming (``ResumableCheckpoint``). It holds, as short digests plus what is needed to name a
    difference:

    - ``data``: per split, the number of cases and a hash of the datalist entries (paths relative to ``data_root``,
      so a data set moved as a whole keeps its identity; the image files themselves are not read);
    - ``network``: the class, the name and shape of every parameter and buffer, and a hash of the module tree
      (``repr``, which holds the layer settings), of the unwrapped network;
    - ``settings``: recipe values that change the optimisation or the task (classes, channels, patch size,
      learning rate, batch size, a plan, ...), as given by the bundle;
    - ``horizon``: ``max_epochs`` (or iterations), compared separately: a longer horizon resumes with the learning
      rate schedule rebuilt for it.

    Args:
        data: split name -> datalist (what the data loaders read).
        network: the network (a DDP wrapper is unwrapped).
        settings: name -> JSON-able value.
        horizon: the training length the LR schedule is built for.
        data_root: folder the datalist paths are made relative to.
        demo: whether this is a run on the generated demo data.
    """

    def __init__(
        self,
        data: Mapping[str, Sequence[Mapping]],
        network: nn.Module,
        settings: Mapping | None = None,
        horizon: int | None = None,
        data_root: str | None = None,
        demo: bool = False,
    ) -> None:
        self._state = {
            "format": _FORMAT,
            "demo": bool(demo),
            "data": {
                split: {"cases": len(cases), "digest": _digest(_relative(list(cases), data_root))}
                for split, cases in data.items()
            },
            "network": network_fingerprint(network),
            "settings": _plain(dict(settings or {})),
            "horizon": None if horizon is None else int(horizon),
        }

    @property
    def horizon(self) -> int | None:
        return self._state["horizon"]

    def state_dict(self) -> dict:
        """The fingerprint, as saved in checkpoints."""
        return json.loads(json.dumps(self._state))

    def load_state_dict(self, state: Mapping) -> None:
        """A run's identity is compared with a saved one (``compare``), never replaced by it."""

    def compare(self, saved: Mapping) -> RunComparison:
        """Every difference between ``saved`` (a ``state_dict`` of another run) and this run, in words."""
        mine, differences = self._state, []
        if saved.get("format") != _FORMAT:
            return RunComparison(
                [
                    f"the checkpoint has no run identity of format {_FORMAT} (written by another version "
                    "of monai-mamba, or not by a bundle run)"
                ],
                None,
                mine["horizon"],
            )
        if saved.get("demo") != mine["demo"]:
            differences.append(
                "the checkpoint is from a run on the generated demo data, this run is on your data"
                if saved.get("demo")
                else "this run is on the generated demo data, the checkpoint is from a run on your data"
            )
        for split in sorted(set(saved["data"]) | set(mine["data"])):
            old, new = saved["data"].get(split), mine["data"].get(split)
            if old != new:
                describe = lambda d: "none" if d is None else f"{d['cases']} case(s)"  # noqa: E731
                differences.append(
                    f"{split} data: {describe(new)} here, {describe(old)} in the checkpoint"
                    + (" (the same number, other files)" if old and new and old["cases"] == new["cases"] else "")
                )
        differences += network_differences(saved["network"], mine["network"])
        for key in sorted(set(saved["settings"]) | set(mine["settings"])):
            old, new = saved["settings"].get(key, "<unset>"), mine["settings"].get(key, "<unset>")
            if old != new:
                show = lambda v: json.dumps(v) if len(json.dumps(v)) <= 80 else f"<{_digest(v)}>"  # noqa: E731
                differences.append(f"{key}: {show(new)} here, {show(old)} in the checkpoint")
        return RunComparison(differences, saved.get("horizon"), mine["horizon"])

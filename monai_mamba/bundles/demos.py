# Copyright (c) monai-mamba contributors. Licensed under the Apache License, Version 2.0.
"""The bundles' demos as a user runs them, and what tells whether one learnt: the command, the best validation Dice
its log reports, and the Dice that guessing gets on the demo's validation labels.

A demo is ``python -m monai.bundle run --config_file bundles/<name>/configs/train.yaml`` and nothing else: without
``--dataset_dir`` the bundle generates its demo data and trains on it (``--bundle_root`` only moves where it writes).
``benchmarks/demos.py`` times the demos for the README's table; the tests assert that each beats chance.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import nibabel as nib
import numpy as np

from monai_mamba.bundles.pack import BUNDLES

__all__ = ["DEMO_BUNDLES", "best_validation_dice", "chance_dice", "demo_command"]

DEMO_BUNDLES = tuple(sorted(path.parents[1].name for path in BUNDLES.glob("*/configs/train.yaml")))  # every bundle
_BEST = re.compile(r"Key metric: val_mean_dice best value: ([0-9.]+)")


def demo_command(name: str, bundle_root: str | Path | None = None) -> list[str]:
    """The demo command of bundle ``name``, writing into ``bundle_root`` when given (else the bundle's folder)."""
    command = [sys.executable, "-m", "monai.bundle", "run"]
    command += ["--config_file", str(BUNDLES / name / "configs" / "train.yaml")]
    return command + (["--bundle_root", str(bundle_root)] if bundle_root is not None else [])


def best_validation_dice(log: str) -> float:
    """The best validation mean Dice a training log reports (MONAI's checkpoint handler writes it after every
    validation); NaN when the log has none."""
    values = _BEST.findall(log)
    return float(values[-1]) if values else float("nan")


def chance_dice(bundle_root: str | Path) -> float:
    """Expected mean foreground Dice, on the validation labels of the demo run in ``bundle_root``, of a guess that
    gives every voxel one of the classes present there uniformly at random: for a class of ``n`` of ``N`` voxels among
    ``k`` classes, ``2 (n / k) / (n + N / k)``, averaged over the (case, class) pairs."""
    (datalist,) = Path(bundle_root).glob("demo/*/data/datalist.json")
    labels = [
        np.asanyarray(nib.load(datalist.parent / case["label"]).dataobj).astype(int)
        for case in json.loads(datalist.read_text())["validation"]
    ]
    classes = np.unique(np.concatenate([label.ravel() for label in labels]))
    scores = []
    for label in labels:
        voxels, k = label.size, len(classes)
        for c in classes[classes > 0]:
            n = (label == c).sum()
            scores.append(2 * (n / k) / (n + voxels / k))
    return float(np.mean(scores))

# Copyright (c) monai-mamba contributors. Licensed under the Apache License, Version 2.0.
"""Demo cost: run every bundle's demo command as a new user would and print wall time, CPU time and what it learnt.

    python benchmarks/demos.py                         # all five bundles, one after the other
    python benchmarks/demos.py --bundles=lightm_unet,mambaclinix

Each demo is ``python -m monai.bundle run --config_file bundles/<name>/configs/train.yaml`` in a fresh subprocess,
with ``--bundle_root`` in a temporary folder (so nothing is written into the repository and nothing is resumed).
CPU time is the user + system time of the subprocess and its children (``resource.RUSAGE_CHILDREN``); the best
validation Dice is read from the log line MONAI's ``StatsHandler`` writes at the end of every validation. Chance is
the expected mean foreground Dice, on the demo's validation labels, of a guess that gives every voxel one of the
classes present there uniformly at random (an upper bound for the bundles whose network has more classes).
"""

from __future__ import annotations

import json
import re
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import fire
import nibabel as nib
import numpy as np

BUNDLES = Path(__file__).resolve().parents[1] / "bundles"
NAMES = ("lightm_unet", "mamba_unet", "swin_umamba", "mambaclinix", "reseg_unet")
_BEST = re.compile(r"Key metric: val_mean_dice best value: ([0-9.]+)")


def chance_dice(bundle_root: str) -> float:
    """Expected mean foreground Dice of a uniform random guess among the classes of the demo's validation labels."""
    (datalist,) = Path(bundle_root).glob("demo/*/data/datalist.json")
    labels = [
        np.asanyarray(nib.load(datalist.parent / case["label"]).dataobj).astype(int)
        for case in json.loads(datalist.read_text())["validation"]
    ]
    values = np.unique(np.concatenate([label.ravel() for label in labels]))
    scores = []
    for label in labels:
        voxels, classes = label.size, len(values)
        for c in values[values > 0]:
            n = (label == c).sum()
            scores.append(2 * (n / classes) / (n + voxels / classes))
    return float(np.mean(scores))


def run_demo(name: str, bundle_root: str) -> dict:
    """Run one demo; returns wall and CPU seconds, the best validation Dice and the exit code."""
    cmd = [
        sys.executable,
        "-m",
        "monai.bundle",
        "run",
        "--config_file",
        str(BUNDLES / name / "configs" / "train.yaml"),
        "--bundle_root",
        bundle_root,
    ]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    result = subprocess.run(cmd, capture_output=True, text=True)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    dice = [float(v) for v in _BEST.findall(result.stdout + result.stderr)]
    if result.returncode:
        print(result.stdout[-2000:] + result.stderr[-2000:], file=sys.stderr)
    return {
        "wall": wall,
        "cpu": cpu,
        "dice": dice[-1] if dice else float("nan"),
        "rc": result.returncode,
        "chance": chance_dice(bundle_root),
    }


def main(bundles: str = ",".join(NAMES)) -> None:
    names = bundles.split(",") if isinstance(bundles, str) else list(bundles)
    print("| bundle | wall (s) | CPU (s) | best val Dice | chance Dice | exit code |")
    print("|---|---|---|---|---|---|")
    for name in names:
        with tempfile.TemporaryDirectory() as root:
            r = run_demo(name, root)
        print(
            f"| {name} | {r['wall']:.0f} | {r['cpu']:.0f} | {r['dice']:.3f} | {r['chance']:.3f} | {r['rc']} |",
            flush=True,
        )


if __name__ == "__main__":
    fire.Fire(main)

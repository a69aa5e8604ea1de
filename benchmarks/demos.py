# Copyright (c) monai-mamba contributors. Licensed under the Apache License, Version 2.0.
"""Demo cost: run every bundle's demo command as a new user would and print wall time, CPU time and what it learnt.

    python benchmarks/demos.py                         # every bundle, one after the other
    python benchmarks/demos.py --bundles=lightm_unet,mambaclinix

Each demo is ``python -m monai.bundle run --config_file bundles/<name>/configs/train.yaml`` in a fresh subprocess,
with ``--bundle_root`` in a temporary folder (so nothing is written into the repository and nothing is resumed).
CPU time is the user + system time of the subprocess and its children (``resource.RUSAGE_CHILDREN``); the best
validation Dice is read from the log line MONAI's ``StatsHandler`` writes at the end of every validation. Chance is
the expected mean foreground Dice, on the demo's validation labels, of a guess that gives every voxel one of the
classes present there uniformly at random (an upper bound for the bundles whose network has more classes).
"""

from __future__ import annotations

import resource
import subprocess
import sys
import tempfile
import time

import fire

from monai_mamba.bundles.demos import DEMO_BUNDLES, best_validation_dice, chance_dice, demo_command


def run_demo(name: str, bundle_root: str) -> dict:
    """Run one demo; returns wall and CPU seconds, the best validation Dice, chance and the exit code."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    result = subprocess.run(demo_command(name, bundle_root), capture_output=True, text=True)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    if result.returncode:
        print(result.stdout[-2000:] + result.stderr[-2000:], file=sys.stderr)
    return {
        "wall": wall,
        "cpu": cpu,
        "dice": best_validation_dice(result.stdout + result.stderr),
        "rc": result.returncode,
        "chance": chance_dice(bundle_root),
    }


def main(bundles: str = ",".join(DEMO_BUNDLES)) -> None:
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

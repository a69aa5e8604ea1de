# Copyright (c) monai-mamba contributors. Licensed under the Apache License, Version 2.0.
"""Demo cost: run every bundle's demo command as a new user would and print wall time, CPU time and what it learnt.

    python benchmarks/demos.py                         # every bundle, one after the other
    python benchmarks/demos.py --bundles=lightm_unet,mambaclinix
    python benchmarks/demos.py --formats=float32,bfloat16   # each demo twice: as shipped, and with cpu_bf16: true

Each demo is ``python -m monai.bundle run --config_file bundles/<name>/configs/train.yaml`` in a fresh subprocess,
with ``--bundle_root`` in a temporary folder (so nothing is written into the repository and nothing is resumed).
CPU time is the user + system time of the subprocess and its children (``resource.RUSAGE_CHILDREN``); the best
validation Dice is read from the log line MONAI's ``StatsHandler`` writes at the end of every validation. Chance is
the expected mean foreground Dice, on the demo's validation labels, of a guess that gives every voxel one of the
classes present there uniformly at random (an upper bound for the bundles whose network has more classes).

``--formats=float32,bfloat16`` runs each demo as shipped and again with ``--cpu_bf16 true`` (bfloat16 autocast on a
CPU with native bfloat16), from the same seed (the bundles' ``seed``), and prints the best validation Dice of each
and their difference.
"""

from __future__ import annotations

import resource
import subprocess
import sys
import tempfile
import time

import fire

from monai_mamba.bundles.demos import DEMO_BUNDLES, best_validation_dice, chance_dice, demo_command

FORMATS = {"float32": [], "bfloat16": ["--cpu_bf16", "true"]}  # the bundle overrides of each number format


def run_demo(name: str, bundle_root: str, overrides: list[str] = ()) -> dict:
    """Run one demo (with ``overrides`` of its bundle settings); returns wall and CPU seconds, the best validation
    Dice, chance and the exit code."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    result = subprocess.run(demo_command(name, bundle_root) + list(overrides), capture_output=True, text=True)
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


def compare_formats(names: list[str], formats: list[str]) -> None:
    """One row per bundle: the best validation Dice and wall time of its demo in each number format."""
    header = " | ".join(f"best val Dice {f}" for f in formats) + " | difference | "
    print("| bundle | " + header + " | ".join(f"wall {f} (s)" for f in formats) + " |")
    print("|---|" + "---|" * (2 * len(formats) + 1))
    for name in names:
        runs = []
        for fmt in formats:
            with tempfile.TemporaryDirectory() as root:
                runs.append(run_demo(name, root, FORMATS[fmt]))
        dice = " | ".join(f"{r['dice']:.3f}" if r["rc"] == 0 else f"failed ({r['rc']})" for r in runs)
        walls = " | ".join(f"{r['wall']:.0f}" for r in runs)
        print(f"| {name} | {dice} | {runs[-1]['dice'] - runs[0]['dice']:+.3f} | {walls} |", flush=True)


def main(bundles: str = ",".join(DEMO_BUNDLES), formats: str = "float32") -> None:
    names = bundles.split(",") if isinstance(bundles, str) else list(bundles)
    format_names = formats.split(",") if isinstance(formats, str) else list(formats)
    if unknown := set(format_names) - set(FORMATS):
        raise ValueError(f"unknown formats {sorted(unknown)}: choose from {sorted(FORMATS)}")
    if format_names != ["float32"]:
        compare_formats(names, format_names)
        return
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

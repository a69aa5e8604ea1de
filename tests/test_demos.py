# Copyright (c) monai-mamba contributors. Licensed under the Apache License, Version 2.0.
"""The first thing a user runs: each bundle's demo, the README's one command in a fresh process, learns. Its best
validation Dice beats a random guess's (the README demos table's chance column) by a stated margin, and the chance
the README states is the one of the data the demo generates."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from monai_mamba.bundles.demos import DEMO_BUNDLES, best_validation_dice, chance_dice, demo_command

README = Path(__file__).resolve().parents[1] / "README.md"


def required_dice(chance: float) -> float:
    """What a demo must reach: twice chance, and at least 0.1 above it. A network that learnt nothing cannot: one
    that calls every pixel one class scores below twice chance (two classes, foreground fraction f: 2f / (f + 1)
    against chance 2f / (2f + 1))."""
    return chance + max(0.1, chance)


def readme_chance(name: str) -> float:
    """The chance Dice in the README's demos table row of bundle ``name``."""
    rows = re.findall(rf"^\| {name} [^|]*\|(?: [^|]+ \|){{3}} ([0-9.]+) \|$", README.read_text(), re.MULTILINE)
    assert len(rows) == 1, f"no single row for {name} in the README's demos table"
    return float(rows[0])


@pytest.mark.slow  # the demos as shipped: 26-58 s each on 2 cores, 5 minutes together
@pytest.mark.demo  # outside CI's 25 minutes: python -m pytest -m demo tests/test_demos.py
@pytest.mark.parametrize("name", DEMO_BUNDLES)
def test_demo_learns_clearly_better_than_chance(name, tmp_path):
    root = tmp_path / "bundle"
    result = subprocess.run(demo_command(name, root), capture_output=True, text=True, timeout=900)
    log = result.stdout + result.stderr
    assert result.returncode == 0, log[-3000:]
    best, chance = best_validation_dice(log), chance_dice(root)
    assert chance == pytest.approx(readme_chance(name), abs=5e-4)  # the README's figure is this data's
    assert best >= required_dice(chance), f"{name}: best validation Dice {best:.3f}, chance {chance:.3f}"

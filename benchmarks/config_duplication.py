# Copyright (c) monai-mamba contributors. Licensed under the Apache License, Version 2.0.
"""How much of the bundles' config text is written more than once.

    python benchmarks/config_duplication.py                  # the working tree
    python benchmarks/config_duplication.py --rev bd10b0e    # a commit

Reads every ``bundles/*/configs/*.{yaml,yml,json}`` (and ``bundles/shared/*`` when there is one), drops blank and
comment-only lines and trailing white space, and finds every window of ``--window`` (6) consecutive remaining lines
that stands at two places or more (in two files, or twice in one). A line in such a window is a duplicated line; a
run is a maximal stretch of duplicated lines in one file. Prints the runs, the duplicated lines and all lines.
"""

from __future__ import annotations

import subprocess
from collections import defaultdict
from pathlib import Path

import fire

ROOT = Path(__file__).resolve().parents[1]
SUFFIXES = (".yaml", ".yml", ".json")


def _files(rev: str | None) -> dict[str, list[str]]:
    if rev is None:
        paths = [
            p
            for p in sorted((ROOT / "bundles").glob("*/configs/*")) + sorted((ROOT / "bundles").glob("shared/*"))
            if p.suffix in SUFFIXES
        ]
        return {str(p.relative_to(ROOT)): p.read_text().splitlines() for p in paths}
    listed = subprocess.run(
        ["git", "-C", str(ROOT), "ls-tree", "-r", "--name-only", rev, "bundles"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.split()
    names = [
        n
        for n in listed
        if Path(n).suffix in SUFFIXES and (Path(n).parent.name == "configs" or Path(n).parent.name == "shared")
    ]
    return {
        n: subprocess.run(
            ["git", "-C", str(ROOT), "show", f"{rev}:{n}"], check=True, capture_output=True, text=True
        ).stdout.splitlines()
        for n in names
    }


def measure(files: dict[str, list[str]], window: int = 6) -> dict:
    """``runs``, ``duplicated`` lines and ``lines`` of the meaningful config text in ``files`` (name -> lines)."""
    kept = {
        name: [line.rstrip() for line in lines if line.strip() and not line.strip().startswith(("#", "//"))]
        for name, lines in files.items()
    }
    places = defaultdict(list)
    for name, lines in kept.items():
        for start in range(len(lines) - window + 1):
            places[tuple(lines[start : start + window])].append((name, start))
    covered = {name: [False] * len(lines) for name, lines in kept.items()}
    for where in places.values():
        if len(where) > 1:
            for name, start in where:
                covered[name][start : start + window] = [True] * window
    runs = sum(sum(1 for i, c in enumerate(flags) if c and (i == 0 or not flags[i - 1])) for flags in covered.values())
    return {"runs": runs, "duplicated": sum(map(sum, covered.values())), "lines": sum(map(len, kept.values()))}


def main(rev: str | None = None, window: int = 6) -> None:
    result = measure(_files(rev), window)
    print(
        f"{rev or 'working tree'}: {result['runs']} runs of >= {window} identical config lines standing elsewhere "
        f"too; {result['duplicated']} of {result['lines']} config lines duplicated "
        f"({result['duplicated'] / max(result['lines'], 1):.0%})"
    )


if __name__ == "__main__":
    fire.Fire(main)

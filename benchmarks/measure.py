# Copyright (c) monai-mamba contributors. Licensed under the Apache License, Version 2.0.
"""Helpers shared by the benchmark scripts: resident-set size, its peak over a block, the environment that makes the
resident size follow live memory, running one measurement in a fresh process, and fire's list arguments."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time

__all__ = ["rss_bytes", "PeakRSS", "MEMORY_ENV", "measure_in_subprocess", "as_list"]

# glibc: large blocks mmapped and returned at free, so the resident size follows live memory
MEMORY_ENV = dict(MALLOC_MMAP_THRESHOLD_="65536", MALLOC_TRIM_THRESHOLD_="0")


def rss_bytes() -> int:
    """The process's resident-set size now."""
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


class PeakRSS:
    """Highest resident-set size seen by a sampling thread (every ``interval`` seconds) while the block runs."""

    def __init__(self, interval: float = 0.0002) -> None:
        self.interval = interval

    def __enter__(self):
        self.peak, self._running = rss_bytes(), True
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def _sample(self):
        while self._running:
            self.peak = max(self.peak, rss_bytes())
            time.sleep(self.interval)

    def __exit__(self, *exc):
        self._running = False
        self._thread.join()
        self.peak = max(self.peak, rss_bytes())


def measure_in_subprocess(script: str, arguments: list[str], env: dict | None = None) -> dict:
    """Run ``python script *arguments`` (a benchmark measuring one case and printing its result as a JSON line last)
    and return that result, or ``{"error": <the last line of its stderr>}`` when it failed."""
    run = subprocess.run([sys.executable, script, *arguments], env=env, capture_output=True, text=True)
    if run.returncode != 0:
        return {"error": (run.stderr.strip().splitlines() or ["no output"])[-1]}
    return json.loads(run.stdout.strip().splitlines()[-1])


def as_list(value) -> list[str]:
    """A list argument given to fire: ``1,2`` arrives as a tuple, ``1`` as an int, ``a,b`` quoted as a string."""
    if isinstance(value, (tuple, list)):
        return [str(v) for v in value]
    return [v for v in str(value).split(",") if v]

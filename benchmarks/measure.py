# Copyright (c) monai-mamba contributors. Licensed under the Apache License, Version 2.0.
"""Measuring helpers shared by the benchmark scripts: resident-set size, its peak over a block, and the environment
that makes the resident size follow live memory."""

from __future__ import annotations

import os
import threading
import time

__all__ = ["rss_bytes", "PeakRSS", "MEMORY_ENV"]

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

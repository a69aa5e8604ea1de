# Copyright (c) monai-mamba contributors. Licensed under the Apache License, Version 2.0.
"""The training checkpoints of a run folder, ``checkpoint_epoch=<N>.pt``: which there are, newest first."""

from __future__ import annotations

import glob
import os
import re

__all__ = ["find_checkpoints"]

_FILENAME = re.compile(r"checkpoint_epoch=(\d+)\.pt$")


def find_checkpoints(checkpoint_dir: str) -> list[tuple[int, str]]:
    """``(epoch, path)`` of the interval checkpoints in ``checkpoint_dir``, newest first."""
    found = []
    for path in glob.glob(os.path.join(checkpoint_dir, "checkpoint_epoch=*.pt")):
        match = _FILENAME.search(path)
        if match:
            found.append((int(match.group(1)), path))
    return sorted(found, reverse=True)

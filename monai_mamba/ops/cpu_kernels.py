# Copyright (c) monai-mamba contributors. Licensed under the Apache License, Version 2.0.
"""The compiled (numba) CPU kernels, found at call time: numba is an ordinary dependency, but the package must import
and fall back to plain PyTorch without it, and importing a kernel module makes numba compile or load its cache, so
nothing imports one before it is used."""

from __future__ import annotations

import importlib
import importlib.util

__all__ = ["cpu_kernel"]


def cpu_kernel(module: str, name: str):
    """``monai_mamba.ops.<module>.<name>``, imported on first use; None when numba is not installed."""
    if importlib.util.find_spec("numba") is None:
        return None
    return getattr(importlib.import_module(f"monai_mamba.ops.{module}"), name)

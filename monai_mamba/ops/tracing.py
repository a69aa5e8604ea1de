# Copyright (c) monai-mamba contributors. Licensed under the Apache License, Version 2.0.
"""Whether the code runs under ``torch.jit.trace`` or ``torch.export``/``torch.compile``."""

from __future__ import annotations

import torch

__all__ = ["is_tracing"]


def is_tracing() -> bool:
    """True while a graph is being recorded: then only plain tensor operations may run (no compiled kernels, no
    Python checks on tensor-valued shapes)."""
    return torch.jit.is_tracing() or torch.compiler.is_compiling()

# Copyright (c) monai-mamba contributors. Licensed under the Apache License, Version 2.0.
"""Whether the code runs while a graph is being recorded, and by which recorder."""

from __future__ import annotations

import torch

__all__ = ["is_tracing", "records_plain_tensor_ops"]


def is_tracing() -> bool:
    """True while a graph is being recorded (``torch.jit.trace``, ``torch.compile``, ``torch.export``, ONNX export):
    then Python checks on tensor shapes are skipped (the shapes may be symbolic; the checks ran on the eager model)."""
    return torch.jit.is_tracing() or torch.compiler.is_compiling()


def records_plain_tensor_ops() -> bool:
    """True under ``torch.jit.trace`` and ONNX export, which can only record plain tensor operations; custom
    operators (the compiled scan) run under ``torch.compile`` and are recorded as one node by ``torch.export``."""
    return torch.jit.is_tracing() or torch.onnx.is_in_onnx_export()

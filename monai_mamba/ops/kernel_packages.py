# Copyright (c) monai-mamba contributors. Licensed under the Apache License, Version 2.0.
"""The optional GPU kernel packages, imported on first use and never at module import: mamba-ssm (the selective
scan, ``selective_scan_fn``) and causal-conv1d (``causal_conv1d_fn``), the ``cuda`` extra of monai-mamba.

Their absence is normal on a CPU. Where a CUDA device is present and a package does not import (not installed, or
built for another torch/CUDA), the reason is logged once as a WARNING with the fix, since every Mamba layer then runs
the slower pure-PyTorch path; ``python -m monai_mamba.info`` prints the same facts.
"""

from __future__ import annotations

import functools
import importlib
import importlib.metadata
import logging
from dataclasses import dataclass
from typing import Callable

import torch

__all__ = ["KERNEL_PACKAGES", "KernelPackage", "kernel_package"]

logger = logging.getLogger(__name__)

# distribution -> (module, function, the range of the `cuda` extra whose interfaces the contract tests exercise)
KERNEL_PACKAGES = {
    "mamba-ssm": ("mamba_ssm.ops.selective_scan_interface", "selective_scan_fn", ">=2.2.2,<2.4"),
    "causal-conv1d": ("causal_conv1d", "causal_conv1d_fn", ">=1.4,<1.8"),
}


@dataclass(frozen=True)
class KernelPackage:
    """What became of importing one kernel package: its function, or the reason it is missing."""

    name: str
    function: Callable | None
    version: str | None
    error: str | None

    @property
    def fix(self) -> str:
        supported = KERNEL_PACKAGES[self.name][2]
        return (
            f'pip install "{self.name}{supported}" --no-build-isolation (or pip install "monai-mamba[cuda]"), '
            f"built against the installed torch {torch.__version__}"
        )


def _version(name: str, module) -> str | None:
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:  # a source folder on the path: the module says its version
        return getattr(importlib.import_module(module.__name__.partition(".")[0]), "__version__", None)


@functools.cache
def kernel_package(name: str) -> KernelPackage:
    """Import the kernel package ``name`` (``"mamba-ssm"`` or ``"causal-conv1d"``) once and say how it went."""
    module_name, function_name, _ = KERNEL_PACKAGES[name]
    try:
        module = importlib.import_module(module_name)
        function = getattr(module, function_name)
    except Exception as error:  # absent, or its compiled extension was built for another torch/CUDA
        message = f"{type(error).__name__}: {error}"
        package = KernelPackage(name, None, None, message)
        if torch.cuda.is_available():
            logger.warning(
                "%s does not import (%s), so the Mamba layers run without its CUDA kernel, several times slower. "
                "Fix: %s. `python -m monai_mamba.info` shows every backend.",
                name,
                message,
                package.fix,
            )
        else:
            logger.debug("%s unavailable: %s", name, message)
        return package
    return KernelPackage(name, function, _version(name, module), None)

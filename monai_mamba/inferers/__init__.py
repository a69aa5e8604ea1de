# Copyright (c) monai-mamba contributors. Licensed under the Apache License, Version 2.0.
"""Inferers MONAI lacks: bfloat16 autocast on a CPU around any MONAI inferer."""

from monai_mamba.inferers.cpu_bf16 import CPUBF16Inferer, cpu_has_native_bf16

__all__ = ["CPUBF16Inferer", "cpu_has_native_bf16"]

# Copyright (c) monai-mamba contributors. Licensed under the Apache License, Version 2.0.
"""A random stand-in for the VMamba-Tiny ImageNet checkpoint (the real file cannot be downloaded here)."""

from __future__ import annotations

import csv
import re
from pathlib import Path

import torch

VMAMBA_KEYS = Path(__file__).parent / "data" / "vmamba_tiny_v0_state_dict_keys.tsv"


def random_vmamba_tiny_checkpoint(seed: int = 0) -> dict[str, torch.Tensor]:
    """The 212 key names and shapes of ``vssmtiny_dp01_ckpt_epoch_292.pth['model']``, random values."""
    gen = torch.Generator().manual_seed(seed)
    with open(VMAMBA_KEYS) as f:
        rows = list(csv.reader(f, delimiter="\t"))
    return {key: torch.randn(*(int(s) for s in re.findall(r"\d+", shape)), generator=gen) for key, shape in rows}

# Copyright (c) monai-mamba contributors. Licensed under the Apache License, Version 2.0.
"""What many tests share: the GPU marker, a random stand-in for the VMamba-Tiny ImageNet checkpoint (the real file
cannot be downloaded here) and the tests' own folder on ``sys.path`` for their helper modules."""

from __future__ import annotations

import csv
import re
from pathlib import Path

import pytest
import torch

VMAMBA_KEYS = Path(__file__).parent / "data" / "vmamba_tiny_v0_state_dict_keys.tsv"


def pytest_collection_modifyitems(config, items):
    """Tests marked ``gpu`` need a CUDA device: skipped without one (CI also deselects them with ``-m "not gpu"``)."""
    if torch.cuda.is_available():
        return
    skip = pytest.mark.skip(reason="needs a CUDA device")
    for item in items:
        if "gpu" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def vmamba_tiny_checkpoint() -> dict[str, torch.Tensor]:
    """The 212 key names and shapes of ``vssmtiny_dp01_ckpt_epoch_292.pth['model']`` with random values, built once;
    tests read it and never change it."""
    gen = torch.Generator().manual_seed(0)
    with open(VMAMBA_KEYS) as f:
        rows = list(csv.reader(f, delimiter="\t"))
    return {key: torch.randn(*(int(s) for s in re.findall(r"\d+", shape)), generator=gen) for key, shape in rows}


@pytest.fixture(scope="session")
def vmamba_tiny_checkpoint_file(vmamba_tiny_checkpoint, tmp_path_factory) -> Path:
    """That checkpoint as the official file holds it (weights under ``"model"``), written once."""
    path = tmp_path_factory.mktemp("vmamba") / "vssmtiny_dp01_ckpt_epoch_292.pth"
    torch.save({"model": vmamba_tiny_checkpoint, "epoch": 292}, path)
    return path

# Copyright (c) monai-mamba contributors. Licensed under the Apache License, Version 2.0.
"""What many tests share: the GPU marker, a random stand-in for the VMamba-Tiny ImageNet checkpoint (the real file
cannot be downloaded here) and the tests' own folder on ``sys.path`` for their helper modules."""

from __future__ import annotations

import csv
import os
import re
from pathlib import Path

import pytest
import torch

VMAMBA_KEYS = Path(__file__).parent / "data" / "vmamba_tiny_v0_state_dict_keys.tsv"
XDIST_WORKERS = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))  # pytest-xdist worker processes (1: none)


def _share_the_cores_among_workers() -> None:
    """Under pytest-xdist (``-n N``) each of the N worker processes computes with its share of the cores, so N workers
    do not run N times as many threads as there are cores; the processes the tests start (torchrun, ``python -m
    monai.bundle``) inherit the share through the environment. nnU-Net's predictor (the parity tests' reference) sets
    torch's threads to ``nnUNet_def_n_proc`` (8 unless set) while it exports a prediction: held to the share too."""
    threads = max(1, (os.cpu_count() or 1) // XDIST_WORKERS)
    os.environ.setdefault("nnUNet_def_n_proc", str(threads))  # read when nnunetv2 is first imported
    if XDIST_WORKERS > 1:
        os.environ["OMP_NUM_THREADS"] = str(threads)
        torch.set_num_threads(threads)  # the numba kernels use as many (use_torch_threads)
        # numba's OpenMP pool, started with NUMBA_NUM_THREADS threads (default: every core) at the first kernel call,
        # keeps a thread busy-waiting even while the kernels run on one: beside another worker it took the core the
        # tests compute on (a LightM-UNet forward 30x slower). Read when numba is first imported.
        os.environ["NUMBA_NUM_THREADS"] = str(threads)


_share_the_cores_among_workers()


def pytest_collection_modifyitems(config, items):
    """Tests marked ``gpu`` need a CUDA device: skipped without one (CI also deselects them with ``-m "not gpu"``).
    Under pytest-xdist the slow tests are handed out first, so that no worker starts a minutes-long one last while the
    others have run out of work."""
    if XDIST_WORKERS > 1:
        items.sort(key=lambda item: "slow" not in item.keywords)  # stable: the file order within each group
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

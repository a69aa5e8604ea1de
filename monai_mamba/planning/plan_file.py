# Copyright (c) monai-mamba contributors. Licensed under the Apache License, Version 2.0.
"""Plan a data set from its datalist and keep the plan in a JSON file that bundle configs read."""

from __future__ import annotations

import json
import logging
import os

from monai.data import load_decathlon_datalist

from monai_mamba.planning.fingerprint import compute_fingerprint
from monai_mamba.planning.plan import REFERENCE_GPU_GB, plan_network

__all__ = ["load_or_make_plan", "make_plan", "read_plan"]

logger = logging.getLogger(__name__)


def make_plan(
    datalist: str, output: str, num_classes: int, modalities: list[str] | str = "MR",
    gpu_memory_gb: float = REFERENCE_GPU_GB, data_list_key: str = "training", base_dir: str | None = None,
) -> dict:
    """Fingerprint the ``data_list_key`` cases of a MONAI datalist, plan MambaClinix for them and write the plan.

    Args:
        datalist: ``datalist.json`` (paths relative to its folder unless ``base_dir``).
        output: the plan file to write (JSON).
        num_classes: labels are ``0 .. num_classes - 1``.
        modalities: per image channel, ``"CT"`` or anything else (MR, ...); one string for all channels.
        gpu_memory_gb: memory of the GPU to plan for.

    Returns:
        The plan (also written to ``output``).
    """
    if not os.path.isfile(datalist):
        raise FileNotFoundError(f"datalist not found: {datalist}; give the path of your datalist.json.")
    cases = load_decathlon_datalist(datalist, data_list_key=data_list_key,
                                    base_dir=base_dir or os.path.dirname(os.path.abspath(datalist)))
    plan = plan_network(compute_fingerprint(cases, num_classes), modalities, gpu_memory_gb)
    os.makedirs(os.path.dirname(os.path.abspath(output)), exist_ok=True)
    temporary = f"{output}.{os.getpid()}.tmp"  # one per process: DDP ranks may plan at the same time
    with open(temporary, "w") as f:
        json.dump(plan, f, indent=2)
    os.replace(temporary, output)
    logger.info("plan written to %s: patch %s, %d stages (%d HGCN), batch %d, spacing %s", output, plan["patch_size"],
                plan["num_stages"], plan["num_hgcn_stages"], plan["batch_size"], [round(s, 3) for s in plan["spacing"]])
    return plan


def read_plan(path: str) -> dict:
    """The plan in ``path`` (written by ``make_plan``, the planning command or a first training run)."""
    if not os.path.isfile(path):
        raise FileNotFoundError(f"no plan at {path}: it is written by the first training run (models/plan.json) or by "
                                "'python -m monai_mamba.planning plan'; give its path with --plan_file.")
    with open(path) as f:
        return json.load(f)


def load_or_make_plan(path: str, datalist: str, num_classes: int, modalities: list[str] | str = "MR",
                      gpu_memory_gb: float = REFERENCE_GPU_GB, base_dir: str | None = None) -> dict:
    """The plan in ``path``; when the file does not exist, plan the datalist's training cases and write it there
    (the bundle's self-configuration on first run)."""
    if os.path.isfile(path):
        return read_plan(path)
    logger.info("no plan at %s: planning the training cases of %s", path, datalist)
    return make_plan(datalist, path, num_classes, modalities, gpu_memory_gb, base_dir=base_dir)

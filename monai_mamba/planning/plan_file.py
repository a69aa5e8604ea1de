# Copyright (c) monai-mamba contributors. Licensed under the Apache License, Version 2.0.
"""Plan a data set from its datalist and keep the plan in a JSON file that bundle configs read."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import time

from monai.data import load_decathlon_datalist
from monai.transforms import LoadImage

from monai_mamba.data.checks import check_datalist
from monai_mamba.errors import ActionableError
from monai_mamba.planning.fingerprint import compute_fingerprint
from monai_mamba.planning.plan import REFERENCE_GPU_GB, plan_network

__all__ = ["PlanMismatchError", "load_or_make_plan", "make_plan", "read_plan"]

logger = logging.getLogger(__name__)


class PlanMismatchError(ActionableError, ValueError):
    """A plan does not fit the data or settings it is used with."""


def _datalist_digest(cases: list, base_dir: str) -> str:
    relative = [
        {k: os.path.relpath(v, base_dir) if isinstance(v, str) and os.path.isabs(v) else v for k, v in case.items()}
        for case in cases
    ]
    return hashlib.sha256(json.dumps(relative, sort_keys=True, default=str).encode()).hexdigest()[:16]


def _modalities(modalities: list[str] | str, channels: int) -> list[str]:
    names = [modalities] * channels if isinstance(modalities, str) else list(modalities)
    return ["CT" if m.upper() == "CT" else "MR" for m in names]


def make_plan(
    datalist: str,
    output: str,
    num_classes: int,
    modalities: list[str] | str = "MR",
    gpu_memory_gb: float = REFERENCE_GPU_GB,
    data_list_key: str = "training",
    base_dir: str | None = None,
    demo: bool = False,
) -> dict:
    """Check, then fingerprint the ``data_list_key`` cases of a MONAI datalist, plan them and write the
    plan (with ``made_from``: what it was planned from, compared by ``load_or_make_plan``).

    Args:
        datalist: ``datalist.json`` (paths relative to its folder unless ``base_dir``).
        output: the plan file to write (JSON).
        num_classes: label values in the files are ``0 .. num_classes - 1`` (at least 2; BraTS: 5, its labels being
            0, 1, 2 and 4).
        modalities: per image channel, ``"CT"`` or anything else (MR, ...); one string for all channels.
        gpu_memory_gb: memory of the GPU to plan for.
        demo: the data are the generated demo data (recorded in the plan, so a release never ships a demo plan).

    Returns:
        The plan (also written to ``output``).

    Raises:
        FileNotFoundError: no datalist.
        ValueError: ``num_classes`` < 2.
        DataCheckError: the cases fail the data check (missing files, labels outside ``[0, num_classes)``, NaN, ...).
    """
    if not os.path.isfile(datalist):
        raise FileNotFoundError(f"datalist not found: {datalist}; give the path of your datalist.json.")
    if int(num_classes) < 2:
        raise ValueError(
            f"num_classes={num_classes}: give the number of classes including the background (2 for a "
            "binary task: background and foreground)."
        )
    base_dir = base_dir or os.path.dirname(os.path.abspath(datalist))
    cases = load_decathlon_datalist(datalist, data_list_key=data_list_key, base_dir=base_dir)
    first = check_and_count_channels(cases, num_classes)
    plan = plan_network(compute_fingerprint(cases, num_classes), modalities, gpu_memory_gb)
    plan["made_from"] = {
        "datalist_digest": _datalist_digest(cases, base_dir),
        "cases": len(cases),
        "num_classes": int(num_classes),
        "in_channels": first,
        "modalities": _modalities(modalities, first),
        "demo": bool(demo),
    }
    os.makedirs(os.path.dirname(os.path.abspath(output)), exist_ok=True)
    temporary = f"{output}.{os.getpid()}.tmp"  # one per process: DDP ranks may plan at the same time
    with open(temporary, "w") as f:  # as the model zoo's pre-commit hooks want released JSON: indent 4, final newline
        f.write(json.dumps(plan, indent=4) + "\n")
    os.replace(temporary, output)
    logger.info(
        "plan written to %s: patch %s, %d stages, batch %d, spacing %s",
        output,
        plan["patch_size"],
        plan["num_stages"],
        plan["batch_size"],
        [round(s, 3) for s in plan["spacing"]],
    )
    return plan


def check_and_count_channels(cases: list, num_classes: int) -> int:
    """Run the data check on ``cases`` (with the dimensionality and channel count of the first image) and return
    their channel count."""
    if not cases:
        check_datalist(cases, spatial_dims=3, in_channels=1, num_classes=num_classes, split="planned")  # raises
    first = LoadImage(image_only=True, ensure_channel_first=True)(cases[0]["image"])
    check_datalist(
        cases, spatial_dims=first.ndim - 1, in_channels=int(first.shape[0]), num_classes=num_classes, split="planned"
    )
    return int(first.shape[0])


def read_plan(path: str) -> dict:
    """The plan in ``path`` (written by ``make_plan``, the planning command or a first training run)."""
    if not os.path.isfile(path):
        raise FileNotFoundError(
            f"no plan at {path}: it is written by the first training run (models/plan.json) or by "
            "'python -m monai_mamba.planning plan'; check the path given with --plan_file."
        )
    with open(path) as f:
        return json.load(f)


def check_plan(plan: dict, path: str, in_channels: int, modalities: list[str] | str) -> None:
    """Raise ``PlanMismatchError`` when ``plan`` cannot serve this task: another channel count or another
    normalisation (CT vs MR). (The classes are the bundle's; the plan does not depend on them.)"""
    problems = []
    channels = len(plan["normalization"])
    if channels != int(in_channels):
        problems.append(f"it normalises {channels} image channel(s), the images have in_channels={in_channels}")
    wanted = _modalities(modalities, channels)
    planned = ["CT" if s["scheme"] == "CT" else "MR" for s in plan["normalization"]]
    if channels == int(in_channels) and planned != wanted:
        problems.append(f"it normalises the channels as {planned}, the task says {wanted} (modalities)")
    if problems:
        raise PlanMismatchError(
            f"the plan {path} does not fit this task: " + "; ".join(problems) + ". Give a plan "
            "made for this data (--plan_file), or plan it: python -m monai_mamba.planning plan "
            "--datalist DATALIST --output plan.json --num_classes N --modalities M."
        )


def load_or_make_plan(
    path: str,
    datalist: str,
    num_classes: int,
    modalities: list[str] | str = "MR",
    gpu_memory_gb: float = REFERENCE_GPU_GB,
    base_dir: str | None = None,
    in_channels: int | None = None,
    plan_file: str = "",
    resume: str = "auto",
    demo: bool = False,
) -> dict:
    """The plan a training run uses.

    - ``plan_file`` given: that file, which must exist (a mistyped path is an error, never a new plan there);
    - else ``path`` (the run's ``models/plan.json``): read when it exists, made from the datalist's training cases
      when it does not (the bundle's self-configuration on first run). A plan made from other training data is used
      with a warning (the run's identity check then refuses to resume another run's checkpoints); with
      ``resume="fresh"`` it is moved to ``previous_runs/`` and the data are planned again.

    Either way the plan must fit the task (``check_plan``): channels and CT/MR normalisation.

    Args:
        num_classes: label values in the files are ``0 .. num_classes - 1`` (what the planner's data check allows).
    """
    if plan_file:
        plan = read_plan(plan_file)
        if in_channels is not None:
            check_plan(plan, plan_file, in_channels, modalities)
        return plan
    if os.path.isfile(path):
        plan = read_plan(path)
        made_from = plan.get("made_from", {})
        if os.path.isfile(datalist) and made_from:
            base = base_dir or os.path.dirname(os.path.abspath(datalist))
            cases = load_decathlon_datalist(datalist, data_list_key="training", base_dir=base)
            if _datalist_digest(cases, base) != made_from.get("datalist_digest"):
                if resume == "fresh":
                    target = os.path.join(os.path.dirname(path), "previous_runs", time.strftime("%Y%m%d-%H%M%S"))
                    os.makedirs(target, exist_ok=True)
                    shutil.move(path, os.path.join(target, os.path.basename(path)))
                    logger.warning("%s was planned from other training data: moved to %s; planning again", path, target)
                    return make_plan(
                        datalist, path, num_classes, modalities, gpu_memory_gb, base_dir=base_dir, demo=demo
                    )
                logger.warning(
                    "%s was planned from other training data (%s cases) than %s (%d cases); it is used as it is",
                    path,
                    made_from.get("cases"),
                    datalist,
                    len(cases),
                )
        if in_channels is not None:
            check_plan(plan, path, in_channels, modalities)
        return plan
    logger.info("no plan at %s: planning the training cases of %s", path, datalist)
    plan = make_plan(datalist, path, num_classes, modalities, gpu_memory_gb, base_dir=base_dir, demo=demo)
    if in_channels is not None:
        check_plan(plan, path, in_channels, modalities)
    return plan

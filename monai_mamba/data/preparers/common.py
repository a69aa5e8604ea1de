# Copyright (c) monai-mamba contributors. Licensed under the Apache License, Version 2.0.
"""What every data-set preparer shares: placing files, converting images, seeded splits, the datalist."""

from __future__ import annotations

import functools
import json
import logging
import os
import shutil
from collections.abc import Callable, Sequence
from pathlib import Path

import nibabel as nib
import numpy as np
from monai.data import partition_dataset

__all__ = ["Case", "find", "place", "preparer", "save_nifti", "split", "write_datalist"]

logger = logging.getLogger(__name__)

Case = dict  # {"id": str, "image": relative path, "label": relative path}


def check_source_and_destination(src: str | Path, dst: str | Path) -> None:
    """Refuse a destination that is the source or inside it: preparing writes ``imagesTr/``, ``labelsTr/`` and
    ``datalist.json`` there, which could replace the data set's own files."""
    source, destination = Path(src).resolve(), Path(dst).resolve()
    if not source.is_dir():
        raise FileNotFoundError(f"--src {src} is not a folder; give the folder of the data set as distributed.")
    if destination == source or source in destination.parents:
        raise ValueError(
            f"--dst {dst} is {'the source folder' if destination == source else 'inside the source folder'} "
            f"{src}; preparing writes new files there and must never touch the data set's own files. Give "
            "a --dst outside --src (e.g. a sibling folder)."
        )


def preparer(prepare: Callable) -> Callable:
    """Decorate a ``prepare_<dataset>(src, dst, ...)`` function: ``check_source_and_destination`` runs first."""

    @functools.wraps(prepare)
    def checked(src: str, dst: str, *args, **kwargs):
        check_source_and_destination(src, dst)
        return prepare(src, dst, *args, **kwargs)

    return checked


def find(root: Path, pattern: str, what: str) -> list[Path]:
    """Sorted matches of ``pattern`` under ``root``; a ``FileNotFoundError`` saying what was expected when none."""
    matches = sorted(Path(root).glob(pattern))
    if not matches:
        raise FileNotFoundError(
            f"no {what} under {root} (looked for {pattern}); give --src the folder of the data set as distributed."
        )
    return matches


def place(source: Path, destination: Path) -> None:
    """Hard-link ``source`` to ``destination`` (no copy of large data), or copy where linking is not possible. A
    destination that already is the same file (an earlier run) is left alone; another file there is replaced by an
    atomic rename, so nothing is ever unlinked that could be the source."""
    destination.parent.mkdir(parents=True, exist_ok=True)
    if destination.exists() and os.path.samefile(source, destination):
        return
    temporary = destination.with_name(f".{destination.name}.{os.getpid()}.tmp")
    try:
        os.link(source, temporary)
    except OSError:
        shutil.copy2(source, temporary)
    os.replace(temporary, destination)


def save_nifti(array: np.ndarray, destination: Path, affine: np.ndarray | None = None, dtype=np.float32) -> None:
    destination.parent.mkdir(parents=True, exist_ok=True)
    nib.save(
        nib.Nifti1Image(np.asarray(array).astype(dtype), np.eye(4) if affine is None else affine), str(destination)
    )


def split(ids: Sequence[str], fractions: Sequence[float] = (0.7, 0.1, 0.2), seed: int = 0) -> dict[str, list[str]]:
    """Shuffle ``ids`` with ``seed`` and cut them into training/validation/testing by ``fractions``
    (``monai.data.partition_dataset``). The same ids and seed always give the same split."""
    if len(fractions) != 3 or abs(sum(fractions) - 1) > 1e-6:
        raise ValueError(f"fractions must be 3 numbers summing to 1 (training, validation, testing), got {fractions}.")
    parts = partition_dataset(sorted(ids), ratios=list(fractions), shuffle=True, seed=seed)
    return {name: sorted(part) for name, part in zip(("training", "validation", "testing"), parts)}


def write_datalist(destination: Path, cases: dict[str, Case], splits: dict[str, list[str]], **info) -> Path:
    """``destination/datalist.json`` in the MONAI format: every split lists ``{"image", "label"}`` paths relative
    to ``destination`` (testing entries keep their labels, for ``evaluate --eval_split testing``), plus ``info``."""
    datalist = {**info}
    for name, ids in splits.items():
        datalist[name] = [{k: v for k, v in cases[i].items() if k != "id"} for i in ids]
    path = Path(destination) / "datalist.json"
    path.write_text(json.dumps(datalist, indent=2))
    logger.info("wrote %s: %s", path, {name: len(ids) for name, ids in splits.items()})
    return path

# Copyright (c) monai-mamba contributors. Licensed under the Apache License, Version 2.0.
"""What an evaluation scored, written beside its CSV files: which model file (by SHA-256), on which data, the totals.

``python -m monai_mamba.bundles pack NAME --weights_url URL`` releases ``models/model.pt`` only with the metrics of an
evaluation of that very file: it reads this record and compares the hash.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
from pathlib import Path

from ignite.engine import Engine, Events

__all__ = ["EVALUATION_RECORD", "EvaluationRecord", "file_sha256"]

EVALUATION_RECORD = "evaluation.json"


def file_sha256(path: str | os.PathLike) -> str:
    """SHA-256 of a file, read in blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


class EvaluationRecord:
    """At the end of an evaluation, write ``<output_dir>/evaluation.json``: ``model_sha256`` of ``model_path``, the
    ``dataset`` (the data folder's name, or "generated demo data") and ``split`` scored, the number of ``cases`` and
    the engine's final ``metrics`` (name -> value; a value that is not finite is written as ``null``).

    Args:
        model_path: the model file that was evaluated (``models/model.pt``).
        output_dir: where the evaluation writes its files (``eval/``).
        dataset_dir: the data folder (``--dataset_dir``); empty for a bundle's generated demo data.
        split: the datalist split scored (``validation``, ``testing``).
    """

    def __init__(self, model_path: str, output_dir: str, dataset_dir: str, split: str) -> None:
        self.model_path, self.output_dir, self.split = model_path, output_dir, split
        self.dataset = os.path.basename(os.path.normpath(dataset_dir)) if dataset_dir else "generated demo data"

    def attach(self, engine: Engine) -> None:
        engine.add_event_handler(Events.COMPLETED, self)

    def __call__(self, engine: Engine) -> None:
        metrics = {name: float(value) for name, value in engine.state.metrics.items() if _is_number(value)}
        record = {
            "model": os.path.basename(self.model_path),
            "model_sha256": file_sha256(self.model_path),
            "dataset": self.dataset,
            "split": self.split,
            "cases": len(engine.data_loader.dataset),
            "metrics": {name: value if math.isfinite(value) else None for name, value in metrics.items()},
        }
        Path(self.output_dir).mkdir(parents=True, exist_ok=True)
        (Path(self.output_dir) / EVALUATION_RECORD).write_text(json.dumps(record, indent=2) + "\n")


def _is_number(value) -> bool:
    try:
        float(value)
    except (TypeError, ValueError):
        return False
    return True

# Copyright (c) monai-mamba contributors. Licensed under the Apache License, Version 2.0.
"""Medical Segmentation Decathlon tasks: ``TaskNN_Name/{imagesTr,labelsTr,dataset.json}`` as distributed."""

from __future__ import annotations

import json
from pathlib import Path

from monai_mamba.data.preparers.common import find, place, preparer, split, write_datalist

__all__ = ["prepare_msd"]


@preparer
def prepare_msd(src: str, dst: str, seed: int = 0) -> Path:
    """A task's labelled cases (from its ``dataset.json``; multi-modal images stay 4-D, channels last), split 7:1:2
    at random with ``seed``; the task's label and modality names are kept in the datalist."""
    src_root, dst_root = Path(src), Path(dst)
    (manifest,) = find(src_root, "dataset.json", "the task's dataset.json (give --src the TaskNN_Name folder)")[:1]
    task = json.loads(manifest.read_text())
    cases = {}
    for entry in task["training"]:
        image, label = src_root / entry["image"], src_root / entry["label"]
        if not image.is_file() or not label.is_file():
            raise FileNotFoundError(f"dataset.json lists {entry['image']} / {entry['label']}, not found under {src}.")
        case_id, suffix = image.name.split(".")[0], "".join(image.suffixes)
        place(image, dst_root / "imagesTr" / f"{case_id}{suffix}")
        place(label, dst_root / "labelsTr" / f"{case_id}{suffix}")
        cases[case_id] = {"image": f"imagesTr/{case_id}{suffix}", "label": f"labelsTr/{case_id}{suffix}"}
    labels = [task.get("labels", {})[k] for k in sorted(task.get("labels", {}), key=int)]
    return write_datalist(
        dst_root,
        cases,
        split(list(cases), (0.7, 0.1, 0.2), seed),
        name=task.get("name", src_root.name),
        labels=labels,
        modality=task.get("modality", {}),
    )

# Copyright (c) monai-mamba contributors. Licensed under the Apache License, Version 2.0.
"""AMOS 2022 (abdominal CT and MRI): ``imagesTr``/``labelsTr``/``imagesVa``/``labelsVa`` as distributed."""

from __future__ import annotations

import re
from pathlib import Path

from monai_mamba.data.preparers.common import find, place, preparer, split, write_datalist

__all__ = ["prepare_amos"]

_LABELS = [
    "background",
    "spleen",
    "right kidney",
    "left kidney",
    "gallbladder",
    "esophagus",
    "liver",
    "stomach",
    "aorta",
    "postcava",
    "pancreas",
    "right adrenal gland",
    "left adrenal gland",
    "duodenum",
    "bladder",
    "prostate/uterus",
]


@preparer
def prepare_amos(src: str, dst: str, seed: int = 0, modality: str = "MRI") -> Path:
    """AMOS cases of one ``modality`` (``"MRI"``: ids >= 500, as AMOS numbers them; ``"CT"``: ids < 500). The
    labelled training cases (``imagesTr``) train, 10 % of them (seeded) validate; the labelled validation release
    (``imagesVa``) tests, as Swin-UMamba's AbdomenMR protocol tests on held-out AMOS MRI. 16 labels (15 organs)."""
    if modality.upper() not in ("MRI", "CT"):
        raise ValueError(f"modality must be 'MRI' or 'CT', got {modality!r}.")
    src_root, dst_root = Path(src), Path(dst)
    wanted = (lambda n: n >= 500) if modality.upper() == "MRI" else (lambda n: n < 500)
    cases, origin = {}, {}
    for image in find(src_root, "**/images[TV][ra]/amos_*.nii*", "AMOS images (imagesTr/amos_NNNN.nii.gz)"):
        number = int(re.search(r"amos_(\d+)", image.name).group(1))
        label = image.parent.parent / image.parent.name.replace("images", "labels") / image.name
        if not wanted(number) or not label.is_file():
            continue
        case_id, suffix = f"amos_{number:04d}", "".join(image.suffixes)
        place(image, dst_root / "imagesTr" / f"{case_id}{suffix}")
        place(label, dst_root / "labelsTr" / f"{case_id}{suffix}")
        cases[case_id] = {"image": f"imagesTr/{case_id}{suffix}", "label": f"labelsTr/{case_id}{suffix}"}
        origin[case_id] = image.parent.name
    if not cases:
        raise FileNotFoundError(f"no labelled AMOS {modality} case under {src}.")
    held = split([c for c in cases if origin[c] == "imagesTr"], (0.9, 0.1, 0.0), seed)
    splits = {
        "training": held["training"],
        "validation": held["validation"],
        "testing": sorted(c for c in cases if origin[c] == "imagesVa"),
    }
    return write_datalist(dst_root, cases, splits, name=f"AMOS {modality}", labels=_LABELS)

# Copyright (c) monai-mamba contributors. Licensed under the Apache License, Version 2.0.
"""ACDC (cardiac cine MRI): ``training/patientNNN/patientNNN_frameFF.nii.gz`` + ``..._gt.nii.gz`` as distributed."""

from __future__ import annotations

import re
from pathlib import Path

from monai_mamba.data.preparers.common import find, place, preparer, split, write_datalist

__all__ = ["prepare_acdc"]


@preparer
def prepare_acdc(src: str, dst: str, seed: int = 0) -> Path:
    """Every annotated frame (end-diastole and end-systole) of the 100 training patients as a case; split by patient
    70 / 10 / 20 (the papers' ACDC split sizes) with ``seed``, so both frames of a patient stay in one split.
    Labels: 0 background, 1 right ventricle, 2 myocardium, 3 left ventricle (as distributed)."""
    src_root, dst_root = Path(src), Path(dst)
    labels = find(src_root, "**/patient*/patient*_frame*_gt.nii*", "ACDC ground truths (patientNNN_frameFF_gt.nii.gz)")
    cases, patients = {}, {}
    for label in labels:
        image = label.with_name(label.name.replace("_gt", ""))
        if not image.is_file():
            raise FileNotFoundError(f"{label} has no image {image.name} next to it.")
        case_id = re.sub(r"_gt$", "", label.name.split(".")[0])
        suffix = "".join(label.suffixes)
        place(image, dst_root / "imagesTr" / f"{case_id}{suffix}")
        place(label, dst_root / "labelsTr" / f"{case_id}{suffix}")
        cases[case_id] = {"image": f"imagesTr/{case_id}{suffix}", "label": f"labelsTr/{case_id}{suffix}"}
        patients.setdefault(case_id.split("_")[0], []).append(case_id)
    by_patient = split(list(patients), (0.7, 0.1, 0.2), seed)
    splits = {name: sorted(c for p in ids for c in patients[p]) for name, ids in by_patient.items()}
    return write_datalist(
        dst_root, cases, splits, name="ACDC", labels=["background", "right ventricle", "myocardium", "left ventricle"]
    )

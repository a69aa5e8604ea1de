# Copyright (c) monai-mamba contributors. Licensed under the Apache License, Version 2.0.
"""FLARE22 (abdominal CT, 13 organs): ``images/FLARE22_Tr_NNNN_0000.nii.gz`` + ``labels/FLARE22_Tr_NNNN.nii.gz``."""

from __future__ import annotations

from pathlib import Path

from monai_mamba.data.preparers.common import find, place, preparer, split, write_datalist

__all__ = ["prepare_flare22"]


@preparer
def prepare_flare22(src: str, dst: str, seed: int = 0) -> Path:
    """The labelled FLARE22 cases (13 organs + background), split 7:1:2 at random with ``seed``."""
    src_root, dst_root = Path(src), Path(dst)
    cases = {}
    for label in find(src_root, "**/FLARE22_Tr_*.nii*", "FLARE22 cases (FLARE22_Tr_NNNN.nii.gz)"):
        if label.name.split(".")[0].endswith("_0000"):
            continue  # an image
        case_id, suffix = label.name.split(".")[0], "".join(label.suffixes)
        image = next(src_root.glob(f"**/{case_id}_0000.nii*"), None)
        if image is None:
            raise FileNotFoundError(f"{label.name} has no image {case_id}_0000.nii.gz.")
        place(image, dst_root / "imagesTr" / f"{case_id}{suffix}")
        place(label, dst_root / "labelsTr" / f"{case_id}{suffix}")
        cases[case_id] = {"image": f"imagesTr/{case_id}{suffix}", "label": f"labelsTr/{case_id}{suffix}"}
    return write_datalist(dst_root, cases, split(list(cases), (0.7, 0.1, 0.2), seed), name="FLARE22")

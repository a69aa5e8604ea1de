# Copyright (c) monai-mamba contributors. Licensed under the Apache License, Version 2.0.
"""BraTS 2021: ``BraTS2021_NNNNN/BraTS2021_NNNNN_{t1,t1ce,t2,flair,seg}.nii.gz`` as distributed."""

from __future__ import annotations

from pathlib import Path

import nibabel as nib
import numpy as np

from monai_mamba.data.preparers.common import find, place, preparer, save_nifti, split, write_datalist

__all__ = ["BRATS_CHANNELS", "prepare_brats"]

BRATS_CHANNELS = ("t1", "t1ce", "t2", "flair")


@preparer
def prepare_brats(src: str, dst: str, seed: int = 0) -> Path:
    """Each case's four MRI sequences stacked into one 4-D NIfTI (channels last, in the order ``BRATS_CHANNELS``, as
    the MSD BrainTumour layout and bundles/mambaclinix expect) and its labels (0, 1, 2, 4) unchanged; split
    7:1:2 at random with ``seed``."""
    src_root, dst_root = Path(src), Path(dst)
    cases = {}
    for seg in find(src_root, "**/BraTS*_seg.nii*", "BraTS cases (BraTS2021_NNNNN/BraTS2021_NNNNN_seg.nii.gz)"):
        case_id = seg.name.split("_seg")[0]
        channels = []
        for name in BRATS_CHANNELS:
            path = next(seg.parent.glob(f"{case_id}_{name}.nii*"), None)
            if path is None:
                raise FileNotFoundError(f"{case_id}: no {name} sequence next to {seg.name}.")
            channels.append(nib.load(str(path)))
        image = np.stack([np.asanyarray(c.dataobj).astype(np.float32) for c in channels], axis=-1)
        save_nifti(image, dst_root / "imagesTr" / f"{case_id}.nii.gz", channels[0].affine)
        place(seg, dst_root / "labelsTr" / f"{case_id}{''.join(seg.suffixes)}")
        cases[case_id] = {"image": f"imagesTr/{case_id}.nii.gz", "label": f"labelsTr/{case_id}{''.join(seg.suffixes)}"}
    return write_datalist(
        dst_root,
        cases,
        split(list(cases), (0.7, 0.1, 0.2), seed),
        name="BraTS 2021",
        channels=list(BRATS_CHANNELS),
        labels={"0": "background", "1": "necrotic tumour core", "2": "peritumoral oedema", "4": "enhancing tumour"},
    )

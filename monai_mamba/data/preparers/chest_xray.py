# Copyright (c) monai-mamba contributors. Licensed under the Apache License, Version 2.0.
"""Montgomery and Shenzhen chest X-rays with lung masks (PNG), as LightM-UNet's 2-D task."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from monai.transforms import LoadImage

from monai_mamba.data.preparers.common import find, preparer, save_nifti, split, write_datalist

__all__ = ["prepare_chest_xray"]


def _grey(path: Path) -> np.ndarray:
    image = np.asarray(LoadImage(image_only=True, reader="ITKReader")(str(path)), np.float32)
    return image.mean(-1) if image.ndim == 3 else image  # RGB(A) PNGs -> grey


@preparer
def prepare_chest_xray(src: str, dst: str, seed: int = 0) -> Path:
    """Montgomery (``CXR_png/MCUCXR_*.png``, ``ManualMask/leftMask`` and ``rightMask``: merged into one lung mask)
    and Shenzhen (``CXR_png/CHNCXR_*.png`` with ``*_mask.png`` lung masks, e.g. the published Shenzhen mask set),
    whichever of the two is under ``src``; images written as 2-D NIfTI (grey), masks as 0 background / 1 lung;
    split 7:1:2 at random with ``seed`` (LightM-UNet). Images without a mask are skipped."""
    src_root, dst_root = Path(src), Path(dst)
    images = find(src_root, "**/CXR_png/*CXR_*.png", "chest X-rays (CXR_png/MCUCXR_*.png or CHNCXR_*.png)")
    masks_of: dict[str, list[Path]] = {}
    for mask in src_root.rglob("*.png"):
        if mask.parent.name in ("leftMask", "rightMask"):
            masks_of.setdefault(mask.stem, []).append(mask)
        elif mask.stem.endswith("_mask"):
            masks_of.setdefault(mask.stem[: -len("_mask")], []).append(mask)
    cases = {}
    for image in images:
        stem = image.stem
        masks = masks_of.get(stem)
        if not masks:
            continue
        lung = np.zeros_like(_grey(masks[0]), dtype=np.uint8)
        for mask in masks:
            lung |= (_grey(mask) > 0).astype(np.uint8)
        save_nifti(_grey(image), dst_root / "imagesTr" / f"{stem}.nii.gz")
        save_nifti(lung, dst_root / "labelsTr" / f"{stem}.nii.gz", dtype=np.uint8)
        cases[stem] = {"image": f"imagesTr/{stem}.nii.gz", "label": f"labelsTr/{stem}.nii.gz"}
    if not cases:
        raise FileNotFoundError(
            f"no chest X-ray under {src} has a lung mask (ManualMask/leftMask, rightMask or *_mask.png)."
        )
    return write_datalist(
        dst_root,
        cases,
        split(list(cases), (0.7, 0.1, 0.2), seed),
        name="Montgomery & Shenzhen",
        labels=["background", "lung"],
    )

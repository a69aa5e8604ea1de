# Copyright (c) monai-mamba contributors. Licensed under the Apache License, Version 2.0.
"""LiTS (liver tumour CT): ``volume-N.nii`` and ``segmentation-N.nii`` as distributed."""

from __future__ import annotations

import re
from pathlib import Path

from monai_mamba.data.preparers.common import find, place, preparer, split, write_datalist

__all__ = ["prepare_lits"]


@preparer
def prepare_lits(src: str, dst: str, seed: int = 0) -> Path:
    """The 131 labelled volumes (0 background, 1 liver, 2 tumour), split 7:1:2 at random with ``seed``, as
    LightM-UNet."""
    src_root, dst_root = Path(src), Path(dst)
    cases = {}
    for volume in find(src_root, "**/volume-*.nii*", "LiTS volumes (volume-N.nii)"):
        number = re.search(r"volume-(\d+)", volume.name).group(1)
        label = next(volume.parent.glob(f"segmentation-{number}.nii*"), None) or next(
            src_root.glob(f"**/segmentation-{number}.nii*"), None
        )
        if label is None:
            raise FileNotFoundError(f"{volume} has no segmentation-{number}.nii.")
        suffix = "".join(volume.suffixes)
        place(volume, dst_root / "imagesTr" / f"liver_{number}{suffix}")
        place(label, dst_root / "labelsTr" / f"liver_{number}{suffix}")
        cases[number] = {"image": f"imagesTr/liver_{number}{suffix}", "label": f"labelsTr/liver_{number}{suffix}"}
    return write_datalist(
        dst_root,
        cases,
        split(list(cases), (0.7, 0.1, 0.2), seed),
        name="LiTS",
        labels=["background", "liver", "tumour"],
    )

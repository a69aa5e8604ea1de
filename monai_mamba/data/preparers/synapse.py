# Copyright (c) monai-mamba contributors. Licensed under the Apache License, Version 2.0.
"""Synapse multi-organ CT (BTCV): the raw NIfTI release or TransUNet's preprocessed npz slices / h5 volumes."""

from __future__ import annotations

import re
from pathlib import Path

import nibabel as nib
import numpy as np

from monai_mamba.data.preparers.common import find, preparer, save_nifti, write_datalist

__all__ = ["BTCV_TO_SYNAPSE", "SYNAPSE_TEST_CASES", "prepare_synapse"]

# the 8 organs of TransUNet's Synapse protocol, from BTCV's 13 labels: aorta, gallbladder, left kidney, right
# kidney, liver, pancreas, spleen, stomach -> 1..8; the other organs -> background
BTCV_TO_SYNAPSE = {8: 1, 4: 2, 3: 3, 2: 4, 6: 5, 11: 6, 1: 7, 7: 8}
# TransUNet's 12 test volumes; the other 18 of the 30 labelled cases train
SYNAPSE_TEST_CASES = ("0001", "0002", "0003", "0004", "0008", "0022", "0025", "0029", "0032", "0035", "0036", "0038")
_LABELS = [
    "background",
    "aorta",
    "gallbladder",
    "left kidney",
    "right kidney",
    "liver",
    "pancreas",
    "spleen",
    "stomach",
]


def _remap(label: np.ndarray) -> np.ndarray:
    out = np.zeros(label.shape, np.uint8)
    for btcv, synapse in BTCV_TO_SYNAPSE.items():
        out[label == btcv] = synapse
    return out


def _from_raw(src: Path, dst: Path) -> dict[str, dict]:
    cases = {}
    for image in find(src, "**/img/img*.nii*", "raw Synapse images (RawData/Training/img/imgNNNN.nii.gz)"):
        number = re.search(r"img(\d+)", image.name).group(1)
        label = next(image.parent.parent.joinpath("label").glob(f"label{number}.nii*"), None)
        if label is None:
            raise FileNotFoundError(f"{image} has no label/label{number}.nii.gz.")
        loaded = nib.load(str(image))
        save_nifti(np.asanyarray(loaded.dataobj), dst / "imagesTr" / f"case{number}.nii.gz", loaded.affine)
        save_nifti(
            _remap(np.asanyarray(nib.load(str(label)).dataobj)),
            dst / "labelsTr" / f"case{number}.nii.gz",
            loaded.affine,
            np.uint8,
        )
        cases[number] = {"image": f"imagesTr/case{number}.nii.gz", "label": f"labelsTr/case{number}.nii.gz"}
    return cases


def _from_transunet(src: Path, dst: Path) -> dict[str, dict]:
    """``train_npz/caseNNNN_sliceSSS.npz`` (image, label per axial slice) stacked back into volumes, and
    ``test_vol_h5/caseNNNN.npy.h5`` volumes (needs ``h5py``). Already windowed to [-125, 275] and scaled to [0, 1],
    with the 8-organ labels; no spacing is stored, so volumes get 1 mm voxels."""
    slices: dict[str, list[tuple[int, Path]]] = {}
    for path in sorted(src.glob("**/train_npz/case*_slice*.npz")):
        number, index = re.search(r"case(\d+)_slice(\d+)", path.name).groups()
        slices.setdefault(number, []).append((int(index), path))
    cases = {}
    for number, parts in slices.items():
        loaded = [np.load(p) for _, p in sorted(parts)]
        image = np.stack([d["image"].T for d in loaded], -1)  # slices (H, W) -> volume (W, H, D) as NIfTI x, y, z
        label = np.stack([d["label"].T for d in loaded], -1)
        save_nifti(image, dst / "imagesTr" / f"case{number}.nii.gz")
        save_nifti(label, dst / "labelsTr" / f"case{number}.nii.gz", dtype=np.uint8)
        cases[number] = {"image": f"imagesTr/case{number}.nii.gz", "label": f"labelsTr/case{number}.nii.gz"}
    volumes = sorted(src.glob("**/test_vol_h5/case*.npy.h5"))
    if volumes:
        try:
            import h5py
        except ImportError:
            raise ImportError(
                "TransUNet's test volumes are HDF5: `pip install h5py` to read them, or use the raw "
                "NIfTI release of Synapse."
            ) from None
        for path in volumes:
            number = re.search(r"case(\d+)", path.name).group(1)
            with h5py.File(path) as data:
                image, label = data["image"][:], data["label"][:]  # (D, H, W)
            save_nifti(image.transpose(2, 1, 0), dst / "imagesTr" / f"case{number}.nii.gz")
            save_nifti(label.transpose(2, 1, 0), dst / "labelsTr" / f"case{number}.nii.gz", dtype=np.uint8)
            cases[number] = {"image": f"imagesTr/case{number}.nii.gz", "label": f"labelsTr/case{number}.nii.gz"}
    return cases


@preparer
def prepare_synapse(src: str, dst: str, seed: int = 0) -> Path:
    """Synapse as TransUNet's protocol: 8 organs, 18 training and 12 test volumes (``SYNAPSE_TEST_CASES``). The
    papers' code validates on the test volumes, so ``validation`` lists them too (evaluate with ``--eval_split
    testing``). The raw release (``RawData/Training/img``, ``label``) is windowed by the bundles' ``synapse.yaml``;
    TransUNet's npz/h5 data come windowed already (then drop the window of ``synapse.yaml``). ``seed`` is unused:
    the split is fixed."""
    src_root, dst_root = Path(src), Path(dst)
    raw = list(src_root.glob("**/img/img*.nii*"))
    cases = _from_raw(src_root, dst_root) if raw else _from_transunet(src_root, dst_root)
    if not cases:
        raise FileNotFoundError(
            f"no Synapse data under {src}: expected RawData/Training/img/imgNNNN.nii.gz (+ label/) or "
            "TransUNet's train_npz/ and test_vol_h5/."
        )
    test = sorted(c for c in cases if c in SYNAPSE_TEST_CASES)
    splits = {"training": sorted(c for c in cases if c not in SYNAPSE_TEST_CASES), "validation": test, "testing": test}
    return write_datalist(dst_root, cases, splits, name="Synapse", labels=_LABELS)

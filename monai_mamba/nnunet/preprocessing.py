# Copyright (c) monai-mamba contributors. Licensed under the Apache License, Version 2.0.
"""nnU-Net v2's inference preprocessing and its inverse as MONAI transforms: the image goes into nnU-Net's frame
(axis order, crop to the non-zero region, per-channel normalisation, target spacing) and the network's logits come
back to the input's geometry (Isensee et al., "nnU-Net", Nature Methods 2021; ``DefaultPreprocessor.run_case_npy``
and ``export_prediction.convert_predicted_logits_to_segmentation_with_correct_shape`` of nnunetv2).

nnU-Net reads images with SimpleITK, whose arrays are ``(z, y, x)``; MONAI's readers give ``(x, y, z)``, so the
spatial axes are reversed first (a 2-D image becomes ``(1, y, x)`` with a slice spacing of 999 x the largest, as
nnU-Net's reader does), then the plans' ``transpose_forward`` applies.
"""

from __future__ import annotations

import json
import re
from collections.abc import Hashable, Mapping, Sequence

import numpy as np
import torch
from monai.config import KeysCollection
from monai.data import MetaTensor
from monai.data.utils import affine_to_spacing
from monai.transforms import MapTransform
from scipy.ndimage import binary_fill_holes

from monai_mamba.nnunet.resampling import compute_new_shape, resample_to_shape

__all__ = ["NORMALIZATION_SCHEMES", "NnUNetPreprocessd", "NnUNetRestored", "normalize_channel"]

PROPERTIES_KEY = "nnunet_properties"  # what the inverse needs, in the image's meta (a JSON string: collates as is)
NORMALIZATION_SCHEMES = ("CTNormalization", "ZScoreNormalization", "NoNormalization", "RescaleTo01Normalization")
_EPS = 1e-8
_CHANNEL_SUFFIX = re.compile(r"_\d{4}(?=(\.[A-Za-z0-9]+)*$)")  # CASE_0000.nii.gz -> CASE.nii.gz


def normalize_channel(
    image: np.ndarray, scheme: str, use_mask: bool, mask: np.ndarray, intensities: Mapping[str, float] | None
) -> np.ndarray:
    """One channel normalised as nnU-Net's scheme ``scheme`` does it (float32 arithmetic, as there).

    Args:
        image: the cropped channel, float32.
        scheme: ``CTNormalization`` (clip to the foreground's 0.5/99.5 percentiles, then z-score with the
            foreground mean/std of the plans), ``ZScoreNormalization`` (per-image z-score, inside ``mask`` when
            ``use_mask``, zero outside), ``NoNormalization``, ``RescaleTo01Normalization``.
        use_mask: the plans' ``use_mask_for_norm`` of this channel.
        mask: the filled non-zero region (after cropping).
        intensities: the plans' ``foreground_intensity_properties_per_channel`` entry (CT only).
    """
    image = image.astype(np.float32, copy=True)
    if scheme == "CTNormalization":
        np.clip(image, intensities["percentile_00_5"], intensities["percentile_99_5"], out=image)
        image -= intensities["mean"]
        image /= max(intensities["std"], _EPS)
    elif scheme == "ZScoreNormalization":
        if use_mask:
            values = image[mask]
            image[mask] = (values - values.mean()) / max(values.std(), _EPS)
        else:
            mean, std = image.mean(), image.std()
            image -= mean
            image /= max(std, _EPS)
    elif scheme == "RescaleTo01Normalization":
        image -= image.min()
        image /= np.clip(image.max(), a_min=_EPS, a_max=None)
    elif scheme != "NoNormalization":
        raise ValueError(f"nnU-Net normalisation {scheme!r} is not supported; supported: {NORMALIZATION_SCHEMES}.")
    return image


def _nnunet_order(image: np.ndarray, spacing: Sequence[float]) -> tuple[np.ndarray, list[float]]:
    """MONAI's ``(c, x, y[, z])`` -> SimpleITK's ``(c, [z,] y, x)`` and its spacing, 2-D as ``(c, 1, y, x)``."""
    spatial = image.ndim - 1
    image = image.transpose(0, *range(spatial, 0, -1))
    spacing = [float(s) for s in spacing[::-1]]
    if spatial == 2:
        return image[:, None], [max(spacing) * 999, *spacing]
    return image, spacing


class NnUNetPreprocessd(MapTransform):
    """The image of ``keys`` into nnU-Net's preprocessed frame; what ``NnUNetRestored`` needs to undo it goes into
    its meta.

    Args:
        keys: the image key (a ``MetaTensor`` with its affine, channel first, channels in the order of the
            dataset.json's ``channel_names``).
        target_spacing: the configuration's ``spacing`` (2 entries for ``2d``: the slice spacing is kept).
        transpose_forward: the plans' axis permutation.
        normalization_schemes: per channel.
        use_mask_for_norm: per channel.
        intensity_properties: the plans' ``foreground_intensity_properties_per_channel`` (keys "0", "1", ...).
        resampling: keyword arguments of the image resampling (``order``, ``order_z``, ``force_separate_z``).
    """

    def __init__(
        self,
        keys: KeysCollection,
        target_spacing: Sequence[float],
        transpose_forward: Sequence[int],
        normalization_schemes: Sequence[str],
        use_mask_for_norm: Sequence[bool],
        intensity_properties: Mapping[str, Mapping[str, float]],
        resampling: Mapping | None = None,
    ) -> None:
        super().__init__(keys)
        self.target_spacing = [float(s) for s in target_spacing]
        self.transpose_forward = [int(a) for a in transpose_forward]
        self.normalization_schemes = list(normalization_schemes)
        self.use_mask_for_norm = [bool(u) for u in use_mask_for_norm]
        self.intensity_properties = dict(intensity_properties)
        self.resampling = {"order": 3, "order_z": 0, "force_separate_z": None, **(resampling or {})}

    def preprocess(self, image: MetaTensor) -> MetaTensor:
        channels = image.shape[0]
        if channels != len(self.normalization_schemes):
            raise ValueError(
                f"{image.meta.get('filename_or_obj', 'the image')}: {channels} channel(s), the nnU-Net model was "
                f"trained on {len(self.normalization_schemes)} ({self.normalization_schemes}); give one file per "
                "channel (CASE_0000, CASE_0001, ...)."
            )
        spatial = image.ndim - 1
        spacing = affine_to_spacing(image.affine, r=spatial).tolist()
        data, spacing = _nnunet_order(image.detach().cpu().numpy().astype(np.float32), spacing)
        data = data.transpose(0, *[a + 1 for a in self.transpose_forward])
        spacing_transposed = [spacing[a] for a in self.transpose_forward]
        shape_before_cropping = list(data.shape[1:])

        mask = binary_fill_holes(np.any(data != 0, axis=0))
        if mask.any():
            nonzero = np.nonzero(mask)
            bbox = [[int(i.min()), int(i.max()) + 1] for i in nonzero]
        else:
            bbox = [[0, s] for s in shape_before_cropping]
        region = tuple(slice(lo, hi) for lo, hi in bbox)
        data, mask = data[(slice(None), *region)], mask[region]

        target = self.target_spacing
        if len(target) < 3:  # 2d: the slice spacing stays
            target = [spacing_transposed[0], *target]
        new_shape = compute_new_shape(data.shape[1:], spacing_transposed, target)
        data = np.stack(
            [
                normalize_channel(
                    data[c],
                    self.normalization_schemes[c],
                    self.use_mask_for_norm[c],
                    mask,
                    self.intensity_properties.get(str(c)),
                )
                for c in range(channels)
            ]
        )
        data = resample_to_shape(data, new_shape, spacing_transposed, target, **self.resampling)
        properties = {
            "spatial_dims": spatial,
            "spacing_transposed": spacing_transposed,
            "target_spacing": target,
            "shape_before_cropping": shape_before_cropping,
            "bbox": bbox,
            "shape_after_cropping": [hi - lo for lo, hi in bbox],
        }
        meta = dict(image.meta)  # the input's affine stays: NnUNetRestored gives it back to the label map
        meta[PROPERTIES_KEY] = json.dumps(properties)
        return MetaTensor(torch.from_numpy(np.ascontiguousarray(data)), meta=meta)

    def __call__(self, data: Mapping[Hashable, torch.Tensor]) -> dict[Hashable, torch.Tensor]:
        d = dict(data)
        for key in self.key_iterator(d):
            d[key] = self.preprocess(d[key])
        return d


class NnUNetRestored(MapTransform):
    """Logits in nnU-Net's preprocessed frame -> the label map in the input image's geometry, as nnU-Net exports
    it: logits resampled to the cropped input (``resampling``, order 1 by default), the most probable class, put
    back into the uncropped image (background outside the crop), axes back; the result carries the input's affine
    and meta, named after the case (``case_name``).

    Args:
        keys: the logits key, ``(classes, *preprocessed spatial)``.
        transpose_backward: the plans' inverse permutation.
        image_key: the preprocessed image, whose meta holds what ``NnUNetPreprocessd`` recorded.
        resampling: keyword arguments of the logits resampling (``order``, ``order_z``, ``force_separate_z``).
        case_name: drop nnU-Net's channel suffix (``_0000``) from the output's name.
    """

    def __init__(
        self,
        keys: KeysCollection,
        transpose_backward: Sequence[int],
        image_key: str = "image",
        resampling: Mapping | None = None,
        case_name: bool = True,
    ) -> None:
        super().__init__(keys)
        self.transpose_backward = [int(a) for a in transpose_backward]
        self.image_key = image_key
        self.resampling = {"order": 1, "order_z": 0, "force_separate_z": None, **(resampling or {})}
        self.case_name = case_name

    def restore(self, logits: torch.Tensor, image: MetaTensor) -> MetaTensor:
        if PROPERTIES_KEY not in image.meta:
            raise ValueError(
                f"NnUNetRestored: {self.image_key!r} has no {PROPERTIES_KEY}; run NnUNetPreprocessd on it."
            )
        props = json.loads(image.meta[PROPERTIES_KEY])
        logits = logits.detach().cpu().float().numpy()
        logits = resample_to_shape(
            logits,
            props["shape_after_cropping"],
            props["target_spacing"],
            props["spacing_transposed"],
            **self.resampling,
        )
        segmentation = np.zeros(props["shape_before_cropping"], dtype=np.uint8 if logits.shape[0] < 256 else np.uint16)
        segmentation[tuple(slice(lo, hi) for lo, hi in props["bbox"])] = logits.argmax(0)
        segmentation = segmentation.transpose(self.transpose_backward)
        if props["spatial_dims"] == 2:
            segmentation = segmentation[0]
        segmentation = segmentation.transpose(*range(segmentation.ndim - 1, -1, -1))  # back to MONAI's (x, y[, z])
        meta = {k: v for k, v in image.meta.items() if k != PROPERTIES_KEY}
        if self.case_name:
            meta["filename_or_obj"] = _CHANNEL_SUFFIX.sub("", str(meta.get("filename_or_obj", "")))
        return MetaTensor(torch.from_numpy(np.ascontiguousarray(segmentation[None])), meta=meta)

    def __call__(self, data: Mapping[Hashable, torch.Tensor]) -> dict[Hashable, torch.Tensor]:
        d = dict(data)
        for key in self.key_iterator(d):
            d[key] = self.restore(d[key], d[self.image_key])
        return d

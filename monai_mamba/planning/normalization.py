# Copyright (c) monai-mamba contributors. Licensed under the Apache License, Version 2.0.
"""The intensity normalisation a plan prescribes, as a MONAI transform."""

from __future__ import annotations

from monai.transforms import MapTransform, NormalizeIntensityd, ScaleIntensityRanged

__all__ = ["intensity_normalization"]


def intensity_normalization(plan: dict, keys: str | list[str] = "image") -> MapTransform:
    """nnU-Net's normalisation of the plan's channels.

    - every channel ``"zscore_nonzero"`` (MR and other modalities): per image and channel, z-score over the non-zero
      voxels (``NormalizeIntensityd(nonzero=True, channel_wise=True)``);
    - one ``"CT"`` channel: clip to the data set's foreground 0.5/99.5 percentiles and z-score with its foreground
      mean and std, i.e. ``ScaleIntensityRanged`` mapping ``[lo, hi]`` to ``[(lo - mean)/std, (hi - mean)/std]``.

    Raises:
        ValueError: CT mixed with other channels (not supported: normalise such data yourself).
    """
    schemes = plan["normalization"]
    if all(s["scheme"] == "zscore_nonzero" for s in schemes):
        return NormalizeIntensityd(keys=keys, nonzero=True, channel_wise=True)
    if len(schemes) == 1 and schemes[0]["scheme"] == "CT":
        (low, high), mean, std = schemes[0]["clip"], schemes[0]["mean"], max(schemes[0]["std"], 1e-8)
        return ScaleIntensityRanged(
            keys=keys, a_min=low, a_max=high, b_min=(low - mean) / std, b_max=(high - mean) / std, clip=True
        )
    raise ValueError(
        f"normalisation schemes {[s['scheme'] for s in schemes]}: CT channels mixed with others are not "
        "supported; give all channels one modality or normalise the images beforehand."
    )

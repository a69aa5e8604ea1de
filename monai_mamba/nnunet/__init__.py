# Copyright (c) monai-mamba contributors. Licensed under the Apache License, Version 2.0.
"""Models trained with nnU-Net v2 (the papers' own trainers) in MONAI: reading a results folder, and nnU-Net's
inference (preprocessing, sliding window, export) as MONAI transforms and an inferer."""

from monai_mamba.nnunet.inferer import FoldEnsemble, NnUNetSlidingWindowInferer, tile_starts
from monai_mamba.nnunet.preprocessing import NnUNetPreprocessd, NnUNetRestored, normalize_channel
from monai_mamba.nnunet.resampling import resample_to_shape
from monai_mamba.nnunet.results import TRAINERS, NnUNetResults, nnunet_cases, read_nnunet_checkpoint

__all__ = [
    "TRAINERS",
    "FoldEnsemble",
    "NnUNetPreprocessd",
    "NnUNetRestored",
    "NnUNetResults",
    "NnUNetSlidingWindowInferer",
    "nnunet_cases",
    "normalize_channel",
    "read_nnunet_checkpoint",
    "resample_to_shape",
    "tile_starts",
]

# Copyright (c) monai-mamba contributors. Licensed under the Apache License, Version 2.0.
"""Losses the papers add to MONAI's."""

from monai_mamba.losses.reconstruction import ReconstructionLoss
from monai_mamba.losses.reconstruction_alignment import ReconstructionAlignmentLoss
from monai_mamba.losses.region_specific_tversky import (
    DiceCERegionSpecificTverskyLoss,
    RegionSpecificTverskyLoss,
    nnunet_deep_supervision_weights,
)

__all__ = [
    "DiceCERegionSpecificTverskyLoss",
    "ReconstructionAlignmentLoss",
    "ReconstructionLoss",
    "RegionSpecificTverskyLoss",
    "nnunet_deep_supervision_weights",
]

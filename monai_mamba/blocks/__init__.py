# Copyright (c) monai-mamba contributors. Licensed under the Apache License, Version 2.0.
"""Reusable Mamba building blocks that know nothing of papers."""

from monai_mamba.blocks.mamba_layer import MambaLayer
from monai_mamba.blocks.patch_ops import (
    FinalPatchExpandX4,
    PatchEmbed,
    PatchEmbed2D,
    PatchExpand,
    PatchMerging,
    PatchMerging2D,
)
from monai_mamba.blocks.rvm_layer import RVMLayer
from monai_mamba.blocks.ss2d import SS2D
from monai_mamba.blocks.vmamba_encoder import VMambaEncoder
from monai_mamba.blocks.vss_block import VSSBlock
from monai_mamba.blocks.vss_stage import VSSStage

__all__ = [
    "FinalPatchExpandX4",
    "MambaLayer",
    "PatchEmbed",
    "PatchEmbed2D",
    "PatchExpand",
    "PatchMerging",
    "PatchMerging2D",
    "RVMLayer",
    "SS2D",
    "VMambaEncoder",
    "VSSBlock",
    "VSSStage",
]

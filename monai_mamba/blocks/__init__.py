# Copyright (c) monai-mamba contributors. Licensed under the Apache License, Version 2.0.
"""Building blocks of the networks, each usable on its own in any network, 2-D or 3-D: the Mamba layer and the
papers' layers built on it (VMamba's SS2D/VSS block and stages, LightM-UNet's RVM layer, MambaClinix's residual Mamba
layer and HGCN block, U-Mamba's Mamba layer), patch embedding/merging/expanding, the convolution blocks, upsampling
and norms they need, and the input checks that turn a wrong shape into a message naming the fix."""

from monai_mamba.blocks.hgcn import HGCNBlock, HighOrderGatedConv
from monai_mamba.blocks.layer_norm import ChannelsFirstLayerNorm
from monai_mamba.blocks.mamba_layer import MambaLayer
from monai_mamba.blocks.norm_mamba_layer import NormMambaLayer
from monai_mamba.blocks.patch_ops import (
    FinalPatchExpandX4,
    PatchEmbed,
    PatchEmbed2D,
    PatchExpand,
    PatchMerging,
    PatchMerging2D,
)
from monai_mamba.blocks.residual_conv_block import ResidualConvBlock
from monai_mamba.blocks.residual_mamba_layer import ResidualMambaLayer
from monai_mamba.blocks.rvm_layer import RVMLayer
from monai_mamba.blocks.ss2d import SS2D
from monai_mamba.blocks.upsample import NearestUpsampleConv
from monai_mamba.blocks.vmamba_encoder import VMambaEncoder
from monai_mamba.blocks.vss_block import VSSBlock
from monai_mamba.blocks.vss_stage import VSSStage

__all__ = [
    "ChannelsFirstLayerNorm",
    "FinalPatchExpandX4",
    "HGCNBlock",
    "HighOrderGatedConv",
    "MambaLayer",
    "NearestUpsampleConv",
    "NormMambaLayer",
    "PatchEmbed",
    "PatchEmbed2D",
    "PatchExpand",
    "PatchMerging",
    "PatchMerging2D",
    "RVMLayer",
    "ResidualConvBlock",
    "ResidualMambaLayer",
    "SS2D",
    "VMambaEncoder",
    "VSSBlock",
    "VSSStage",
]

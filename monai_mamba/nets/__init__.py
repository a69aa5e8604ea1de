# Copyright (c) monai-mamba contributors. Licensed under the Apache License, Version 2.0.
"""Whole networks, one file per paper."""

from monai_mamba.nets.feature_recorder import FeatureRecorder
from monai_mamba.nets.lightm_unet import LightMUNet
from monai_mamba.nets.mamba_unet import MambaUNet
from monai_mamba.nets.mambaclinix import MambaClinix
from monai_mamba.nets.swin_umamba import SwinUMamba
from monai_mamba.nets.swin_umamba_d import SwinUMambaD
from monai_mamba.nets.u_levels import ULevels, default_u_levels

__all__ = ["FeatureRecorder", "LightMUNet", "MambaClinix", "MambaUNet", "SwinUMamba", "SwinUMambaD", "ULevels", "default_u_levels"]

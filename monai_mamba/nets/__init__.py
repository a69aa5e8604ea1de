# Copyright (c) monai-mamba contributors. Licensed under the Apache License, Version 2.0.
"""Whole networks, one file per paper; each network declares what only it knows: its U levels (``u_levels``, for
feature-reading training schemes) and, where it starts from VMamba ImageNet weights, where each checkpoint tensor
goes (``vmamba_checkpoint_filter``)."""

from monai_mamba.nets.lightm_unet import LightMUNet
from monai_mamba.nets.mamba_unet import MambaUNet
from monai_mamba.nets.mambaclinix import MambaClinix
from monai_mamba.nets.swin_umamba import SwinUMamba
from monai_mamba.nets.swin_umamba_d import SwinUMambaD
from monai_mamba.nets.umamba import UMambaBot, UMambaEnc

__all__ = ["LightMUNet", "MambaClinix", "MambaUNet", "SwinUMamba", "SwinUMambaD", "UMambaBot", "UMambaEnc"]

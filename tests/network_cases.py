# Copyright (c) monai-mamba contributors. Licensed under the Apache License, Version 2.0.
"""Every network of the library in a small configuration, with an input it takes: for the export and compile tests."""

from __future__ import annotations

from monai_mamba.nets import LightMUNet, MambaClinix, MambaUNet, SwinUMamba, SwinUMambaD

SMALL_NETWORKS = {
    "MambaClinix": (lambda: MambaClinix(3, 2, 3, features=(8, 16, 32), strides=(1, 2, 2)), (1, 2, 16, 16, 16)),
    "LightMUNet": (lambda: LightMUNet(2, 1, 2, init_filters=8), (1, 1, 32, 32)),
    "LightMUNet3d": (lambda: LightMUNet(3, 1, 2, init_filters=8), (1, 1, 16, 16, 16)),
    "MambaUNet": (lambda: MambaUNet(2, 1, 2, feature_size=16), (1, 1, 64, 64)),
    "SwinUMamba": (lambda: SwinUMamba(2, 1, 2), (1, 1, 64, 64)),
    "SwinUMambaD": (lambda: SwinUMambaD(2, 1, 2), (1, 1, 64, 64)),
}

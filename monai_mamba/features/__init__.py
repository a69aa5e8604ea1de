# Copyright (c) monai-mamba contributors. Licensed under the Apache License, Version 2.0.
"""Reading features out of a network without changing its code: which modules are the levels of a U-shaped network
(``ULevels``, declared by each network of the library) and forward hooks that record their outputs."""

from monai_mamba.features.feature_recorder import FeatureRecorder
from monai_mamba.features.u_levels import ULevels, default_u_levels

__all__ = ["FeatureRecorder", "ULevels", "default_u_levels"]

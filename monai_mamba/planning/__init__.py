# Copyright (c) monai-mamba contributors. Licensed under the Apache License, Version 2.0.
"""Self-configuration (nnU-Net-style planning) of the bundles that nnU-Net plans (MambaClinix, U-Mamba): fingerprint
a data set, derive the network and training settings, keep them in a plan file the bundle reads. Command line:
``python -m monai_mamba.planning``."""

from monai_mamba.planning.fingerprint import DatasetFingerprint, compute_fingerprint
from monai_mamba.planning.normalization import intensity_normalization
from monai_mamba.planning.plan import feature_map_size, plan_network, pooling_and_kernels, target_spacing
from monai_mamba.planning.plan_file import load_or_make_plan, make_plan, read_plan

__all__ = [
    "DatasetFingerprint",
    "compute_fingerprint",
    "feature_map_size",
    "intensity_normalization",
    "load_or_make_plan",
    "make_plan",
    "plan_network",
    "pooling_and_kernels",
    "read_plan",
    "target_spacing",
]

# Copyright (c) monai-mamba contributors. Licensed under the Apache License, Version 2.0.
"""Sequence operators that know nothing of images: the selective scan with its backends, the causal
depthwise conv1d, and the cross-scan that turns an N-D map into scan sequences."""

from monai_mamba.ops.backends import SCAN_BACKEND_ENV
from monai_mamba.ops.causal_conv1d import causal_conv1d, causal_conv1d_backend
from monai_mamba.ops.cross_scan import cross_merge, cross_scan, num_scan_directions
from monai_mamba.ops.scan_dispatch import (
    available_scan_backends,
    resolve_scan_backend,
    selective_scan,
)

__all__ = [
    "SCAN_BACKEND_ENV",
    "available_scan_backends",
    "causal_conv1d",
    "causal_conv1d_backend",
    "cross_merge",
    "cross_scan",
    "num_scan_directions",
    "resolve_scan_backend",
    "selective_scan",
]

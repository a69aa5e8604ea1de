# Copyright (c) monai-mamba contributors. Licensed under the Apache License, Version 2.0.
"""Data helpers the bundles share: generated demo data."""

from monai_mamba.data.demo import make_demo_dataset

__all__ = ["make_demo_dataset"]

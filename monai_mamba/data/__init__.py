# Copyright (c) monai-mamba contributors. Licensed under the Apache License, Version 2.0.
"""Data helpers the bundles share: generated demo data and the data check run before training."""

from monai_mamba.data.checks import DataCheckError, check_datalist, check_settings, check_training_setup
from monai_mamba.data.demo import make_demo_dataset

__all__ = ["DataCheckError", "check_datalist", "check_settings", "check_training_setup", "make_demo_dataset"]

# Copyright (c) monai-mamba contributors. Licensed under the Apache License, Version 2.0.
"""Data helpers the bundles share: generated demo data, the data check run before training, instance <-> semantic maps,
label maps as reconstruction inputs, a Spacingd MONAI Label can run, the data-set preparers
(``python -m monai_mamba.data prepare``)."""

from monai_mamba.data.checks import DataCheckError, check_datalist, check_settings, check_training_setup
from monai_mamba.data.datalist import load_datalist
from monai_mamba.data.demo import make_demo_dataset
from monai_mamba.data.finite import NonFiniteImageError, RequireFinited
from monai_mamba.data.instances import (
    InstanceToSemanticd,
    SemanticToInstanced,
    connected_components,
    instances_to_semantic,
    semantic_to_instances,
)
from monai_mamba.data.reconstruction import PrepareReconstructionBatch, label_as_reconstruction_input
from monai_mamba.data.spacing import MetaSafeSpacingd

__all__ = [
    "DataCheckError",
    "InstanceToSemanticd",
    "MetaSafeSpacingd",
    "NonFiniteImageError",
    "PrepareReconstructionBatch",
    "RequireFinited",
    "SemanticToInstanced",
    "check_datalist",
    "check_settings",
    "check_training_setup",
    "connected_components",
    "instances_to_semantic",
    "label_as_reconstruction_input",
    "load_datalist",
    "make_demo_dataset",
    "semantic_to_instances",
]

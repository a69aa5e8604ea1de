# Copyright (c) monai-mamba contributors. Licensed under the Apache License, Version 2.0.
"""Run a bundle's configs in-process on tiny generated data, for the bundle tests."""

from __future__ import annotations

import os
from pathlib import Path

from monai.bundle import ConfigWorkflow

from monai_mamba.data import make_demo_dataset

BUNDLES = Path(__file__).resolve().parents[1] / "bundles"


def config_paths(bundle: str, *names: str) -> list[str]:
    return [str(BUNDLES / bundle / "configs" / name) for name in names]


def run_bundle(bundle: str, configs: list[str], **overrides) -> ConfigWorkflow:
    """``python -m monai.bundle run --config_file [configs...] --<override> ...`` in this process."""
    os.environ["MONAI_FAIL_ON_DUPLICATE_CONFIG"] = "1"
    workflow = ConfigWorkflow(config_file=config_paths(bundle, *configs), logging_file=False, workflow_type=None,
                              **overrides)
    workflow.initialize()
    workflow.run()
    workflow.finalize()
    return workflow


def tiny_dataset(tmp_path: Path, spatial_dims: int, num_classes: int, size) -> str:
    """2 training, 2 validation (one per DDP rank in the multi-process test) and 1 testing case."""
    return make_demo_dataset(tmp_path / "data", spatial_dims=spatial_dims, num_classes=num_classes, size=size,
                             num_training=2, num_validation=2, num_testing=1)

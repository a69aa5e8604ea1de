# Copyright (c) monai-mamba contributors. Licensed under the Apache License, Version 2.0.
"""Evaluation metrics MONAI lacks: surface distances over the classes a case's prediction and reference both hold."""

from monai_mamba.metrics.surface import HausdorffDistanceOfFoundClasses, MissedClassCount, SurfaceDistanceOfFoundClasses

__all__ = ["HausdorffDistanceOfFoundClasses", "MissedClassCount", "SurfaceDistanceOfFoundClasses"]

# Copyright (c) monai-mamba contributors. Licensed under the Apache License, Version 2.0.
"""Training handlers that MONAI and ignite lack."""

from monai_mamba.handlers.resumable_checkpoint import ResumableCheckpoint, find_checkpoints

__all__ = ["ResumableCheckpoint", "find_checkpoints"]

# Copyright (c) monai-mamba contributors. Licensed under the Apache License, Version 2.0.
"""Training handlers that MONAI and ignite lack."""

from monai_mamba.handlers.clip_grad_norm import ClipGradNorm
from monai_mamba.handlers.freeze_encoder import FreezeEncoder
from monai_mamba.handlers.resumable_checkpoint import ResumableCheckpoint, find_checkpoints
from monai_mamba.handlers.save_final_weights import SaveFinalWeights
from monai_mamba.handlers.stop_on_non_finite_loss import NonFiniteLossError, StopOnNonFiniteLoss

__all__ = [
    "ClipGradNorm",
    "FreezeEncoder",
    "NonFiniteLossError",
    "ResumableCheckpoint",
    "SaveFinalWeights",
    "StopOnNonFiniteLoss",
    "find_checkpoints",
]

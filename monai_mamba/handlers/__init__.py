# Copyright (c) monai-mamba contributors. Licensed under the Apache License, Version 2.0.
"""Training handlers that MONAI and ignite lack, and what defines a training run."""

from monai_mamba.handlers.best_model_saver import BestModelSaver
from monai_mamba.handlers.checkpoint_files import find_checkpoints
from monai_mamba.handlers.clip_grad_norm import ClipGradNorm
from monai_mamba.handlers.evaluation_record import EVALUATION_RECORD, EvaluationRecord, file_sha256
from monai_mamba.handlers.freeze_encoder import FreezeEncoder
from monai_mamba.handlers.resumable_checkpoint import RESUME_MODES, ResumableCheckpoint, RunMismatchError
from monai_mamba.handlers.run_identity import RunComparison, RunIdentity
from monai_mamba.handlers.run_lock import RunFolderBusyError, RunLock
from monai_mamba.handlers.save_final_weights import SaveFinalWeights
from monai_mamba.handlers.stop_on_non_finite_loss import NonFiniteLossError, StopOnNonFiniteLoss, non_finite_parameters
from monai_mamba.handlers.trained_model_loader import TrainedModelLoader, training_command

__all__ = [
    "BestModelSaver",
    "ClipGradNorm",
    "EVALUATION_RECORD",
    "EvaluationRecord",
    "FreezeEncoder",
    "NonFiniteLossError",
    "RESUME_MODES",
    "ResumableCheckpoint",
    "RunComparison",
    "RunFolderBusyError",
    "RunIdentity",
    "RunLock",
    "RunMismatchError",
    "SaveFinalWeights",
    "StopOnNonFiniteLoss",
    "TrainedModelLoader",
    "file_sha256",
    "find_checkpoints",
    "non_finite_parameters",
    "training_command",
]

# Copyright (c) monai-mamba contributors. Licensed under the Apache License, Version 2.0.
"""Tiny nnU-Net v2 results folders and images for the import tests: plans.json, dataset.json and fold checkpoints
written the way nnU-Net writes them (numpy scalars in the logged metrics, the device in the init arguments)."""

from __future__ import annotations

import json
from pathlib import Path

import nibabel as nib
import numpy as np
import torch


def plans(configuration: str, patch_size, spacing, schemes, use_mask, architecture: dict, transpose=(0, 1, 2)):
    """A plans.json of nnU-Net >= 2.4 with one configuration."""
    backward = [int(i) for i in np.argsort(transpose)]
    intensity = {
        str(c): {
            "mean": 40.0,
            "std": 80.0,
            "percentile_00_5": -100.0,
            "percentile_99_5": 250.0,
            "median": 45.0,
            "min": -1000.0,
            "max": 1000.0,
        }
        for c in range(len(schemes))
    }
    return {
        "dataset_name": "Dataset999_Tiny",
        "plans_name": "nnUNetPlans",
        "original_median_spacing_after_transp": [1.0, 1.0, 1.0],
        "original_median_shape_after_transp": [32, 32, 32],
        "image_reader_writer": "SimpleITKIO",
        "transpose_forward": list(transpose),
        "transpose_backward": backward,
        "configurations": {
            configuration: {
                "data_identifier": f"nnUNetPlans_{configuration}",
                "preprocessor_name": "DefaultPreprocessor",
                "batch_size": 2,
                "patch_size": list(patch_size),
                "median_image_size_in_voxels": [32, 32, 32][: len(patch_size)],
                "spacing": list(spacing),
                "normalization_schemes": list(schemes),
                "use_mask_for_norm": list(use_mask),
                "resampling_fn_data": "resample_data_or_seg_to_shape",
                "resampling_fn_seg": "resample_data_or_seg_to_shape",
                "resampling_fn_data_kwargs": {"is_seg": False, "order": 3, "order_z": 0, "force_separate_z": None},
                "resampling_fn_seg_kwargs": {"is_seg": True, "order": 1, "order_z": 0, "force_separate_z": None},
                "resampling_fn_probabilities": "resample_data_or_seg_to_shape",
                "resampling_fn_probabilities_kwargs": {
                    "is_seg": False,
                    "order": 1,
                    "order_z": 0,
                    "force_separate_z": None,
                },
                "architecture": architecture,
                "batch_dice": True,
            }
        },
        "experiment_planner_used": "ExperimentPlanner",
        "label_manager": "LabelManager",
        "foreground_intensity_properties_per_channel": intensity,
    }


def architecture(features, kernels, strides, n_conv=None):
    """``architecture`` of a plans configuration (the PlainConvUNet entry nnU-Net writes; our trainers read the
    widths, kernels, strides and encoder convolutions from it)."""
    n = len(features)
    return {
        "network_class_name": "dynamic_network_architectures.architectures.unet.PlainConvUNet",
        "arch_kwargs": {
            "n_stages": n,
            "features_per_stage": list(features),
            "conv_op": "torch.nn.modules.conv.Conv3d",
            "kernel_sizes": kernels,
            "strides": strides,
            "n_conv_per_stage": n_conv or [2] * n,
            "n_conv_per_stage_decoder": [2] * (n - 1),
            "conv_bias": True,
            "norm_op": "torch.nn.modules.instancenorm.InstanceNorm3d",
            "norm_op_kwargs": {"eps": 1e-05, "affine": True},
            "dropout_op": None,
            "dropout_op_kwargs": None,
            "nonlin": "torch.nn.LeakyReLU",
            "nonlin_kwargs": {"inplace": True},
        },
        "_kw_requires_import": ["conv_op", "norm_op", "dropout_op", "nonlin"],
    }


def dataset_json(channels, labels):
    return {
        "channel_names": {str(i): name for i, name in enumerate(channels)},
        "labels": {name: i for i, name in enumerate(labels)},
        "numTraining": 4,
        "file_ending": ".nii.gz",
    }


def write_results(root: Path, trainer: str, configuration: str, plans_dict, dataset, fold_states, mirror_axes):
    """``root/<trainer>__nnUNetPlans__<configuration>/`` with ``fold_<k>/checkpoint_final.pth`` per state_dict."""
    folder = root / f"{trainer}__nnUNetPlans__{configuration}"
    folder.mkdir(parents=True)
    (folder / "plans.json").write_text(json.dumps(plans_dict))
    (folder / "dataset.json").write_text(json.dumps(dataset))
    for fold, state in fold_states.items():
        (folder / f"fold_{fold}").mkdir()
        torch.save(
            {
                "network_weights": {f"_orig_mod.{k}": v for k, v in state.items()},
                "optimizer_state": {},
                "grad_scaler_state": None,
                "logging": {
                    "mean_fg_dice": [np.float64(0.5), np.float64(0.6)],
                    "dice_per_class_or_region": [np.array([0.4, 0.6]), np.array([0.5, 0.7])],
                    "epoch_end_timestamps": [1.0, 2.0],
                },
                "_best_ema": np.float64(0.6),
                "current_epoch": 2,
                "init_args": {
                    "plans": plans_dict,
                    "configuration": configuration,
                    "fold": fold,
                    "dataset_json": dataset,
                    "device": torch.device("cpu"),
                },
                "trainer_name": trainer,
                "inference_allowed_mirroring_axes": tuple(mirror_axes),
            },
            folder / f"fold_{fold}" / "checkpoint_final.pth",
        )
    return folder


def write_case(folder: Path, case: str, channels: list[np.ndarray], spacing, origin=(10.0, -20.0, 5.0)):
    """``folder/<case>_000<c>.nii.gz`` per channel (arrays in (x, y[, z]) order), with an oblique-free affine of
    ``spacing``, a flip on the first axis and an origin, so axis order and geometry errors show."""
    folder.mkdir(parents=True, exist_ok=True)
    dims = channels[0].ndim
    affine = np.diag([-spacing[0], *spacing[1:dims], *([1.0] * (3 - dims)), 1.0])
    affine[:3, 3] = origin
    for c, array in enumerate(channels):
        nib.save(nib.Nifti1Image(array.astype(np.float32), affine), str(folder / f"{case}_{c:04d}.nii.gz"))

# Copyright (c) monai-mamba contributors. Licensed under the Apache License, Version 2.0.
"""An nnU-Net v2 results folder, read: ``<results>/<Trainer>__<Plans>__<configuration>/`` with ``plans.json``,
``dataset.json`` and ``fold_<k>/checkpoint_{final,best}.pth`` (Isensee et al., "nnU-Net", Nature Methods 2021).

What each supported trainer builds from the plans is the trainer's own knowledge, kept here beside the names of the
official trainers (``TRAINERS``): Swin-UMamba and Swin-UMamba-D (``nnUNetTrainerSwinUMamba[D][Scratch]``, 2d),
LightM-UNet (``nnUNetTrainerLightMUNet``, 2d or 3d), MambaClinix (``nnUNetTrainerMambaClinix[TRS]``, 3d) and U-Mamba
(``nnUNetTrainerUMambaBot``, ``nnUNetTrainerUMambaEnc[NoAMP]``, 2d or 3d).
"""

from __future__ import annotations

import json
import math
import pickle
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from monai_mamba.nnunet.preprocessing import NORMALIZATION_SCHEMES

__all__ = ["TRAINERS", "NnUNetResults", "TrainerSpec", "nnunet_cases", "read_nnunet_checkpoint"]

IMAGE_READERS = {"SimpleITKIO": "ITKReader", "NibabelIO": "NibabelReader"}  # nnU-Net's readers that keep axis order
_CHECKPOINTS = {"final": "checkpoint_final.pth", "best": "checkpoint_best.pth"}
_PREFIXES = ("_orig_mod.", "module.")  # torch.compile / DistributedDataParallel wrappers of the trained network


@dataclass(frozen=True)
class TrainerSpec:
    """What an official trainer trains: our bundle, and the network definition (a config component) built from
    the configuration, the input channels and the classes."""

    bundle: str
    dims: tuple[int, ...]
    network_def: Callable[[Mapping, int, int], dict]


def _lightm_unet(configuration: Mapping, in_channels: int, classes: int) -> dict:
    # nnUNetTrainerLightMUNet.build_network_architecture: fixed widths and depths, 2-D or 3-D from the patch
    return {
        "_target_": "monai_mamba.nets.LightMUNet",
        "spatial_dims": len(configuration["patch_size"]),
        "in_channels": in_channels,
        "out_channels": classes,
        "init_filters": 32,
        "blocks_down": [1, 2, 2, 4],
        "blocks_up": [1, 1, 1],
    }


def _swin_umamba(target: str) -> Callable[[Mapping, int, int], dict]:
    # get_swin_umamba[_d]_from_plans: the paper's fixed VMamba-Tiny widths; the plans give only in/out channels
    def network_def(configuration: Mapping, in_channels: int, classes: int) -> dict:
        return {
            "_target_": target,
            "spatial_dims": 2,
            "in_channels": in_channels,
            "out_channels": classes,
            "deep_supervision": False,
        }

    return network_def


def _mambaclinix(configuration: Mapping, in_channels: int, classes: int) -> dict:
    # get_mambaclinix_3d_from_plans: nnU-Net's stage widths, kernels and strides; an HGCN block where the plans'
    # n_conv_per_stage_encoder is 2 (the first ceil(n/2) stages), a Mamba layer after
    architecture = _architecture(configuration)
    n = len(architecture["kernel_sizes"])
    blocks = list(architecture["n_conv_per_stage"])
    if any(b != 2 for b in blocks[: math.ceil(n / 2)]):
        raise ValueError(
            f"MambaClinix builds an HGCN block only where n_conv_per_stage_encoder is 2; these plans have {blocks} "
            "for the first stages, which the official network cannot build either."
        )
    return {
        "_target_": "monai_mamba.nets.MambaClinix",
        "spatial_dims": 3,
        "in_channels": in_channels,
        "out_channels": classes,
        "features": architecture["features"],
        "strides": architecture["strides"],
        "kernel_sizes": architecture["kernel_sizes"],
        "deep_supervision": False,
    }


def _umamba(target: str) -> Callable[[Mapping, int, int], dict]:
    # get_umamba_{bot,enc}_{2,3}d_from_plans: nnU-Net's stage widths, kernels, strides and blocks per stage; Enc also
    # the patch size (its channel-token stages)
    def network_def(configuration: Mapping, in_channels: int, classes: int) -> dict:
        architecture = _architecture(configuration)
        network = {
            "_target_": target,
            "spatial_dims": len(configuration["patch_size"]),
            "in_channels": in_channels,
            "out_channels": classes,
            "features": architecture["features"],
            "strides": architecture["strides"],
            "kernel_sizes": architecture["kernel_sizes"],
            "n_conv_per_stage": architecture["n_conv_per_stage"],
            "n_conv_per_stage_decoder": architecture["n_conv_per_stage_decoder"],
            "deep_supervision": False,
        }
        if target.endswith("UMambaEnc"):
            network["patch_size"] = list(configuration["patch_size"])
        return network

    return network_def


TRAINERS: dict[str, TrainerSpec] = {
    "nnUNetTrainerLightMUNet": TrainerSpec("lightm_unet", (2, 3), _lightm_unet),
    "nnUNetTrainerSwinUMamba": TrainerSpec("swin_umamba", (2,), _swin_umamba("monai_mamba.nets.SwinUMamba")),
    "nnUNetTrainerSwinUMambaScratch": TrainerSpec("swin_umamba", (2,), _swin_umamba("monai_mamba.nets.SwinUMamba")),
    "nnUNetTrainerSwinUMambaD": TrainerSpec("swin_umamba", (2,), _swin_umamba("monai_mamba.nets.SwinUMambaD")),
    "nnUNetTrainerSwinUMambaDScratch": TrainerSpec("swin_umamba", (2,), _swin_umamba("monai_mamba.nets.SwinUMambaD")),
    "nnUNetTrainerMambaClinix": TrainerSpec("mambaclinix", (3,), _mambaclinix),
    "nnUNetTrainerMambaClinixTRS": TrainerSpec("mambaclinix", (3,), _mambaclinix),
    "nnUNetTrainerUMambaBot": TrainerSpec("umamba", (2, 3), _umamba("monai_mamba.nets.UMambaBot")),
    "nnUNetTrainerUMambaEnc": TrainerSpec("umamba", (2, 3), _umamba("monai_mamba.nets.UMambaEnc")),
    "nnUNetTrainerUMambaEncNoAMP": TrainerSpec("umamba", (2, 3), _umamba("monai_mamba.nets.UMambaEnc")),
}


def _architecture(configuration: Mapping) -> dict:
    """Stage widths, kernels, strides and encoder and decoder convolutions per stage, from the plans of nnU-Net >= 2.4
    (``architecture.arch_kwargs``) or of 2.0-2.3 (``UNet_base_num_features``, ``pool_op_kernel_sizes``, ...: the
    format of the papers' forks)."""
    if "architecture" in configuration:
        kwargs = configuration["architecture"]["arch_kwargs"]
        n = kwargs["n_stages"]
        features = kwargs["features_per_stage"]
        return {
            "features": [features] * n if isinstance(features, int) else list(features),
            "kernel_sizes": kwargs["kernel_sizes"],
            "strides": kwargs["strides"],
            "n_conv_per_stage": kwargs["n_conv_per_stage"],
            "n_conv_per_stage_decoder": kwargs.get("n_conv_per_stage_decoder", [2] * (n - 1)),
        }
    kernels = configuration["conv_kernel_sizes"]
    base, maximum = configuration["UNet_base_num_features"], configuration["unet_max_num_features"]
    return {
        "features": [min(base * 2**i, maximum) for i in range(len(kernels))],
        "kernel_sizes": kernels,
        "strides": configuration["pool_op_kernel_sizes"],
        "n_conv_per_stage": configuration["n_conv_per_stage_encoder"],
        "n_conv_per_stage_decoder": configuration["n_conv_per_stage_decoder"],
    }


def read_nnunet_checkpoint(path: Path) -> tuple[dict[str, torch.Tensor], tuple[int, ...] | None]:
    """The network weights (wrapper prefixes removed) and mirroring axes of an nnU-Net checkpoint, read with
    ``torch.load(weights_only=True)``; numpy scalars and arrays (nnU-Net's logged metrics) are the only objects
    allowed besides tensors and plain Python values.

    Raises:
        FileNotFoundError: no such file.
        ValueError: the file needs other pickled objects (never unpickled here: that can run code), with the command
            that writes a weights-only copy; or it holds no ``network_weights``.
    """
    if not path.is_file():
        raise FileNotFoundError(f"nnU-Net checkpoint not found: {path}.")
    multiarray = (np._core if hasattr(np, "_core") else np.core).multiarray  # numpy 2 / 1
    allowed = [np.dtype, np.ndarray, multiarray.scalar, multiarray._reconstruct]
    allowed += [type(np.dtype(t)) for t in (np.float64, np.float32, np.int64, np.int32, np.bool_)]
    try:
        with torch.serialization.safe_globals(allowed):
            checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as error:
        copy = path.with_name(path.stem + "_weights.pth")
        raise ValueError(
            f"{path} holds pickled Python objects besides tensors, which monai-mamba does not unpickle because that "
            "can run arbitrary code. If you trust the file, write a weights-only copy once:\n"
            f"    python -c \"import torch; c = torch.load('{path}', weights_only=False); "
            "torch.save({'network_weights': c['network_weights'], "
            "'inference_allowed_mirroring_axes': c.get('inference_allowed_mirroring_axes')}, "
            f"'{copy}')\"\nand import with --checkpoint {copy.name}. ({str(error).splitlines()[0]})"
        ) from None
    if not isinstance(checkpoint, dict) or "network_weights" not in checkpoint:
        raise ValueError(f"{path} is not an nnU-Net v2 checkpoint (no 'network_weights').")
    weights = {}
    for key, tensor in checkpoint["network_weights"].items():
        for prefix in _PREFIXES:
            key = key.removeprefix(prefix)
        weights[key] = tensor
    axes = checkpoint.get("inference_allowed_mirroring_axes")
    return weights, (tuple(int(a) for a in axes) if axes is not None else None)


class NnUNetResults:
    """One trained model folder of nnU-Net v2: its trainer, plans, configuration, labels and folds.

    Args:
        folder: ``<Trainer>__<Plans>__<configuration>`` (with ``plans.json``, ``dataset.json``, ``fold_*``).

    Raises:
        FileNotFoundError / ValueError: with what is missing or unsupported and what to do.
    """

    def __init__(self, folder: str | Path) -> None:
        self.folder = Path(folder)
        if not self.folder.is_dir():
            raise FileNotFoundError(f"nnU-Net results folder not found: {self.folder}.")
        parts = self.folder.name.split("__")
        if len(parts) != 3:
            raise ValueError(
                f"{self.folder.name}: an nnU-Net v2 model folder is named <Trainer>__<Plans>__<configuration> "
                "(e.g. nnUNet_results/Dataset801_X/nnUNetTrainerMambaClinix__nnUNetPlans__3d_fullres); give that "
                "folder."
            )
        self.trainer_name, self.plans_name, self.configuration_name = parts
        if self.trainer_name not in TRAINERS:
            raise ValueError(
                f"{self.folder.name}: trainer {self.trainer_name!r} trains a network monai-mamba does not ship; "
                f"supported trainers: {', '.join(sorted(TRAINERS))}."
            )
        self.trainer = TRAINERS[self.trainer_name]
        for name in ("plans.json", "dataset.json"):
            if not (self.folder / name).is_file():
                found = "plans.pkl (nnU-Net v1, not supported)" if (self.folder / "plans.pkl").is_file() else "nothing"
                raise FileNotFoundError(f"{self.folder}: no {name} (found {found}); nnU-Net v2 writes it here.")
        self.plans = json.loads((self.folder / "plans.json").read_text())
        self.dataset = json.loads((self.folder / "dataset.json").read_text())
        self.configuration = self._configuration()
        self._check_supported()

    def _configuration(self) -> dict:
        configurations = self.plans.get("configurations")
        if not isinstance(configurations, dict):
            raise ValueError(
                f"{self.folder / 'plans.json'}: no 'configurations'; plans of nnU-Net v2 (2.0 or later) are needed."
            )
        if self.configuration_name not in configurations:
            raise ValueError(
                f"{self.folder / 'plans.json'} has no configuration {self.configuration_name!r} "
                f"(it has {', '.join(configurations)})."
            )
        chain, name = [], self.configuration_name
        while name is not None:  # a configuration may inherit from another and override some keys
            chain.append(configurations[name])
            name = configurations[name].get("inherits_from")
        merged: dict = {}
        for configuration in reversed(chain):
            merged.update(configuration)
        return merged

    def _check_supported(self) -> None:
        c = self.configuration
        dims = len(c["patch_size"])
        if dims not in self.trainer.dims:
            raise ValueError(
                f"{self.trainer_name} builds {' or '.join(f'{d}-D' for d in self.trainer.dims)} networks; the "
                f"configuration {self.configuration_name!r} is {dims}-D."
            )
        if c.get("previous_stage"):
            raise ValueError(
                f"{self.configuration_name!r} is a cascade stage (it needs the prediction of "
                f"{c['previous_stage']!r} as input), which the import does not support; import a 2d or 3d_fullres "
                "model."
            )
        reader = self.plans.get("image_reader_writer", "SimpleITKIO")
        if reader not in IMAGE_READERS:
            raise ValueError(
                f"plans.json reads images with {reader}; the import reproduces {', '.join(IMAGE_READERS)} "
                "(the same axis order); convert the images to NIfTI and retrain, or ask for it in an issue."
            )
        labels = self.dataset.get("labels", {})
        if any(not isinstance(v, int) for v in labels.values()):
            raise ValueError(
                "dataset.json defines region-based labels (lists of values); only plain labels are supported."
            )
        values = sorted(v for name, v in labels.items() if name != "ignore")
        if values != list(range(len(values))) or len(values) < 2:
            raise ValueError(f"dataset.json labels must be 0..K-1 (background 0) besides 'ignore'; got {labels}.")
        unknown = [s for s in c["normalization_schemes"] if s not in NORMALIZATION_SCHEMES]
        if unknown:
            raise ValueError(f"plans use normalisation {unknown}; supported: {', '.join(NORMALIZATION_SCHEMES)}.")

    @property
    def channel_names(self) -> dict[str, str]:
        return {str(k): v for k, v in (self.dataset.get("channel_names") or self.dataset.get("modality")).items()}

    @property
    def labels(self) -> dict[int, str]:
        """Class index -> name (the ``ignore`` label is no output class)."""
        return {v: name for name, v in self.dataset["labels"].items() if name != "ignore"}

    @property
    def image_reader(self) -> str:
        return IMAGE_READERS[self.plans.get("image_reader_writer", "SimpleITKIO")]

    def network_def(self) -> dict:
        return self.trainer.network_def(self.configuration, len(self.channel_names), len(self.labels))

    def folds(self, folds: str | int | Sequence[int | str] | None = None) -> list[str]:
        """The fold folders to import: ``None``: every ``fold_<k>`` present; ``"all"``: ``fold_all`` (the model
        trained on all cases); ``"0,2"``, ``(0, 2)`` or ``3``: those."""
        if folds is None:
            found = sorted(
                (p.name for p in self.folder.glob("fold_*") if re.fullmatch(r"fold_\d+", p.name)),
                key=lambda n: int(n[5:]),
            )
            if not found:
                raise FileNotFoundError(f"{self.folder}: no fold_<k> folder; name the folds with --folds.")
            return found
        wanted = folds if isinstance(folds, (list, tuple)) else str(folds).split(",")
        names = [f"fold_{str(f).strip()}" for f in wanted if str(f).strip()]
        missing = [n for n in names if not (self.folder / n).is_dir()]
        if missing:
            present = sorted(p.name for p in self.folder.glob("fold_*"))
            raise FileNotFoundError(
                f"{self.folder}: no {', '.join(missing)} (present: {', '.join(present) or 'none'})."
            )
        return names

    def checkpoint_path(self, fold: str, checkpoint: str = "final") -> Path:
        """``final``/``best`` or a file name inside the fold folder (e.g. a weights-only copy)."""
        return self.folder / fold / _CHECKPOINTS.get(checkpoint, checkpoint)


def nnunet_cases(input_dir: str | Path, num_channels: int, file_ending: str = ".nii.gz") -> list[dict[str, list[str]]]:
    """The cases of a folder in nnU-Net's naming (``CASE_0000<file_ending>``, one file per channel), as a MONAI
    data list ``[{"image": [channel files]}]``, sorted by case.

    Raises:
        FileNotFoundError: no such folder, no case in it, or a case lacking a channel file.
    """
    input_dir = Path(input_dir)
    if not input_dir.is_dir():
        raise FileNotFoundError(f"input folder not found: {input_dir}; give --input_dir with the images to segment.")
    cases = sorted({p.name[: -len(file_ending) - 5] for p in input_dir.glob(f"*_0000{file_ending}")})
    if not cases:
        raise FileNotFoundError(f"{input_dir}: no image named CASE_0000{file_ending} (nnU-Net's naming).")
    data = []
    for case in cases:
        files = [input_dir / f"{case}_{c:04d}{file_ending}" for c in range(num_channels)]
        missing = [f.name for f in files if not f.is_file()]
        if missing:
            raise FileNotFoundError(f"{input_dir}: case {case} lacks {', '.join(missing)} ({num_channels} channels).")
        data.append({"image": [str(f) for f in files]})
    return data

# Copyright (c) monai-mamba contributors. Licensed under the Apache License, Version 2.0.
"""Weights from local files: the VMamba ImageNet checkpoints the papers start from, and our own trained networks."""

from __future__ import annotations

import logging
import pickle
from dataclasses import dataclass, field
from pathlib import Path

import torch
import torch.nn as nn
from monai.networks.utils import copy_model_state

__all__ = [
    "LoadReport",
    "adapt_input_channels",
    "load_official_weights",
    "load_trained_network",
    "load_vmamba_pretrained",
    "read_checkpoint",
]

logger = logging.getLogger(__name__)


@dataclass
class LoadReport:
    """What a pretrained load did.

    Attributes:
        loaded: model keys that received a checkpoint tensor.
        skipped: checkpoint key -> why it was not used anywhere ("not in the model", "shape ...").
        missing: model keys left at their initialisation.
        adapted: model keys loaded after an adaptation, with what was done.
    """

    loaded: list[str] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)
    missing: list[str] = field(default_factory=list)
    adapted: dict[str, str] = field(default_factory=dict)

    def __str__(self) -> str:
        return (
            f"loaded {len(self.loaded)} tensors ({len(self.adapted)} adapted), skipped {len(self.skipped)} "
            f"checkpoint tensors, {len(self.missing)} model tensors keep their initialisation"
        )


def read_checkpoint(path: str | Path, key: str | None = "model") -> dict[str, torch.Tensor]:
    """Read a state_dict from a local checkpoint with ``torch.load(weights_only=True)``.

    Args:
        path: the checkpoint file.
        key: the entry holding the weights when the file is a dict of several things (VMamba: ``"model"``);
            the file itself is used when it has no such entry.

    Raises:
        FileNotFoundError: no file at ``path``.
        ValueError: the file holds pickled Python objects (old VMamba checkpoints carry their training
            ``config``), which are never unpickled here; the message says how to strip them once.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"pretrained checkpoint not found: {path}; give the path of a local file.")
    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as error:
        raise ValueError(
            f"{path} contains pickled Python objects besides tensors (for VMamba, the training 'config'), which "
            "monai-mamba does not unpickle because that can run arbitrary code. If you trust the file, keep only "
            "the weights once:\n"
            f"    python -c \"import torch; c = torch.load('{path}', weights_only=False); "
            f"torch.save({{'model': c['model']}}, '{path.with_suffix('')}_weights.pth')\"\n"
            f"and load the new file. ({str(error).splitlines()[0]})"
        ) from None
    if key is not None and isinstance(checkpoint, dict) and key in checkpoint:
        checkpoint = checkpoint[key]
    if not isinstance(checkpoint, dict) or not all(isinstance(v, torch.Tensor) for v in checkpoint.values()):
        raise ValueError(f"{path} does not hold a state_dict (a mapping of names to tensors) under {key!r}.")
    return checkpoint


def adapt_input_channels(weight: torch.Tensor, in_channels: int) -> torch.Tensor:
    """A first-layer kernel for ``in_channels`` inputs from one trained on RGB: every input channel gets the sum
    of the RGB kernels divided by ``in_channels``, so the same grey image fed to all channels gives the RGB
    model's response to that grey image repeated to 3 channels (exactly what the official code does for 1-channel
    data: it repeats the image).

    Args:
        weight: the trained kernel, ``(out_channels, 3, *kernel_size)``.
        in_channels: input channels of the new kernel.

    Returns:
        ``(out_channels, in_channels, *kernel_size)``.
    """
    return weight.sum(dim=1, keepdim=True).div(in_channels).expand(-1, in_channels, *weight.shape[2:]).clone()


def _same_names(key: str, tensor: torch.Tensor) -> list[tuple[str, torch.Tensor]]:
    return [(key, tensor)]


def load_vmamba_pretrained(model: nn.Module, path: str | Path) -> LoadReport:
    """Load a VMamba (v0) ImageNet checkpoint into a network the way its paper's official loader does.

    What goes where is the network's own knowledge: its ``vmamba_checkpoint_filter(key, tensor)`` method returns
    the ``(model key, tensor)`` pairs a checkpoint tensor loads into (none: skipped, several: copied to each,
    a tensor of another shape: adapted, e.g. a patch-embedding kernel for other than 3 input channels). A module
    without that method loads every tensor whose name matches. A target missing from the model or of another shape
    is skipped with the reason in the report; the tensors are copied with ``monai.networks.utils.copy_model_state``.

    Args:
        model: the network, e.g. ``MambaUNet``, ``SwinUMamba``, ``SwinUMambaD``.
        path: local checkpoint, e.g. ``vssmtiny_dp01_ckpt_epoch_292.pth`` (weights under ``"model"``).

    Returns:
        A ``LoadReport``; it is also logged.
    """
    checkpoint = read_checkpoint(path)
    checkpoint_filter = getattr(model, "vmamba_checkpoint_filter", _same_names)
    model_state = model.state_dict()
    report = LoadReport()
    new_state: dict[str, torch.Tensor] = {}
    for key, tensor in checkpoint.items():
        targets = checkpoint_filter(key, tensor)
        reasons = [] if targets else [f"not loaded by {type(model).__name__}'s official loader"]
        for target, value in targets:
            if target not in model_state:
                reasons.append(f"{target}: not in the model")
            elif value.shape != model_state[target].shape:
                reasons.append(
                    f"{target}: shape {tuple(value.shape)} from the checkpoint, "
                    f"{tuple(model_state[target].shape)} in the model"
                )
            else:
                new_state[target] = value
                if value.shape != tensor.shape:
                    report.adapted[target] = f"shape {tuple(tensor.shape)} -> {tuple(value.shape)}"
        if not any(target in new_state for target, _ in targets):
            report.skipped[key] = "; ".join(reasons)
    _, loaded, missing = copy_model_state(model, new_state, inplace=True)
    report.loaded, report.missing = sorted(loaded), sorted(missing)
    logger.info("VMamba weights from %s: %s", path, report)
    return report


def load_official_weights(network: nn.Module, weights: dict[str, torch.Tensor], source: str) -> None:
    """Load a state_dict trained by a paper's official code into ``network`` strictly: each tensor goes where the
    network's ``official_checkpoint_filter(key, tensor)`` says (none: dropped, e.g. a duplicate), or under its own
    name for a network that keeps the official module names.

    Args:
        network: the network, built with the settings the checkpoint was trained with.
        weights: the official state_dict.
        source: named in the error (the checkpoint's path).

    Raises:
        RuntimeError: naming the tensors missing, unexpected or of another shape (the settings and the weights
            disagree, or the checkpoint is of another network).
    """
    checkpoint_filter = getattr(network, "official_checkpoint_filter", _same_names)
    state = {}
    for key, tensor in weights.items():
        for target, value in checkpoint_filter(key, tensor):
            state[target] = value
    own = network.state_dict()
    missing = sorted(set(own) - set(state))
    unexpected = sorted(set(state) - set(own))
    shapes = [
        f"{k}: {tuple(state[k].shape)} vs {tuple(own[k].shape)}"
        for k in own
        if k in state and state[k].shape != own[k].shape
    ]
    if missing or unexpected or shapes:
        details = "; ".join(
            f"{label} ({len(items)}): {', '.join(items[:5])}{' ...' if len(items) > 5 else ''}"
            for label, items in (("missing", missing), ("unexpected", unexpected), ("other shape", shapes))
            if items
        )
        raise RuntimeError(
            f"{source} does not fit the {type(network).__name__} of this configuration: {details}. Was it trained "
            "with these settings (classes, channels, plans)?"
        )
    network.load_state_dict(state, strict=True)


def load_trained_network(network: nn.Module, path: str | Path, how_to_make_it: str = "") -> nn.Module:
    """Load the complete weights of ``network`` from a checkpoint of ours (a state_dict, or one under ``"model"``,
    as ``BestModelSaver`` writes) and return it, e.g. the trained model for inference or ReSeg-UNet's stage-1
    reconstruction network before stage 2.

    Args:
        network: the network; every tensor must be in the file with the same shape (strict load).
        path: local checkpoint file.
        how_to_make_it: added to the error when the file is missing (the command that writes it).

    Raises:
        FileNotFoundError: no file at ``path``.
        RuntimeError: the file was trained with other network settings; the message names the first difference
            (from the run identity saved with it, else from the tensor shapes).
    """
    if not Path(path).is_file():
        raise FileNotFoundError(f"{path} not found. {how_to_make_it}".strip())
    state = read_checkpoint(path)
    try:
        network.load_state_dict(state)
    except RuntimeError:
        from monai_mamba.handlers.run_identity import network_differences, network_fingerprint

        saved = torch.load(path, map_location="cpu", weights_only=True)
        identity = saved.get("run_identity") if isinstance(saved, dict) else None
        saved_network = (
            identity["network"]
            if identity
            else {"class": type(network).__name__, "digest": "", "shapes": {k: list(v.shape) for k, v in state.items()}}
        )
        differences = network_differences(saved_network, network_fingerprint(network), where=f"in {Path(path).name}")
        raise RuntimeError(
            f"{path} was trained with other network settings than this configuration builds: "
            f"{'; '.join(differences) or 'the tensors differ'}. Run with the settings of the training run that wrote "
            "it (the same overlays, network settings and plan), or train again with these."
        ) from None
    logger.info("loaded %s from %s", type(network).__name__, path)
    return network

# Copyright (c) monai-mamba contributors. Licensed under the Apache License, Version 2.0.
"""Weights from local files: the VMamba ImageNet checkpoints the papers start from, and our own trained networks."""

from __future__ import annotations

import logging
import pickle
import re
from dataclasses import dataclass, field
from pathlib import Path

import torch
import torch.nn as nn

__all__ = ["LoadReport", "load_trained_network", "load_vmamba_pretrained", "read_checkpoint"]

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
        return (f"loaded {len(self.loaded)} tensors ({len(self.adapted)} adapted), skipped {len(self.skipped)} "
                f"checkpoint tensors, {len(self.missing)} model tensors keep their initialisation")


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


def _adapt_input_channels(weight: torch.Tensor, in_channels: int) -> torch.Tensor:
    """A first-layer kernel for ``in_channels`` inputs from one trained on RGB: every input channel gets the sum
    of the RGB kernels divided by ``in_channels``, so the same grey image fed to all channels gives the RGB
    model's response to that grey image repeated to 3 channels (exactly what the official code does for 1-channel
    data: it repeats the image)."""
    return weight.sum(dim=1, keepdim=True).div(in_channels).expand(-1, in_channels, *weight.shape[2:]).clone()


def _mamba_unet_targets(key: str, stages: int) -> list[str]:
    """Mamba-UNet's loader: every key as it is, and encoder stage ``i`` also into decoder stage ``stages - 1 - i``."""
    match = re.match(r"layers\.(\d+)\.(.*)", key)
    return [key] + ([f"layers_up.{stages - 1 - int(match.group(1))}.{match.group(2)}"] if match else [])


# the official Swin-UMamba loader skips these ("patch_embed.norm.weight" is listed twice there, so the bias loads)
_SWIN_UMAMBA_SKIPPED = {"norm.weight", "norm.bias", "head.weight", "head.bias", "patch_embed.proj.weight",
                        "patch_embed.proj.bias", "patch_embed.norm.weight"}


def _swin_umamba_targets(key: str, stages: int) -> list[str]:
    """Swin-UMamba's loader: into ``vssm_encoder``, ``layers.i.downsample`` renamed ``downsamples.i``."""
    if key in _SWIN_UMAMBA_SKIPPED:
        return []
    return ["vssm_encoder." + re.sub(r"layers\.(\d+)\.downsample", r"downsamples.\1", key)]


def _swin_umamba_d_targets(in_channels_differ: bool):
    """Swin-UMamba-dagger's loader: as Swin-UMamba's but skipping only ``norm.*`` and ``head.*``, and every
    ``patch_embed.*`` when the model's input channels differ from the checkpoint's."""

    def targets(key: str, stages: int) -> list[str]:
        if key.split(".")[0] in ("norm", "head") or (in_channels_differ and key.startswith("patch_embed.")):
            return []
        return ["vssm_encoder." + re.sub(r"layers\.(\d+)\.downsample", r"downsamples.\1", key)]

    return targets


def _mapping(model: nn.Module, checkpoint: dict[str, torch.Tensor]):
    """(key -> target model keys, whether the patch-embedding kernel may be adapted) for ``model``'s paper."""
    from monai_mamba.nets import MambaUNet, SwinUMamba, SwinUMambaD

    if isinstance(model, SwinUMambaD):
        differ = checkpoint["patch_embed.proj.weight"].shape[1] != model.in_channels
        return _swin_umamba_d_targets(differ), False
    if isinstance(model, SwinUMamba):
        return _swin_umamba_targets, False
    if isinstance(model, MambaUNet):
        return _mamba_unet_targets, True
    return (lambda key, stages: [key]), True


def load_vmamba_pretrained(model: nn.Module, path: str | Path) -> LoadReport:
    """Load a VMamba (v0) ImageNet checkpoint into a network the way its paper's official loader does.

    - ``MambaUNet``: every checkpoint tensor whose name exists in the model with the same shape (patch embedding,
      the VSS blocks of every encoder stage the model has, the merging layers, the final norm; ``head.*`` and extra
      blocks are skipped), and encoder stage ``i`` also into decoder stage ``L - 1 - i`` (``L`` stages).
    - ``SwinUMamba``: into ``vssm_encoder`` (``layers.i.downsample`` -> ``downsamples.i``), skipping ``norm.*``,
      ``head.*``, ``patch_embed.proj.*`` and ``patch_embed.norm.weight`` as the official loader does (205 tensors).
    - ``SwinUMambaD``: the same renaming, skipping ``norm.*``, ``head.*``, and ``patch_embed.*`` when the model's
      input channels differ from the checkpoint's 3 (208 tensors for RGB input, 204 otherwise).
    - any other module: every tensor whose name and shape match.

    Where the mapping allows it (Mamba-UNet, others), a patch-embedding kernel with other than 3 input channels is
    adapted (see ``_adapt_input_channels``) instead of skipped. Other shape mismatches are skipped.

    Args:
        model: the network.
        path: local checkpoint, e.g. ``vssmtiny_dp01_ckpt_epoch_292.pth`` (weights under ``"model"``).

    Returns:
        A ``LoadReport``; it is also logged.
    """
    checkpoint = read_checkpoint(path)
    targets_of, adapt_first_conv = _mapping(model, checkpoint)
    model_state = model.state_dict()
    stages = len({m.group(1) for k in model_state if (m := re.match(r"layers\.(\d+)\.", k))})
    report = LoadReport()
    new_state: dict[str, torch.Tensor] = {}
    for key, tensor in checkpoint.items():
        targets = targets_of(key, stages)
        reasons = [] if targets else ["not loaded by this network's official loader"]
        for target in targets:
            if target not in model_state:
                reasons.append(f"{target}: not in the model")
                continue
            expected = model_state[target].shape
            if tensor.shape == expected:
                new_state[target] = tensor
            elif (adapt_first_conv and target.endswith("patch_embed.proj.weight") and tensor.shape[0] == expected[0]
                  and tensor.shape[2:] == expected[2:]):
                new_state[target] = _adapt_input_channels(tensor, expected[1])
                report.adapted[target] = f"input channels {tensor.shape[1]} -> {expected[1]} (kernel summed / {expected[1]})"
            else:
                reasons.append(f"{target}: shape {tuple(tensor.shape)} in the checkpoint, {tuple(expected)} in the model")
        if not any(t in new_state for t in targets):
            report.skipped[key] = "; ".join(reasons)
    model.load_state_dict(new_state, strict=False)
    report.loaded = sorted(new_state)
    report.missing = sorted(set(model_state) - set(new_state))
    logger.info("VMamba weights from %s: %s", path, report)
    return report


def load_trained_network(network: nn.Module, path: str | Path, how_to_make_it: str = "") -> nn.Module:
    """Load the complete weights of ``network`` from a checkpoint of ours (a state_dict, or one under ``"model"``,
    as ``BestModelSaver`` writes) and return it, e.g. the trained model for inference or ReSeg-UNet's stage-1
    reconstruction network before stage 2.

    Args:
        network: the network; every tensor must be in the file with the same shape (strict load).
        path: local checkpoint file.
        how_to_make_it: added to the error when the file is missing (the command that writes it).

    Raises:
        FileNotFoundError: no file at ``path``. RuntimeError: the file was trained with other network settings; the
            message names the first difference (from the run identity saved with it, else from the tensor shapes).
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
        saved_network = identity["network"] if identity else {
            "class": type(network).__name__, "digest": "", "shapes": {k: list(v.shape) for k, v in state.items()}}
        differences = network_differences(saved_network, network_fingerprint(network), where=f"in {Path(path).name}")
        raise RuntimeError(
            f"{path} was trained with other network settings than this configuration builds: "
            f"{'; '.join(differences) or 'the tensors differ'}. Run with the settings of the training run that wrote "
            "it (the same overlays, network settings and plan), or train again with these."
        ) from None
    logger.info("loaded %s from %s", type(network).__name__, path)
    return network

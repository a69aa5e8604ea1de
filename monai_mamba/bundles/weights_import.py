# Copyright (c) monai-mamba contributors. Licensed under the Apache License, Version 2.0.
"""A bundle of this repository with weights trained by a paper's official code: ``python -m monai_mamba.bundles
import-weights NAME CHECKPOINT --output DIR [--overlays synapse]``, e.g. a Mamba-UNet ``.pth`` written by the official
``train_fully_supervised_2D_VIM.py`` into the ``mamba_unet`` bundle. (Models trained by the papers' nnU-Net trainers
come as results folders: ``import-nnunet``.)"""

from __future__ import annotations

import logging
import tempfile
import zipfile
from collections.abc import Sequence
from pathlib import Path

import torch
from monai.bundle import ConfigParser

from monai_mamba.bundles.pack import pack_bundle
from monai_mamba.bundles.paths import new_output_folder
from monai_mamba.weights import load_official_weights, read_checkpoint

__all__ = ["import_official_weights"]

logger = logging.getLogger(__name__)


def import_official_weights(
    name: str, checkpoint: str | Path, output: str | Path, overlays: Sequence[str] = (), key: str | None = "model"
) -> Path:
    """Write the released bundle ``name`` (as ``pack`` makes it) into ``output`` with ``models/model.pt`` from an
    official checkpoint, loaded strictly into the network its ``inference.json`` (with ``overlays``) builds through
    the network's ``official_checkpoint_filter``.

    Args:
        name: the bundle (``mamba_unet``, ...).
        checkpoint: the official state_dict file (read with ``weights_only=True``).
        output: a new (or empty) folder.
        overlays: the bundle's overlays of the task the weights were trained for (``synapse`` for Mamba-UNet's
            9-class Synapse model; none for ACDC's 4 classes).
        key: the entry holding the weights when the file holds several things.

    Returns:
        The bundle folder; predict with ``python -m monai.bundle run --config_file "['<output>/configs/
        inference.json', <overlays>]" --dataset_dir DATA``.
    """
    output = new_output_folder(output)
    overlays = [overlays] if isinstance(overlays, str) else list(overlays)
    with tempfile.TemporaryDirectory() as temporary:
        archive = pack_bundle(name, temporary, weights_url="")
        with zipfile.ZipFile(archive) as packed:
            for member in packed.namelist():
                target = output / Path(member).relative_to(name)
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(packed.read(member))
    configs = [output / "configs" / "inference.json"] + [output / "configs" / f"{o}.yaml" for o in overlays]
    missing = [c.name for c in configs if not c.is_file()]
    if missing:
        available = sorted(p.stem for p in (output / "configs").glob("*.yaml"))
        raise FileNotFoundError(f"bundle {name} has no overlay {', '.join(missing)}; its configs: {available}.")
    parser = ConfigParser()
    parser.read_config([str(c) for c in configs])
    parser.update({"bundle_root": str(output)})
    network = parser.get_parsed_content("network_def")
    load_official_weights(network, read_checkpoint(checkpoint, key), str(checkpoint))
    (output / "models").mkdir(exist_ok=True)
    torch.save(network.state_dict(), output / "models" / "model.pt")
    logger.info("%s -> %s/models/model.pt (%s%s)", checkpoint, output, name, "".join(f" + {o}" for o in overlays))
    return output

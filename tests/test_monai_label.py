# Copyright (c) monai-mamba contributors. Licensed under the Apache License, Version 2.0.
"""MONAI Label: every bundle exposes the config ids its bundle app reads (serving a released bundle for real:
tests/test_monai_label_server.py)."""

from __future__ import annotations

import json

import pytest
from bundle_helpers import BUNDLES
from monai.bundle import ConfigParser

from monai_mamba.bundles import release_config

NAMES = sorted(p.name for p in BUNDLES.iterdir() if (p / "configs" / "metadata.json").is_file())
INFER_IDS = ("bundle_root", "device", "network_def", "preprocessing", "postprocessing", "inferer")  # BundleInferTask
TRAIN_IDS = (
    "bundle_root",
    "device",
    "network",
    "network_def",
    "train#trainer#max_epochs",
    "train#dataset#data",
    "train#handlers",
    "validate#dataset#data",
)  # BundleTrainTask


@pytest.mark.parametrize("name", NAMES)
def test_config_ids_monai_label_reads(name):
    """MONAI Label serves a released bundle: its configs as pack writes them (merged with their bases)."""
    configs = BUNDLES / name / "configs"
    released = release_config(configs / "inference.json")
    assert "_meta_" not in json.dumps(released)  # MONAI Label reads inference.json without the metadata
    inference = ConfigParser(released)
    assert all(key in inference for key in INFER_IDS)
    loaders = [h for h in inference["handlers"] if h["_target_"] == "monai_mamba.handlers.TrainedModelLoader"]
    assert (
        loaders
        and loaders[0]["load_path"] == "$@ckpt_dir + '/model.pt'"
        and inference["ckpt_dir"].endswith("'/models'")
    )
    train = ConfigParser(release_config(configs / "train.yaml"))
    assert all(key in train for key in TRAIN_IDS), [k for k in TRAIN_IDS if k not in train]
    assert isinstance(train["train#handlers"], list)  # MONAI Label inserts its checkpoint loader into it
    meta = json.loads((configs / "metadata.json").read_text())
    pred = next(iter(meta["network_data_format"]["outputs"].values()))
    assert len(pred["channel_def"]) == pred["num_channels"] and pred["channel_def"]["0"] == "background"

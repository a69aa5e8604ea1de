# Copyright (c) monai-mamba contributors. Licensed under the Apache License, Version 2.0.
"""MONAI Label: every bundle exposes the config ids its bundle app reads; with `monailabel` installed (optional,
slow), a trained bundle is served by MONAI Label's own BundleInferTask and BundleTrainTask."""

from __future__ import annotations

import json
import shutil

import pytest
from bundle_helpers import BUNDLES, run_bundle
from monai.bundle import ConfigParser

from monai_mamba.data import make_demo_dataset

NAMES = sorted(p.name for p in BUNDLES.iterdir() if (p / "configs" / "metadata.json").is_file())
INFER_IDS = ("bundle_root", "device", "network_def", "preprocessing", "postprocessing", "inferer")  # BundleInferTask
TRAIN_IDS = ("bundle_root", "device", "network", "network_def", "train#trainer#max_epochs", "train#dataset#data",
             "train#handlers", "validate#dataset#data")  # BundleTrainTask


@pytest.mark.parametrize("name", NAMES)
def test_config_ids_monai_label_reads(name):
    configs = BUNDLES / name / "configs"
    text = (configs / "inference.json").read_text()
    assert "_meta_" not in text  # MONAI Label reads inference.json without the metadata
    inference = ConfigParser(json.loads(text))
    assert all(key in inference for key in INFER_IDS)
    loaders = [h for h in inference["handlers"] if h["_target_"] == "monai_mamba.handlers.TrainedModelLoader"]
    assert loaders and loaders[0]["load_path"] == "$@ckpt_dir + '/model.pt'" and inference["ckpt_dir"].endswith("'/models'")
    train = ConfigParser()
    train.read_config(str(configs / "train.yaml"))
    assert all(key in train for key in TRAIN_IDS), [k for k in TRAIN_IDS if k not in train]
    meta = json.loads((configs / "metadata.json").read_text())
    pred = next(iter(meta["network_data_format"]["outputs"].values()))
    assert len(pred["channel_def"]) == pred["num_channels"] and pred["channel_def"]["0"] == "background"


@pytest.mark.slow
def test_monai_label_serves_a_trained_bundle(tmp_path):
    pytest.importorskip("monailabel")
    from monailabel.tasks.infer.bundle import BundleInferTask
    from monailabel.tasks.train.bundle import BundleTrainTask

    bundle = tmp_path / "mambaclinix"  # its preprocessing resamples (Spacingd), which MONAI Label >= monai 1.6 broke
    for item in ("configs", "docs", "LICENSE"):
        (shutil.copytree if item != "LICENSE" else shutil.copy2)(BUNDLES / "mambaclinix" / item, bundle / item)
    data = make_demo_dataset(tmp_path / "data", spatial_dims=3, num_classes=4, size=16, num_training=2,
                             num_validation=1, num_testing=1, num_channels=4)
    run_bundle("mambaclinix", ["train.yaml"], bundle_root=str(bundle), dataset_dir=data, max_epochs=1,
               iterations_per_epoch=1, num_regions_per_axis=[2, 2, 2])
    task = BundleInferTask(str(bundle), {})
    assert task.is_valid() and task.labels == {"necrotic tumour core": 1, "peritumoral oedema": 2, "enhancing tumour": 3}
    label_file, result = task({"image": f"{data}/imagesTr/case_003.nii.gz", "device": "cpu"})
    assert result["label_names"] == task.labels
    assert BundleTrainTask(str(bundle), {}).is_valid()

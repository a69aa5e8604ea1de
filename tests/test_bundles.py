# Copyright (c) monai-mamba contributors. Licensed under the Apache License, Version 2.0.
"""Every bundle, task and config, one table: the train, evaluate, multi-GPU and inference configs parse and build with
their shared blocks, MONAI's properties of the train and infer workflows are all there, inference.json builds the
network and the deterministic transforms the training run used, and the metadata describes the network."""

from __future__ import annotations

import pytest
import torch
from bundle_helpers import build_config_ids, config_paths, plan_arguments, tiny_dataset, verify_bundle_metadata
from monai.bundle import create_workflow
from monai.engines import SupervisedEvaluator, SupervisedTrainer

from monai_mamba.data import make_demo_dataset
from monai_mamba.planning import make_plan

# bundle, overlay, extra settings -> (data: spatial dims, channels, classes, size; tiny settings)
CASES = {
    ("lightm_unet", "", ""): ((2, 1, 2, 16), {"patch_size": [16, 16], "network_def#init_filters": 8}),
    ("lightm_unet", "lits_3d.yaml", ""): ((3, 1, 3, 16), {"patch_size": [16, 16, 16], "network_def#init_filters": 8}),
    ("mamba_unet", "", ""): ((3, 1, 4, [32, 32, 6]), {"image_size": [32, 32], "network_def#feature_size": 8}),
    ("mamba_unet", "synapse.yaml", ""): (
        (3, 1, 9, [32, 32, 6]),
        {"image_size": [32, 32], "network_def#feature_size": 8},
    ),
    ("swin_umamba", "", ""): ((2, 1, 4, 32), {"patch_size": [32, 32]}),
    ("swin_umamba", "", "SwinUMambaD"): ((2, 1, 4, 32), {"patch_size": [32, 32], "network_name": "SwinUMambaD"}),
    ("swin_umamba", "microscopy.yaml", ""): ((2, 1, 3, 32), {"patch_size": [32, 32], "in_channels": 1}),
    ("mambaclinix", "", ""): ((3, 4, 4, 16), {}),
    ("mambaclinix", "abdomen_ct.yaml", ""): ((3, 1, 4, 16), {}),
    ("mambaclinix", "liver_tumour.yaml", ""): ((3, 1, 3, 16), {}),
    ("umamba", "", ""): ((3, 1, 3, 16), {}),
    ("umamba", "enc.yaml", ""): ((3, 1, 3, 16), {}),
    ("umamba", "abdomen_mr.yaml", ""): ((3, 1, 3, 16), {}),
    ("umamba", "endoscopy.yaml", ""): ((2, 1, 3, 32), {"in_channels": 1}),
    ("umamba", "microscopy.yaml", ""): ((2, 1, 3, 32), {"in_channels": 1}),
    ("reseg_unet", "", ""): (
        (3, 1, 4, [32, 32, 6]),
        {"image_size": [32, 32], "network_factory#channels": [4, 8, 16, 32, 64]},
    ),
    ("reseg_unet", "synapse.yaml", ""): (
        (3, 1, 9, [32, 32, 6]),
        {"image_size": [32, 32], "network_factory#channels": [4, 8, 16, 32, 64]},
    ),
}
IDS = [f"{b}{'-' + o.split('.')[0] if o else ''}{'-' + x if x else ''}" for b, o, x in CASES]
SIZES = ("spatial_dims", "in_channels", "num_classes", "patch_size", "image_size")


def _case(key, tmp_path):
    bundle, overlay, _ = key
    (dims, channels, classes, size), tiny = CASES[key]
    overlays = [overlay] if overlay else []
    planned = plan_arguments(bundle, ["train.yaml", *overlays], tiny)
    if overlay == "microscopy.yaml":
        data = make_demo_dataset(
            tmp_path / "data",
            spatial_dims=2,
            size=size,
            num_training=2,
            num_validation=1,
            num_testing=1,
            instance_labels=True,
        )
    elif planned:
        data = tiny_dataset(tmp_path, dims, classes, size, num_validation=1, num_channels=channels)
    else:
        data = tiny_dataset(tmp_path, dims, classes, size)
    if planned:  # the self-configuring bundles: planned once here with their configs' settings, as a first run would
        make_plan(f"{data}/datalist.json", str(tmp_path / "plan.json"), *planned)
        tiny = {**tiny, "plan_file": str(tmp_path / "plan.json")}
    return bundle, overlays, {"bundle_root": str(tmp_path / "bundle"), "dataset_dir": data, **tiny}


def _inference_settings(settings: dict) -> dict:
    return {
        k: v
        for k, v in settings.items()
        if k.split("#")[0]
        in (
            "bundle_root",
            "dataset_dir",
            "patch_size",
            "image_size",
            "network_def",
            "network_factory",
            "network_name",
            "in_channels",
            "plan_file",
        )
    }


@pytest.mark.parametrize("key", list(CASES), ids=IDS)
def test_train_and_infer_workflows_build_with_every_property_monai_checks(key, tmp_path):
    bundle, overlays, settings = _case(key, tmp_path)
    train = create_workflow(
        config_file=config_paths(bundle, "train.yaml", *overlays), workflow_type="train", logging_file=False, **settings
    )
    assert train.check_properties() == []
    trainer, evaluator = (train.parser.get_parsed_content(i) for i in ("train#trainer", "validate#evaluator"))
    assert isinstance(trainer, SupervisedTrainer) and isinstance(evaluator, SupervisedEvaluator)
    assert evaluator.network is trainer.network  # validation scores the network being trained
    infer = create_workflow(
        config_file=config_paths(bundle, "inference.json", *overlays),
        workflow_type="infer",
        logging_file=False,
        **_inference_settings(settings),
    )
    assert infer.check_properties() == []
    evaluator = infer.parser.get_parsed_content("evaluator")
    assert isinstance(evaluator, SupervisedEvaluator) and isinstance(evaluator.network, torch.nn.Module)


@pytest.mark.parametrize("key", list(CASES), ids=IDS)
def test_evaluate_and_multi_gpu_overlays_build(key, tmp_path):
    bundle, overlays, settings = _case(key, tmp_path)
    evaluate = build_config_ids(bundle, ["train.yaml", *overlays, "evaluate.yaml"], ["validate#evaluator"], settings)
    assert isinstance(evaluate.get_parsed_content("validate#evaluator"), SupervisedEvaluator)
    if "microscopy.yaml" not in overlays:  # which replaces the metrics with the instance F1
        metrics = set(evaluate.get_parsed_content("extra_validation_metrics"))
        assert {"val_hd95", "val_asd", "val_missed_classes"} <= metrics
    ddp = build_config_ids(bundle, ["train.yaml", *overlays, "multi_gpu_train.yaml"], ["network_def"], settings)
    assert isinstance(ddp.get_parsed_content("network_def"), torch.nn.Module)
    assert all(name in ddp for name in ("train#sampler", "validate#sampler", "setup", "run", "finalize"))  # + a group


@pytest.mark.parametrize("demo", [True, False])
@pytest.mark.parametrize("key", list(CASES), ids=IDS)
def test_inference_builds_what_training_used(key, demo, tmp_path):
    """inference.json writes its network and deterministic transforms itself (MONAI Label and ckpt_export read it
    alone): they must stay equal to train.yaml's, for every task overlay, in the demo and on your data."""
    bundle, overlays, settings = _case(key, tmp_path)
    train = build_config_ids(bundle, ["train.yaml", *overlays], [], {**settings, "demo": demo})
    infer = build_config_ids(bundle, ["inference.json", *overlays], [], {**_inference_settings(settings), "demo": demo})
    for name in ("network_def", "network_factory", "dataset_transforms", "inference_transforms", "task"):
        if name in train or name in infer:
            assert train.get(name) == infer.get(name), name
    if "deep_supervision" in infer:  # the networks that take it (the shared training blocks default it to false)
        assert train.get_parsed_content("deep_supervision") == infer.get_parsed_content("deep_supervision")
    for name in SIZES:
        if name in train or name in infer:
            assert train.get_parsed_content(name) == infer.get_parsed_content(name), name


@pytest.mark.parametrize("bundle", sorted({b for b, _, _ in CASES}))
def test_metadata_describes_the_network(bundle, tmp_path):
    """``verify_net_in_out`` on inference.json alone, as the model zoo and ``ckpt_export`` read it."""
    key = (bundle, "", "")
    bundle, _, settings = _case(key, tmp_path)
    extra = {"plan_file": settings["plan_file"]} if "plan_file" in settings else {}
    verify_bundle_metadata(bundle, tmp_path, n=1 if extra else 2, **extra)


def test_every_bundle_and_task_overlay_is_in_the_table():
    """A new bundle or task overlay must get a row above (it is then built, checked and compared like the others)."""
    from bundle_helpers import BUNDLES

    not_task_overlays = {"train.yaml", "evaluate.yaml", "multi_gpu_train.yaml", "train_reconstruction.yaml"}
    on_disk = set()
    for configs in BUNDLES.glob("*/configs"):
        on_disk.add((configs.parent.name, ""))
        on_disk |= {(configs.parent.name, p.name) for p in configs.glob("*.yaml") if p.name not in not_task_overlays}
    assert on_disk == {(bundle, overlay) for bundle, overlay, _ in CASES}

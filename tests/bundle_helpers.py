# Copyright (c) monai-mamba contributors. Licensed under the Apache License, Version 2.0.
"""Run a bundle's configs in-process on tiny generated data, for the bundle tests."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from contextlib import contextmanager
from pathlib import Path
from types import SimpleNamespace

import pytest
from monai.bundle import ConfigParser, ConfigWorkflow, create_workflow, verify_net_in_out

from monai_mamba.bundles import expand_config_files
from monai_mamba.data import make_demo_dataset
from monai_mamba.handlers import EvaluationRecord

BUNDLES = Path(__file__).resolve().parents[1] / "bundles"


def config_paths(bundle: str, *names: str) -> list[str]:
    return [str(BUNDLES / bundle / "configs" / name) for name in names]


@contextmanager
def duplicate_keys_refused():
    """MONAI's config loader refuses a duplicate key while the configs are read (MONAI_FAIL_ON_DUPLICATE_CONFIG)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MONAI_FAIL_ON_DUPLICATE_CONFIG", "1")
        yield


def build_config_ids(bundle: str, configs: list[str], ids: list[str], overrides) -> ConfigParser:
    """Merge ``configs`` with the bases they name (duplicate keys refused) and the metadata, apply ``overrides`` (a
    dict, or a function of the parser giving one), and instantiate every id in ``ids``; returns the parser."""
    parser = ConfigParser()
    with duplicate_keys_refused():
        parser.read_config(expand_config_files(config_paths(bundle, *configs)))
    parser.read_meta(config_paths(bundle, "metadata.json")[0])
    parser.update(overrides(parser) if callable(overrides) else overrides)
    for name in ids:
        parser.get_parsed_content(name)  # raises, naming the id, when it cannot be built; callers check what it is
    return parser


def plan_arguments(bundle: str, configs: list[str], overrides: dict) -> tuple | None:
    """``(label_values, modalities)`` that a self-configuring bundle's first run plans its data with (the merged
    ``configs`` after ``overrides``), or None for a bundle that does not plan (no ``plan_file`` setting)."""
    parser = ConfigParser()
    parser.read_config(expand_config_files(config_paths(bundle, *configs)))
    parser.update(overrides)
    if "plan_file" not in parser:
        return None
    return parser.get_parsed_content("label_values"), parser.get_parsed_content("modalities")


def copy_bundle(name: str, bundles_dir: Path) -> Path:
    """The bundle as git has it (configs, docs, LICENSE) into ``bundles_dir/name``, with the shared blocks its configs
    name (``bundles_dir/shared``), so that local run outputs do not enter a test; returns the copy."""
    target = Path(bundles_dir) / name
    for folder in ("configs", "docs"):
        shutil.copytree(BUNDLES / name / folder, target / folder)
    shutil.copy2(BUNDLES / name / "LICENSE", target / "LICENSE")
    if not (Path(bundles_dir) / "shared").exists():
        shutil.copytree(BUNDLES / "shared", Path(bundles_dir) / "shared")
    return target


def record_stand_in_evaluation(bundle_dir: Path, metrics: dict) -> None:
    """``eval/evaluation.json`` for ``bundle_dir/models/model.pt`` as ``evaluate.yaml``'s ``EvaluationRecord`` writes
    it, with given ``metrics``: for tests of what a release holds with weights that are not trained (the zoo's fake
    weights); ``test_release_served_over_http_downloads_verifies_loads_and_infers`` evaluates for real."""
    engine = SimpleNamespace(state=SimpleNamespace(metrics=metrics), data_loader=SimpleNamespace(dataset=[None]))
    EvaluationRecord(str(bundle_dir / "models" / "model.pt"), str(bundle_dir / "eval"), "", "validation")(engine)


def verify_bundle_metadata(bundle: str, bundle_root: Path, n: int, **overrides) -> None:
    """``monai.bundle verify_net_in_out`` on inference.json alone (as ``ckpt_export`` and the zoo read it: its
    network must not need its bases), and the metadata's version and package list."""
    verify_net_in_out(
        net_id="network_def",
        meta_file=config_paths(bundle, "metadata.json")[0],
        config_file=config_paths(bundle, "inference.json")[0],
        n=n,
        bundle_root=str(bundle_root),
        **overrides,
    )
    meta = ConfigParser.load_config_file(config_paths(bundle, "metadata.json")[0])
    assert meta["version"] in meta["changelog"]
    assert "monai-mamba" in meta["required_packages_version"]


def run_bundle(bundle: str, configs: list[str], **overrides) -> ConfigWorkflow:
    """``python -m monai.bundle run --config_file [configs...] --<override> ...`` in this process (create_workflow
    initializes it, loading the bases the configs name)."""
    with duplicate_keys_refused():
        workflow = create_workflow(
            config_file=config_paths(bundle, *configs), logging_file=False, workflow_type=None, **overrides
        )
    workflow.run()
    workflow.finalize()
    return workflow


def tiny_dataset(tmp_path: Path, spatial_dims: int, num_classes: int, size, num_validation: int = 2, **options) -> str:
    """2 training, ``num_validation`` validation (default 2: one per DDP rank in the multi-process test) and 1 testing
    case in ``tmp_path/data``; ``options`` go to ``make_demo_dataset`` (``num_channels``, ``instance_labels``)."""
    return make_demo_dataset(
        tmp_path / "data",
        spatial_dims=spatial_dims,
        num_classes=num_classes,
        size=size,
        num_training=2,
        num_validation=num_validation,
        num_testing=1,
        **options,
    )


def run_torchrun(bundle: str, configs: list[str], **overrides) -> None:
    """``torchrun --nproc_per_node=2 -m monai.bundle run`` (gloo on CPU) with ``overrides`` as command-line
    arguments; fails the test with the processes' output unless they succeed."""
    args = []
    for key, value in overrides.items():
        args += [f"--{key}", str(value).replace(" ", "")]
    config = "['" + "','".join(config_paths(bundle, *configs)) + "']"
    cmd = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        "--nnodes=1",
        "--nproc_per_node=2",
        "-m",
        "monai.bundle",
        "run",
        "--config_file",
        config,
        *args,
    ]
    result = subprocess.run(
        cmd, capture_output=True, text=True, timeout=600, env={**os.environ, "OMP_NUM_THREADS": "1"}
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    _assert_rank0_alone_logged(Path(overrides["bundle_root"]), result.stdout + result.stderr)


def _assert_rank0_alone_logged(bundle_root: Path, output: str) -> None:
    """The logs of a 2-process run come from rank 0 alone: every TensorBoard event file was written by one process
    (its pid is in the file name), and the per-epoch summary of the statistics handler appears once per epoch."""
    events = list(bundle_root.rglob("events.out.tfevents.*"))
    assert events, "no TensorBoard log written"
    assert len({e.name.split(".")[4] for e in events}) == 1, [e.name for e in events]
    summaries = re.findall(r"Epoch\[(\d+)\] Metrics -- [^\n]*val_mean_dice", output)
    assert summaries and len(summaries) == len(set(summaries)), summaries  # one validation summary per epoch


def error_messages(error: BaseException) -> str:
    """The messages of ``error`` and of every exception it was raised from (MONAI wraps a config's errors)."""
    messages = []
    while error is not None:
        messages.append(str(error))
        error = error.__cause__
    return "\n".join(messages)

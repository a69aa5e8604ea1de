# Copyright (c) monai-mamba contributors. Licensed under the Apache License, Version 2.0.
"""The MONAI model zoo's own CI, run on every bundle as it would be released (packed, downloaded, weights fetched
through ``large_files.yml``): ``ci/verify_bundle.py`` in full mode (directory, version, ``verify_metadata`` against
the schema the metadata cites, ``verify_net_in_out``, properties), ``check_properties()`` of the train and infer
workflows, the hooks of the zoo's ``.pre-commit-config.yaml`` (``pre-commit-hooks`` at the zoo's pinned version),
and the traced TorchScript that replaces the zoo's scripted-export check (see each bundle README).

The zoo's code is a test tool, never part of the project: ``MONAI_MODEL_ZOO`` names a checkout or a git directory of
``Project-MONAI/model-zoo`` (``.ci/run`` sets it when a copy is on the machine); without it these tests are skipped.
"""

from __future__ import annotations

import importlib
import json
import os
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
import torch
import yaml
from bundle_helpers import copy_bundle, plan_arguments, record_stand_in_evaluation, tiny_dataset
from monai.bundle import ConfigParser, ConfigWorkflow, ckpt_export

from monai_mamba.bundles import pack_bundle
from monai_mamba.bundles.demos import DEMO_BUNDLES as NAMES
from monai_mamba.planning import make_plan

ZOO = os.environ.get("MONAI_MODEL_ZOO", "")
SCHEMA = Path(__file__).parent / "data" / "meta_schema_20240725.json"
# bundle -> (spatial dims of its data, image channels, label classes, demo-data size)
DATA = {
    "lightm_unet": (2, 1, 2, 32),
    "mamba_unet": (3, 1, 4, [32, 32, 8]),
    "swin_umamba": (2, 1, 4, 32),
    "mambaclinix": (3, 4, 4, 16),
    "reseg_unet": (3, 1, 4, [32, 32, 8]),
    "umamba": (3, 1, 3, 16),
}
SMALL = {
    "lightm_unet": {"patch_size": [32, 32]},
    "mamba_unet": {"image_size": [32, 32]},
    "swin_umamba": {"patch_size": [32, 32]},
    "mambaclinix": {},
    "reseg_unet": {"image_size": [32, 32]},
    "umamba": {},
}
# hook id of the zoo's .pre-commit-config.yaml -> (console script of pre-commit-hooks, file kinds it runs on)
HOOKS = {
    "end-of-file-fixer": ("end-of-file-fixer", "text"),
    "trailing-whitespace": ("trailing-whitespace-fixer", "text"),
    "check-yaml": ("check-yaml", ".yaml .yml"),
    "check-docstring-first": ("check-docstring-first", ".py"),
    "check-executables-have-shebangs": ("check-executables-have-shebangs", "executable"),
    "check-toml": ("check-toml", ".toml"),
    "check-case-conflict": ("check-case-conflict", "all"),
    "check-added-large-files": ("check-added-large-files", "all"),
    "detect-private-key": ("detect-private-key", "text"),
    "forbid-new-submodules": ("forbid-new-submodules", "all"),
    "pretty-format-json": ("pretty-format-json", ".json"),
    "mixed-line-ending": ("mixed-line-ending", "text"),
}

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not ZOO, reason="MONAI_MODEL_ZOO (a copy of Project-MONAI/model-zoo) is not set"),
]


@pytest.fixture(scope="module")
def zoo(tmp_path_factory) -> Path:
    """``ci/`` and ``.pre-commit-config.yaml`` of the model zoo, in a temporary folder."""
    target = tmp_path_factory.mktemp("model-zoo")
    source = Path(ZOO)
    if (source / "ci").is_dir():
        shutil.copytree(source / "ci", target / "ci")
        shutil.copy2(source / ".pre-commit-config.yaml", target)
    else:  # a git directory without a work tree
        archive = subprocess.run(
            ["git", "--git-dir", str(source), "archive", "HEAD", "ci", ".pre-commit-config.yaml"],
            capture_output=True,
            check=True,
        ).stdout
        subprocess.run(["tar", "-x", "-C", str(target)], input=archive, check=True)
    return target


@pytest.fixture()
def verify_bundle(zoo, monkeypatch):
    """The zoo's ``ci/verify_bundle.py`` module (it imports ``utils`` and ``bundle_custom_data`` from ``ci/``)."""
    monkeypatch.syspath_prepend(str(zoo / "ci"))
    for module in ("verify_bundle", "utils", "bundle_custom_data"):
        sys.modules.pop(module, None)
    module = importlib.import_module("verify_bundle")
    yield module
    for name in ("verify_bundle", "utils", "bundle_custom_data"):
        sys.modules.pop(name, None)


def _data(name: str, tmp_path: Path) -> str:
    dims, channels, classes, size = DATA[name]
    return tiny_dataset(tmp_path, dims, classes, size, num_validation=1, num_channels=channels)


def _release(name: str, tmp_path: Path, verify_bundle, data: str) -> Path:
    """Pack the bundle as a maintainer would after training and evaluating (weights: the zoo's own fake-weights
    helper, with a stand-in evaluation record; a self-configuring bundle: the plan of the run), publish the weights at a
    file:// URL, and download + unpack the release into ``tmp_path/models/<name>``, as the zoo holds it."""
    source = copy_bundle(name, tmp_path / "src")
    (source / "models").mkdir()
    planned = plan_arguments(name, ["train.yaml"], {})
    if planned:
        make_plan(f"{data}/datalist.json", str(source / "models" / "plan.json"), *planned)
    server = tmp_path / "server"
    url = server.as_uri() + "/{name}_v{version}/{file}"
    first = pack_bundle(name, str(tmp_path / "dist0"), bundles_dir=tmp_path / "src")  # the configs alone
    with zipfile.ZipFile(first) as archive:  # the release configs, to build the network the weights are for
        archive.extractall(tmp_path / "staged")
    cwd = os.getcwd()
    os.chdir(tmp_path / "staged" / name)  # the configs' bundle_root outside a workflow: the current directory
    try:
        verify_bundle._produce_fake_weights("configs/inference.json", "configs/metadata.json", name, "cpu")
    finally:
        os.chdir(cwd)
    shutil.move(str(tmp_path / "staged" / name / "model.pt"), source / "models" / "model.pt")
    record_stand_in_evaluation(source, {"val_mean_dice": 0.5})  # a release states its weights' evaluation
    archive = pack_bundle(name, str(tmp_path / "dist"), weights_url=url, bundles_dir=tmp_path / "src")
    version = json.loads((source / "configs" / "metadata.json").read_text())["version"]
    (server / f"{name}_v{version}").mkdir(parents=True)
    shutil.copy2(source / "models" / "model.pt", server / f"{name}_v{version}" / "model.pt")
    models = tmp_path / "models"
    with zipfile.ZipFile(archive) as z:
        z.extractall(models)
    (models / "model_info.json").write_text("{}")  # the zoo's list of released versions: none of this bundle yet
    return models


def _verify_in_full_mode(verify_bundle, monkeypatch, name: str, models: Path) -> None:
    """``verify_bundle.verify(name, models, mode="full")`` as the zoo's CI runs it on a pull request that adds the
    bundle: the metadata schema where ``ci/prepare_schema.py`` puts it, and the bundle in
    ``exclude_verify_torchscript_list`` (see the bundle README: the networks are traced, not scripted; the traced
    model.ts is checked below)."""
    (models / name / "eval").mkdir()
    shutil.copy2(SCHEMA, models / name / "eval" / "schema.json")
    monkeypatch.setattr(
        verify_bundle, "exclude_verify_torchscript_list", [*verify_bundle.exclude_verify_torchscript_list, name]
    )
    path = list(sys.path)
    try:
        verify_bundle.verify(name, str(models), mode="full")
    finally:
        sys.path[:] = path


@pytest.mark.parametrize("name", NAMES)
def test_the_zoos_verify_bundle_passes_in_full_mode(name, tmp_path, verify_bundle, monkeypatch):
    data = _data(name, tmp_path)
    models = _release(name, tmp_path, verify_bundle, data)
    bundle = models / name
    meta = json.loads((bundle / "configs" / "metadata.json").read_text())
    assert meta["schema"].rsplit("/", 1)[1] == SCHEMA.name  # the schema file the metadata cites (its copy)
    _verify_in_full_mode(verify_bundle, monkeypatch, name, models)
    assert (bundle / "models" / "model.pt").is_file()  # fetched through large_files.yml


@pytest.mark.parametrize("name", NAMES)
def test_train_and_infer_workflows_have_every_property_the_zoo_checks(name, tmp_path, verify_bundle):
    data = _data(name, tmp_path)
    bundle = _release(name, tmp_path, verify_bundle, data) / name
    for workflow_type, config in (("train", "train.yaml"), ("infer", "inference.json")):
        workflow = ConfigWorkflow(
            config_file=str(bundle / "configs" / config),
            meta_file=str(bundle / "configs" / "metadata.json"),
            logging_file=str(bundle / "configs" / "logging.conf"),
            workflow_type=workflow_type,
            bundle_root=str(bundle),
            dataset_dir=data,
            **SMALL[name],
        )
        workflow.initialize()
        assert workflow.check_properties() == [], (workflow_type, workflow.check_properties())


@pytest.mark.parametrize("name", NAMES)
def test_the_zoos_pre_commit_hooks_change_nothing(name, tmp_path, zoo, verify_bundle):
    config = yaml.safe_load((zoo / ".pre-commit-config.yaml").read_text())
    (hooks_repo,) = [r for r in config["repos"] if r["repo"].endswith("pre-commit/pre-commit-hooks")]
    from importlib.metadata import version

    assert version("pre-commit-hooks") == hooks_repo["rev"].lstrip("v"), "install the zoo's pinned pre-commit-hooks"
    data = _data(name, tmp_path)
    release = _release(name, tmp_path, verify_bundle, data) / name
    repo = tmp_path / "zoo_repo"
    shutil.copytree(release, repo / "models" / name, ignore=shutil.ignore_patterns("model.pt"))
    git = ["git", "-c", "user.email=ci@example.org", "-c", "user.name=ci"]
    subprocess.run([*git, "init", "-q", str(repo)], check=True)
    subprocess.run([*git, "-C", str(repo), "add", "."], check=True)
    files = subprocess.run(["git", "-C", str(repo), "ls-files"], capture_output=True, text=True).stdout.split()
    for hook in hooks_repo["hooks"]:
        assert hook["id"] in HOOKS, f"the zoo runs a hook this test does not know: {hook['id']}"
        script, kinds = HOOKS[hook["id"]]
        chosen = [
            f
            for f in files
            if kinds in ("all", "text")
            or Path(f).suffix in kinds.split()
            or (kinds == "executable" and os.access(repo / f, os.X_OK))
        ]
        if "exclude" in hook:
            chosen = [f for f in chosen if not re.search(hook["exclude"], f)]
        if not chosen and kinds != "all":
            continue
        result = subprocess.run(
            [str(Path(sys.executable).parent / script), *hook.get("args", []), *chosen],
            cwd=repo,
            capture_output=True,
            text=True,
        )
        assert result.returncode == 0, (hook["id"], result.stdout + result.stderr)
    changed = subprocess.run(["git", "-C", str(repo), "diff", "--stat"], capture_output=True, text=True).stdout
    assert changed == "", changed


@pytest.mark.parametrize("name", NAMES)
def test_the_traced_torchscript_a_zoo_release_ships_loads_and_equals_eager(name, tmp_path, verify_bundle):
    data = _data(name, tmp_path)
    bundle = _release(name, tmp_path, verify_bundle, data) / name
    subprocess.run(
        [sys.executable, "-m", "monai.bundle", "download_large_files", "--bundle_path", str(bundle)],
        check=True,
        capture_output=True,
    )
    meta = json.loads((bundle / "configs" / "metadata.json").read_text())
    image = meta["network_data_format"]["inputs"]["image"]
    shape = [1, image["num_channels"], *(int(str(s).split("*")[0]) for s in image["spatial_shape"])]  # n = 1
    ckpt_export(
        net_id="network_def",
        filepath=str(bundle / "models" / "model.ts"),
        ckpt_file=str(bundle / "models" / "model.pt"),
        meta_file=str(bundle / "configs" / "metadata.json"),
        config_file=str(bundle / "configs" / "inference.json"),
        bundle_root=str(bundle),
        use_trace=True,
        input_shape=shape,
    )
    parser = ConfigParser()
    parser.read_config(str(bundle / "configs" / "inference.json"))
    parser.update({"bundle_root": str(bundle)})
    network = parser.get_parsed_content("network_def")
    network.load_state_dict(torch.load(bundle / "models" / "model.pt", weights_only=True))
    x = torch.randn(shape)
    with torch.no_grad():
        torch.testing.assert_close(
            torch.jit.load(str(bundle / "models" / "model.ts"))(x), network.eval()(x), atol=1e-4, rtol=1e-4
        )


def test_the_zoos_verify_bundle_passes_on_an_imported_nnunet_model(tmp_path, verify_bundle, monkeypatch):
    """A bundle written by ``import-nnunet`` (a LightM-UNet results folder), its model.pt published at the
    ``--weights_url`` it names and fetched through its ``large_files.yml``, passes ``verify_bundle`` in full mode."""
    from nnunet_helpers import architecture, dataset_json, plans, write_results

    from monai_mamba.bundles import import_nnunet_results
    from monai_mamba.nets import LightMUNet

    name = "lightm_unet_dataset999"
    layout = architecture([32, 64, 128, 256], [[3, 3, 3]] * 4, [[1, 1, 1], [2, 2, 2], [2, 2, 2], [2, 2, 2]])
    folder = write_results(
        tmp_path / "results",
        "nnUNetTrainerLightMUNet",
        "3d_fullres",
        plans("3d_fullres", [16, 16, 16], [2.0, 1.0, 1.5], ["CTNormalization"], [False], layout),
        dataset_json(["CT"], ["background", "liver"]),
        {0: LightMUNet(3, 1, 2).state_dict()},
        (0, 1, 2),
    )
    server, models = tmp_path / "server", tmp_path / "models"
    server.mkdir()
    bundle = import_nnunet_results(folder, models / name, weights_url=(server / "model.pt").as_uri())
    shutil.move(str(bundle / "models" / "model.pt"), server / "model.pt")  # published; verify fetches it
    (models / "model_info.json").write_text("{}")
    _verify_in_full_mode(verify_bundle, monkeypatch, name, models)
    assert (bundle / "models" / "model.pt").is_file()

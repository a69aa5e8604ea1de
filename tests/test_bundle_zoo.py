# Copyright (c) monai-mamba contributors. Licensed under the Apache License, Version 2.0.
"""Model-zoo readiness: every bundle passes the zoo's checks; train -> evaluate -> pack -> served over HTTP ->
monai.bundle download -> download_large_files (hash checked) -> monai.bundle.load -> inference."""

from __future__ import annotations

import functools
import hashlib
import http.server
import json
import shutil
import subprocess
import sys
import threading
import zipfile
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest
import torch
import yaml
from bundle_helpers import BUNDLES, copy_bundle, record_stand_in_evaluation, run_bundle, tiny_dataset
from monai.apps.utils import HashCheckError
from monai.bundle import create_workflow, download, download_large_files, load, verify_metadata

from monai_mamba.bundles import check_bundle, pack_bundle, release_files

NAMES = sorted(p.name for p in BUNDLES.iterdir() if (p / "configs" / "metadata.json").is_file())


def test_all_six_bundles_are_checked():
    assert NAMES == ["lightm_unet", "mamba_unet", "mambaclinix", "reseg_unet", "swin_umamba", "umamba"]


@pytest.mark.parametrize("name", NAMES)
def test_bundle_passes_the_zoo_checks(name):
    assert check_bundle(BUNDLES / name, release=False) == []
    files = {p.as_posix() for p in release_files(BUNDLES / name)}
    assert {"LICENSE", "configs/metadata.json", "docs/README.md", "docs/data_license.txt"} <= files
    assert not any(f.startswith(("logs/", "eval/", "predictions/", "demo/")) for f in files)
    assert "models/model.pt" not in files  # weights are released through large_files.yml


@pytest.mark.parametrize("name", NAMES)
def test_metadata_validates_against_the_schema_it_cites(name):
    """``python -m monai.bundle verify_metadata`` with the schema file the metadata's ``schema`` URL names (a local
    copy in tests/data, source in its README)."""
    meta = json.loads((BUNDLES / name / "configs" / "metadata.json").read_text())
    schema = Path(__file__).parent / "data" / meta["schema"].rsplit("/", 1)[1]
    assert schema.is_file(), f"no local copy of {meta['schema']}"
    verify_metadata(meta_file=str(BUNDLES / name / "configs" / "metadata.json"), filepath=str(schema))


def _copy(name, tmp_path):
    return copy_bundle(name, tmp_path / "bundles")


def test_release_served_over_http_downloads_verifies_loads_and_infers(tmp_path):
    """The zoo flow, offline: train, evaluate, pack with --weights_url; a local HTTP server serves the zip and the
    weights; ``monai.bundle download`` unpacks the zip, ``download_large_files`` fetches ``model.pt`` checking its
    SHA-256, ``monai.bundle.load`` returns the trained network, and the released inference config segments an image
    with its geometry. The metadata holds the evaluation's metrics; a tampered ``model.pt`` is refused by its hash."""
    data = tiny_dataset(tmp_path, 2, 2, 32, num_validation=1)
    bundle = copy_bundle("lightm_unet", tmp_path / "bundles")
    tiny = {"network_def#init_filters": 8}
    settings = dict(bundle_root=str(bundle), dataset_dir=data, patch_size=[32, 32], max_epochs=1, **tiny)
    run_bundle("lightm_unet", ["train.yaml"], **settings)
    run_bundle("lightm_unet", ["train.yaml", "evaluate.yaml"], **settings)
    measured = json.loads((bundle / "eval" / "evaluation.json").read_text())
    assert measured["model_sha256"] == hashlib.sha256((bundle / "models" / "model.pt").read_bytes()).hexdigest()

    site = tmp_path / "site"
    (site / "weights").mkdir(parents=True)
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(site))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        archive = pack_bundle(
            "lightm_unet", str(site), weights_url=url + "/weights/{file}", bundles_dir=tmp_path / "bundles"
        )
        shutil.copy2(bundle / "models" / "model.pt", site / "weights" / "model.pt")  # the maintainer's upload
        zoo = tmp_path / "zoo"
        download(name="lightm_unet", url=f"{url}/{archive.name}", bundle_dir=str(zoo), progress=False)
        released = zoo / "lightm_unet"
        assert not (released / "models" / "model.pt").exists()  # the weights come through large_files.yml
        download_large_files(bundle_path=str(released))
        network = load(
            name="lightm_unet",
            bundle_dir=str(zoo),
            workflow_type="inference",
            net_override={"init_filters": 8},
            device="cpu",
            progress=False,
        )
        trained = torch.load(bundle / "models" / "model.pt", weights_only=True)
        assert all(torch.equal(network.state_dict()[k], v) for k, v in trained.items())

        meta = json.loads((released / "configs" / "metadata.json").read_text())
        assert meta["eval_metrics"] == {k: round(v, 4) for k, v in measured["metrics"].items()}
        assert "val_mean_dice" in meta["eval_metrics"]
        assert meta["eval_data"] == {"dataset": "data", "split": "validation", "cases": 1}

        workflow = create_workflow(
            config_file=str(released / "configs" / "inference.json"),
            workflow_type="infer",
            logging_file=False,
            bundle_root=str(released),
            dataset_dir=data,
            **tiny,
        )
        workflow.run()
        (prediction,) = (released / "predictions").glob("*_seg.nii.gz")
        testing = json.loads((Path(data) / "datalist.json").read_text())["testing"][0]["image"]
        image = nib.load(Path(data) / testing)
        assert nib.load(prediction).shape[:2] == image.shape[:2]
        assert np.allclose(nib.load(prediction).affine, image.affine)

        (site / "weights" / "model.pt").write_bytes(b"not the released weights")
        (released / "models" / "model.pt").unlink()
        with pytest.raises(HashCheckError, match="sha256 hash check of downloaded file failed"):
            download_large_files(bundle_path=str(released))
        assert not (released / "models" / "model.pt").exists()  # nothing unverified is left to load
    finally:
        server.shutdown()


def test_pack_releases_weights_only_with_a_url_and_their_own_evaluation(tmp_path):
    bundle = _copy("lightm_unet", tmp_path)
    (bundle / "models").mkdir()
    (bundle / "models" / "model.pt").write_bytes(b"weights")
    configs_only = pack_bundle("lightm_unet", str(tmp_path / "a"), bundles_dir=tmp_path / "bundles")
    with zipfile.ZipFile(configs_only) as z:
        assert yaml.safe_load(z.read("lightm_unet/large_files.yml"))["large_files"] == []
        assert json.loads(z.read("lightm_unet/configs/metadata.json"))["eval_metrics"] == {}
        assert "lightm_unet/models/model.pt" not in z.namelist()
    url = "https://example.org/{name}/{version}/{file}"
    with pytest.raises(ValueError, match=r"model.pt has not been evaluated .*evaluate.yaml"):
        pack_bundle("lightm_unet", str(tmp_path / "b"), weights_url=url, bundles_dir=tmp_path / "bundles")
    record_stand_in_evaluation(bundle, {"val_mean_dice": 0.5})
    (bundle / "models" / "model.pt").write_bytes(b"weights trained since")
    with pytest.raises(ValueError, match=r"scored another model than .*model.pt \(SHA-256 differs"):
        pack_bundle("lightm_unet", str(tmp_path / "c"), weights_url=url, bundles_dir=tmp_path / "bundles")
    (bundle / "models" / "model.pt").unlink()
    with pytest.raises(FileNotFoundError, match="--weights_url given but .*model.pt does not exist"):
        pack_bundle("lightm_unet", str(tmp_path / "d"), weights_url=url, bundles_dir=tmp_path / "bundles")


def test_pack_refuses_an_unknown_bundle_and_one_that_fails_the_checks(tmp_path):
    with pytest.raises(FileNotFoundError, match="available"):
        pack_bundle("nope", str(tmp_path), bundles_dir=BUNDLES)
    bundle = _copy("reseg_unet", tmp_path)
    (bundle / "docs" / "README.md").write_text("# nothing\n")
    with pytest.raises(ValueError, match="no '## Model Overview' section"):
        pack_bundle("reseg_unet", str(tmp_path), bundles_dir=tmp_path / "bundles")


def test_checks_find_what_the_zoo_refuses(tmp_path):
    bundle = _copy("mamba_unet", tmp_path)
    (bundle / "configs" / "extra.yaml").write_text("a: 1\na: 2\n")
    meta = json.loads((bundle / "configs" / "metadata.json").read_text())
    meta["version"] = "0.2.0"
    del meta["required_packages_version"]["pytorch-ignite"]
    meta["network_data_format"]["outputs"]["pred"]["num_channels"] = 3
    (bundle / "configs" / "metadata.json").write_text(json.dumps(meta))
    (bundle / "docs" / "notes.md").write_text("data in /home/alice/acdc\n")
    (bundle / "logs").mkdir()
    (bundle / "models").mkdir()
    (bundle / "models" / "big.bin").write_bytes(b"\0" * (25 * 1024 * 1024 + 1))
    problems = "\n".join(check_bundle(bundle))
    for expected in (
        "extra.yaml: does not parse: Duplicate key: `a`",
        "version 0.2.0 has no changelog entry",
        "import ignite but required_packages_version lacks 'pytorch-ignite'",
        "names 4 channels in channel_def but num_channels is 3",
        "notes.md: contains a personal path",
        "logs/: run outputs",
        "models/big.bin: not a release file",
        "big.bin: over 25 MB",
    ):
        assert expected in problems, expected


def test_check_on_a_folder_that_is_not_a_bundle_says_so(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "monai_mamba.bundles", "check", str(tmp_path)], capture_output=True, text=True
    )
    assert result.returncode == 1 and f"{tmp_path} is not a bundle folder (no configs/ in it)" in result.stdout


@pytest.mark.parametrize("name", ["../lightm_unet", "lightm_unet/../mamba_unet", "/etc", ".."])
def test_pack_refuses_a_name_that_is_a_path(name, tmp_path):
    with pytest.raises(ValueError, match="without path separators or '..'"):
        pack_bundle(name, str(tmp_path), bundles_dir=BUNDLES)


def test_pack_refuses_symbolic_links(tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("password")
    bundle = _copy("lightm_unet", tmp_path)
    (bundle / "docs" / "notes.txt").symlink_to(secret)
    with pytest.raises(ValueError, match=r"notes.txt is a symbolic link: a release holds plain files only"):
        pack_bundle("lightm_unet", str(tmp_path / "out"), bundles_dir=tmp_path / "bundles")
    assert not (tmp_path / "out").exists()
    assert any("notes.txt: a symbolic link" in p for p in check_bundle(bundle, release=False))

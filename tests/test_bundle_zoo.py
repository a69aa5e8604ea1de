# Copyright (c) monai-mamba contributors. Licensed under the Apache License, Version 2.0.
"""Model-zoo readiness: every bundle passes the zoo's checks; pack -> monai.bundle download (file://) -> run."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
import yaml
from bundle_helpers import BUNDLES, copy_bundle
from monai.bundle import download, verify_metadata, verify_net_in_out

from monai_mamba.bundles import check_bundle, pack_bundle, release_files

NAMES = sorted(p.name for p in BUNDLES.iterdir() if (p / "configs" / "metadata.json").is_file())


def test_all_five_bundles_are_checked():
    assert NAMES == ["lightm_unet", "mamba_unet", "mambaclinix", "reseg_unet", "swin_umamba"]


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


def test_pack_then_download_from_a_file_url_then_run(tmp_path):
    bundle = _copy("lightm_unet", tmp_path)
    (bundle / "models").mkdir()
    (bundle / "models" / "model.pt").write_bytes(b"weights")  # hashed into large_files.yml, not packed
    archive = pack_bundle(
        "lightm_unet",
        str(tmp_path / "out"),
        weights_url="https://example.org/{name}/{version}/{file}",
        bundles_dir=tmp_path / "bundles",
    )
    assert archive.name == "lightm_unet_v0.1.0.zip"
    with zipfile.ZipFile(archive) as z:
        assert (
            all(n.startswith("lightm_unet/") for n in z.namelist())
            and "lightm_unet/models/model.pt" not in z.namelist()
        )
    download(name="lightm_unet", url=archive.resolve().as_uri(), bundle_dir=str(tmp_path / "zoo"), progress=False)
    unpacked = tmp_path / "zoo" / "lightm_unet"
    large = yaml.safe_load((unpacked / "large_files.yml").read_text())["large_files"]
    assert large == [
        {
            "path": "models/model.pt",
            "url": "https://example.org/lightm_unet/0.1.0/model.pt",
            "hash_val": hashlib.sha256(b"weights").hexdigest(),
            "hash_type": "sha256",
        }
    ]
    assert check_bundle(unpacked) == []
    verify_net_in_out(
        net_id="network_def",
        meta_file=str(unpacked / "configs" / "metadata.json"),
        config_file=str(unpacked / "configs" / "inference.json"),
        n=1,
        bundle_root=str(unpacked),
    )


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

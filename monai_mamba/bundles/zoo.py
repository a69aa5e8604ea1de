# Copyright (c) monai-mamba contributors. Licensed under the Apache License, Version 2.0.
"""The checks the MONAI model zoo runs on a submitted bundle, offline: layout, configs, metadata, README, sizes."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import yaml
from monai.bundle import ConfigParser

from monai_mamba.bundles.config_files import BASES_KEY, expand_config_files, release_config

__all__ = ["check_bundle", "release_files"]

README_SECTIONS = (
    "Model Overview",
    "Data",
    "Training configuration",
    "Performance",
    "MONAI Bundle Commands",
    "References",
    "License",
)
METADATA_KEYS = (
    "version",
    "changelog",
    "monai_version",
    "pytorch_version",
    "numpy_version",
    "required_packages_version",
    "task",
    "description",
    "authors",
    "copyright",
    "network_data_format",
)
TENSOR_KEYS = (
    "type",
    "format",
    "num_channels",
    "spatial_shape",
    "dtype",
    "value_range",
    "is_patch_data",
    "channel_def",
)
OUTPUT_FOLDERS = ("logs", "eval", "predictions", "demo", "__pycache__")
MODEL_FILES = ("model.pt", "model.ts", "plan.json")  # what models/ may hold (the weights come via large_files.yml)
SHIPPED_MODEL_FILES = ("plan.json",)  # what a release carries in models/ itself
MAX_FILE_BYTES = 25 * 1024 * 1024
PERSONAL_PATH = re.compile(r"/home/[A-Za-z]|/Users/[A-Za-z]|[A-Za-z]:\\Users\\")
# import roots of the configs -> the distribution that provides them (the rest: stdlib, numpy, torch, monai)
DISTRIBUTIONS = {
    "monai_mamba": "monai-mamba",
    "ignite": "pytorch-ignite",
    "nibabel": "nibabel",
    "itk": "itk",
    "yaml": "pyyaml",
    "fire": "fire",
    "numba": "numba",
    "tensorboard": "tensorboard",
}


def release_files(bundle_dir: str | Path) -> list[Path]:
    """The files of a bundle that belong in a release: ``configs/``, ``docs/``, ``LICENSE``, ``large_files.yml``
    and ``SHIPPED_MODEL_FILES`` (a MambaClinix plan) from ``models/``, relative to ``bundle_dir``; never weights
    (``large_files.yml`` says where they are), run outputs or caches."""
    bundle_dir = Path(bundle_dir)
    files = [Path("LICENSE")] if (bundle_dir / "LICENSE").is_file() else []
    if (bundle_dir / "large_files.yml").is_file():
        files.append(Path("large_files.yml"))
    for folder in ("configs", "docs"):
        files += sorted(
            p.relative_to(bundle_dir)
            for p in (bundle_dir / folder).rglob("*")
            if p.is_file() and "__pycache__" not in p.parts
        )
    files += [Path("models") / name for name in SHIPPED_MODEL_FILES if (bundle_dir / "models" / name).is_file()]
    return files


def _load_refusing_duplicate_keys(path: Path) -> None:
    """MONAI's own config loader with ``MONAI_FAIL_ON_DUPLICATE_CONFIG=1``: a duplicate key raises."""
    previous = os.environ.get("MONAI_FAIL_ON_DUPLICATE_CONFIG")
    os.environ["MONAI_FAIL_ON_DUPLICATE_CONFIG"] = "1"
    try:
        ConfigParser.load_config_file(str(path))
    finally:
        if previous is None:
            del os.environ["MONAI_FAIL_ON_DUPLICATE_CONFIG"]
        else:
            os.environ["MONAI_FAIL_ON_DUPLICATE_CONFIG"] = previous


def _check_metadata(meta: dict, imported: set[str]) -> list[str]:
    problems = [f"metadata.json: missing {key!r}" for key in METADATA_KEYS if key not in meta]
    if "version" in meta and meta["version"] not in meta.get("changelog", {}):
        problems.append(f"metadata.json: version {meta['version']} has no changelog entry")
    packages = meta.get("required_packages_version", {})
    for root in sorted(imported):
        if root in DISTRIBUTIONS and DISTRIBUTIONS[root] not in packages:
            problems.append(
                f"metadata.json: the configs import {root} but required_packages_version lacks {DISTRIBUTIONS[root]!r}"
            )
    for kind in ("inputs", "outputs"):
        tensors = meta.get("network_data_format", {}).get(kind, {})
        if not tensors:
            problems.append(f"metadata.json: network_data_format has no {kind}")
        for name, spec in tensors.items():
            problems += [f"metadata.json: {kind}.{name} lacks {key!r}" for key in TENSOR_KEYS if key not in spec]
            if "channel_def" in spec and len(spec["channel_def"]) != spec.get("num_channels"):
                problems.append(
                    f"metadata.json: {kind}.{name} names {len(spec['channel_def'])} channels in "
                    f"channel_def but num_channels is {spec.get('num_channels')}"
                )
    return problems


def _check_release_network(bundle_dir: Path) -> list[str]:
    """What a downloaded bundle needs to build its network: ``network_def`` of ``inference.json`` instantiates from
    the released files alone (a MambaClinix plan in ``models/``), and a shipped plan is not the demo's."""
    problems = []
    plan = bundle_dir / "models" / "plan.json"
    if plan.is_file() and json.loads(plan.read_text()).get("made_from", {}).get("demo"):
        problems.append(
            "models/plan.json was made from the generated demo data; release the plan of the run on your "
            "data (models/plan.json of that run)"
        )
    inference = bundle_dir / "configs" / "inference.json"
    if inference.is_file():
        parser = ConfigParser()
        try:
            parser.read_config(str(inference))
            parser.update({"bundle_root": str(bundle_dir)})
            parser.get_parsed_content("network_def")
        except Exception as error:  # anything that stops the zoo's verify_net_in_out
            messages = []
            while error is not None:
                messages.append(str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__)
                error = error.__cause__
            problems.append(
                f"configs/inference.json: network_def cannot be built from the released files: {messages[-1]}"
            )
    return problems


def check_bundle(bundle_dir: str | Path, release: bool = True) -> list[str]:
    """Everything that would make the model zoo refuse the bundle in ``bundle_dir``; an empty list when none.

    Checked: ``LICENSE``, ``configs/metadata.json``, ``configs/inference.json|yaml``, ``docs/README.md`` with the
    standard sections, ``docs/data_license.txt``; every config parses as JSON/YAML without duplicate keys;
    ``evaluate`` and ``multi_gpu_train`` configs merge over ``train``; the metadata has the keys of MONAI's
    schema, a changelog entry for its version, the input/output formats (channel names matching channel counts)
    and lists the packages the configs import; no file over 25 MB unless ``large_files.yml`` lists it; no personal
    paths in text files. Without ``release`` (a working copy) run outputs, ``models/`` included, are not looked at;
    with ``release`` (a packed bundle): no run outputs or caches (``logs/``, ``eval/``,
    ``predictions/``, ``demo/``, ``__pycache__``, other than ``MODEL_FILES`` in ``models/``), and the inference network
    builds from the released files alone, with no demo plan (``_check_release_network``).
    Not checked here: MONAI's JSON schema itself (``verify_metadata`` downloads it) and the network's input/output
    shapes (``verify_net_in_out``, run by the tests).
    """
    bundle_dir = Path(bundle_dir)
    if not (bundle_dir / "configs").is_dir():
        return [
            f"{bundle_dir} is not a bundle folder (no configs/ in it); give the folder that holds configs/, docs/ "
            "and LICENSE, e.g. bundles/lightm_unet."
        ]
    problems = []
    for required in ("LICENSE", "configs/metadata.json", "docs/README.md", "docs/data_license.txt"):
        if not (bundle_dir / required).is_file():
            problems.append(f"missing {required}")
    configs = sorted((bundle_dir / "configs").glob("*")) if (bundle_dir / "configs").is_dir() else []
    if not any(p.name in ("inference.json", "inference.yaml") for p in configs):
        problems.append("missing configs/inference.json (or .yaml)")
    imported: set[str] = set()
    for path in configs:
        if path.suffix not in (".json", ".yaml", ".yml"):
            continue
        try:
            _load_refusing_duplicate_keys(path)
            config = ConfigParser.load_config_file(str(path))
            text = (
                path.read_text() if BASES_KEY not in config else path.read_text() + yaml.safe_dump(release_config(path))
            )  # what it imports, its bases included
        except Exception as error:  # any parse error (the file or a base) is the finding
            problems.append(f"configs/{path.name}: does not parse: {str(error).splitlines()[0]}")
            continue
        imported |= set(re.findall(r"\$import ([A-Za-z_]\w*)", text)) | set(re.findall(r"\$from ([A-Za-z_]\w*)", text))
        imported |= set(re.findall(r"_target_\"?:\s*\"?([A-Za-z_]\w*)\.", text))
    for overlay in ("evaluate.yaml", "multi_gpu_train.yaml"):
        if (bundle_dir / "configs" / overlay).is_file():
            try:
                parser = ConfigParser()
                parser.read_config(
                    expand_config_files([bundle_dir / "configs" / "train.yaml", bundle_dir / "configs" / overlay])
                )
            except Exception as error:
                problems.append(f"configs/{overlay} does not merge over train.yaml: {str(error).splitlines()[0]}")
    if (bundle_dir / "configs" / "metadata.json").is_file():
        problems += _check_metadata(json.loads((bundle_dir / "configs" / "metadata.json").read_text()), imported)
    if (bundle_dir / "docs" / "README.md").is_file():
        headings = set(re.findall(r"^##\s+(.+?)\s*$", (bundle_dir / "docs" / "README.md").read_text(), re.M))
        problems += [f"docs/README.md: no '## {s}' section" for s in README_SECTIONS if s not in headings]
    if release:
        problems += _check_release_network(bundle_dir)
    large = set()
    if (bundle_dir / "large_files.yml").is_file():
        large = {entry["path"] for entry in yaml.safe_load((bundle_dir / "large_files.yml").read_text())["large_files"]}
    for root, folders, names in os.walk(bundle_dir):
        relative_root = Path(root).relative_to(bundle_dir)
        if release:
            for folder in folders:
                if folder in OUTPUT_FOLDERS:
                    problems.append(f"{relative_root / folder}/: run outputs or caches do not belong in a release")
            if relative_root == Path("models"):
                problems += [
                    f"models/{n}: not a release file (only {', '.join(MODEL_FILES)})"
                    for n in names
                    if n not in MODEL_FILES
                ]
        folders[:] = [
            f for f in folders if f not in OUTPUT_FOLDERS and (release or relative_root != Path(".") or f != "models")
        ]  # a working copy: outputs ignored
        for name in names + [f for f in folders if (Path(root) / f).is_symlink()]:
            path, relative = Path(root) / name, (relative_root / name).as_posix()
            if path.is_symlink():
                problems.append(
                    f"{relative}: a symbolic link (to {os.readlink(path)}); a release holds plain files only"
                )
                continue
            if path.stat().st_size > MAX_FILE_BYTES and relative not in large:
                problems.append(f"{relative}: over 25 MB and not in large_files.yml")
            if path.suffix in (".json", ".yaml", ".yml", ".md", ".txt", ".conf") and PERSONAL_PATH.search(
                path.read_text(errors="ignore")
            ):
                problems.append(f"{relative}: contains a personal path")
    return problems

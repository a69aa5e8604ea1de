# Copyright (c) monai-mamba contributors. Licensed under the Apache License, Version 2.0.
"""Pack a bundle of this repository into a model-zoo zip: ``<name>/`` with its release files and a
``large_files.yml`` that says where the released weights live (their URL and SHA-256), with the metrics an evaluation
of those weights measured in its ``metadata.json``."""

from __future__ import annotations

import json
import logging
import re
import shutil
import tempfile
import zipfile
from pathlib import Path

import yaml
from monai.bundle import ConfigParser

from monai_mamba.bundles.config_files import BASES_KEY, release_config
from monai_mamba.bundles.zoo import check_bundle, release_files
from monai_mamba.handlers.evaluation_record import EVALUATION_RECORD, file_sha256
from monai_mamba.handlers.trained_model_loader import training_command

__all__ = ["large_file_entry", "pack_bundle"]

logger = logging.getLogger(__name__)

BUNDLES = Path(__file__).resolve().parents[2] / "bundles"
LARGE_MODEL_FILES = ("model.pt", "model.ts")  # released through large_files.yml (model.ts: the traced TorchScript)
_DEMO_LINE = re.compile(r"^demo:.*$", re.M)
_RELEASE_DEMO = (
    "demo: false             # a release runs on your data (--dataset_dir); --demo true for the generated demo"
)


_HEADER = (
    "# {name} v{version}, released configuration: {file} merged with the shared blocks it names in the "
    "repository\n# (python -m monai_mamba.bundles pack); docs/README.md explains the settings.\n"
)


def _local_bases(configs: Path) -> set[Path]:
    """The bundle's own config files that are only bases of its other configs (merged into them, not shipped)."""
    named = set()
    for path in configs.glob("*"):
        if path.suffix in (".json", ".yaml", ".yml") and path.name != "metadata.json":
            config = ConfigParser.load_config_file(str(path))
            named |= {(path.parent / base).resolve() for base in config.get(BASES_KEY, [])}
    return {p for p in named if p.parent == configs.resolve()}


def _write_release_config(source: Path, target: Path, name: str, version: str) -> None:
    """``target``: ``source`` alone when it names no bases, else its merge with them (``release_config``)."""
    if BASES_KEY not in ConfigParser.load_config_file(str(source)):
        shutil.copy2(source, target)
        return
    merged = release_config(source)
    if source.suffix == ".json":
        target.write_text(json.dumps(merged, indent=4) + "\n")
    else:
        header = _HEADER.format(name=name, version=version, file=source.name)
        target.write_text(header + yaml.safe_dump(merged, sort_keys=False, width=float("inf"), allow_unicode=True))


def _configure_for_release(staged: Path) -> None:
    """A released bundle runs on the user's data: ``demo`` is false in its configs (MONAI Label and the zoo run them
    without ``--dataset_dir``), so the paper-scale sizes apply and outputs go to ``models/``, next to the released
    weights and plan."""
    train = staged / "configs" / "train.yaml"
    if train.is_file() and _DEMO_LINE.search(train.read_text()):
        train.write_text(_DEMO_LINE.sub(_RELEASE_DEMO, train.read_text(), count=1))
    inference = staged / "configs" / "inference.json"
    if inference.is_file():
        config = json.loads(inference.read_text())
        if "demo" in config:
            config["demo"] = False
            inference.write_text(json.dumps(config, indent=4) + "\n")


def large_file_entry(path: str, url: str, local: Path | None = None) -> dict[str, str]:
    """An entry of the zoo's ``large_files.yml``: the file ``path`` of the bundle is downloaded from ``url``; with its
    SHA-256 when the file is at ``local``."""
    entry = {"path": path, "url": url, "hash_val": "", "hash_type": ""}
    if local is not None and local.is_file():
        entry["hash_val"], entry["hash_type"] = file_sha256(local), "sha256"
    return entry


def _released_metrics(source: Path) -> dict:
    """``eval_metrics`` and ``eval_data`` for the metadata from ``eval/evaluation.json``, which must be an evaluation
    of the ``models/model.pt`` being released (same SHA-256)."""
    record_path, model = source / "eval" / EVALUATION_RECORD, source / "models" / "model.pt"
    configs = [str(source / "configs" / "train.yaml"), str(source / "configs" / "evaluate.yaml")]
    evaluate = training_command(configs, {"dataset_dir": "DIR"})
    if not record_path.is_file():
        raise ValueError(
            f"{model} has not been evaluated ({record_path} is missing): a release states the metrics of its weights. "
            f"Evaluate it first ({evaluate}, with your task's overlays), or pack without --weights_url to release the "
            "configs alone."
        )
    record = json.loads(record_path.read_text())
    if record.get("model_sha256") != file_sha256(model):
        raise ValueError(
            f"{record_path} scored another model than {model} (SHA-256 differs: it was trained or replaced since). "
            f"Evaluate this one ({evaluate}), then pack again."
        )
    metrics = {k: round(v, 4) for k, v in record["metrics"].items() if v is not None}
    data = {k: record[k] for k in ("dataset", "split", "cases")}
    return {"eval_metrics": metrics, "eval_data": data}


def pack_bundle(name: str, output_dir: str = ".", weights_url: str = "", bundles_dir: str | Path = BUNDLES) -> Path:
    """Write ``<output_dir>/<name>_v<version>.zip`` (the zoo's naming), holding ``<name>/`` with the bundle's
    release files (``monai_mamba.bundles.zoo.release_files``: configs, docs, LICENSE, a MambaClinix plan; every config
    that names ``bases`` written as one standalone file, ``release_config``) and a
    ``large_files.yml``. The released configs have ``demo: false`` (``_configure_for_release``). The packed folder
    must pass ``check_bundle`` (release checks: its inference network builds from the released files, no demo plan).

    Weights are released only with a ``weights_url`` (where you will upload them; ``{name}``, ``{version}`` and
    ``{file}`` are filled in): ``large_files.yml`` then lists ``models/model.pt`` (and ``models/model.ts``, a traced
    TorchScript, when there) at that URL with its SHA-256, which ``monai.bundle download_large_files`` checks, and the
    metadata's ``eval_metrics`` are the metrics of ``eval/evaluation.json`` (``evaluate.yaml`` writes it), which must
    have scored that very ``model.pt``; ``eval_data`` names the data set, split and number of cases. Without a
    ``weights_url`` the release holds the configs alone: no large-file entry, ``eval_metrics`` ``{}``.

    Unpack with ``python -m monai.bundle download --name <name> --url file:///path/to/<name>_v<version>.zip
    --bundle_dir DIR`` (or any unzip); ``python -m monai.bundle download_large_files --bundle_path DIR/<name>``
    then fetches the weights.

    Raises:
        FileNotFoundError: no bundle ``name``, or a ``weights_url`` but no ``models/model.pt``.
        ValueError: the packed bundle fails the zoo checks (listed); ``model.pt`` has no evaluation of its own.
    """
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]*", name) or ".." in name:
        raise ValueError(
            f"bundle name {name!r}: a bundle is named by its folder in {bundles_dir} (letters, digits, "
            "'_', '-', '.'), without path separators or '..'."
        )
    source = Path(bundles_dir) / name
    if not (source / "configs" / "metadata.json").is_file():
        available = sorted(p.name for p in Path(bundles_dir).iterdir() if (p / "configs").is_dir())
        raise FileNotFoundError(f"no bundle {name!r} in {bundles_dir}; available: {available}.")
    version = json.loads((source / "configs" / "metadata.json").read_text())["version"]
    released = {"eval_metrics": {}}
    if weights_url:
        if not (source / "models" / "model.pt").is_file():
            raise FileNotFoundError(
                f"--weights_url given but {source / 'models' / 'model.pt'} does not exist: train the bundle first, "
                "or pack without --weights_url to release the configs alone."
            )
        released = _released_metrics(source)
    with tempfile.TemporaryDirectory() as temporary:
        staged = Path(temporary) / name
        bases_only = _local_bases(source / "configs")
        for relative in release_files(source):
            linked = [
                source / Path(*relative.parts[: i + 1])
                for i in range(len(relative.parts))
                if (source / Path(*relative.parts[: i + 1])).is_symlink()
            ]
            if linked:
                raise ValueError(
                    f"{linked[0]} is a symbolic link: a release holds plain files only (a link could ship "
                    "a file from outside the bundle); replace it by the file itself."
                )
            if (source / relative).resolve() in bases_only:
                continue
            (staged / relative).parent.mkdir(parents=True, exist_ok=True)
            if relative.parts[0] == "configs" and relative.suffix in (".json", ".yaml", ".yml"):
                _write_release_config(source / relative, staged / relative, name, version)
            else:
                shutil.copy2(source / relative, staged / relative)
        _configure_for_release(staged)
        metadata = staged / "configs" / "metadata.json"
        metadata.write_text(json.dumps({**json.loads(metadata.read_text()), **released}, indent=4) + "\n")
        entries = []
        for file in LARGE_MODEL_FILES if weights_url else ():
            local = source / "models" / file
            if local.is_file():
                url = weights_url.format(name=name, version=version, file=file)
                entries.append(large_file_entry(f"models/{file}", url, local))
        (staged / "large_files.yml").write_text(yaml.safe_dump({"large_files": entries}, sort_keys=False))
        if not entries:
            logger.info("%s: no --weights_url, so no weights in the release and eval_metrics {}", name)
        problems = check_bundle(staged)
        if problems:
            raise ValueError(f"bundle {name} fails the model-zoo checks:\n  - " + "\n  - ".join(problems))
        output = Path(output_dir) / f"{name}_v{version}.zip"
        output.parent.mkdir(parents=True, exist_ok=True)
        with zipfile.ZipFile(output, "w", zipfile.ZIP_DEFLATED) as archive:
            for path in sorted(staged.rglob("*")):
                if path.is_file():
                    archive.write(path, path.relative_to(Path(temporary)).as_posix())
    logger.info("packed %s v%s -> %s", name, version, output)
    return output

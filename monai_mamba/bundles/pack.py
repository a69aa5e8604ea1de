# Copyright (c) monai-mamba contributors. Licensed under the Apache License, Version 2.0.
"""Pack a bundle of this repository into a model-zoo zip: ``<name>/`` with its release files and a
``large_files.yml`` that says where the released weights live."""

from __future__ import annotations

import hashlib
import json
import logging
import re
import shutil
import tempfile
import zipfile
from pathlib import Path

import yaml

from monai_mamba.bundles.zoo import check_bundle, release_files

__all__ = ["DEFAULT_WEIGHTS_URL", "pack_bundle"]

logger = logging.getLogger(__name__)

BUNDLES = Path(__file__).resolve().parents[2] / "bundles"
DEFAULT_WEIGHTS_URL = "https://github.com/monai-mamba/monai-mamba/releases/download/{name}_v{version}/model.pt"


def pack_bundle(name: str, output_dir: str = ".", weights_url: str = DEFAULT_WEIGHTS_URL,
                bundles_dir: str | Path = BUNDLES) -> Path:
    """Write ``<output_dir>/<name>_v<version>.zip`` (the zoo's naming), holding ``<name>/`` with the bundle's
    release files (``monai_mamba.bundles.zoo.release_files``: configs, docs, LICENSE, a MambaClinix plan) and a
    ``large_files.yml`` whose ``models/model.pt`` entry points at ``weights_url`` (``{name}`` and ``{version}``
    filled in; with the file's SHA-256 when ``models/model.pt`` exists locally). The packed folder must pass
    ``check_bundle``.

    Unpack with ``python -m monai.bundle download --name <name> --url file:///path/to/<name>_v<version>.zip
    --bundle_dir DIR`` (or any unzip); ``python -m monai.bundle download_large_files --bundle_path DIR/<name>``
    then fetches the weights.

    Raises:
        FileNotFoundError: no bundle ``name``. ValueError: the packed bundle fails the zoo checks (listed).
    """
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]*", name) or ".." in name:
        raise ValueError(f"bundle name {name!r}: a bundle is named by its folder in {bundles_dir} (letters, digits, "
                         "'_', '-', '.'), without path separators or '..'.")
    source = Path(bundles_dir) / name
    if not (source / "configs" / "metadata.json").is_file():
        available = sorted(p.name for p in Path(bundles_dir).iterdir() if (p / "configs").is_dir())
        raise FileNotFoundError(f"no bundle {name!r} in {bundles_dir}; available: {available}.")
    version = json.loads((source / "configs" / "metadata.json").read_text())["version"]
    with tempfile.TemporaryDirectory() as temporary:
        staged = Path(temporary) / name
        for relative in release_files(source):
            linked = [source / Path(*relative.parts[: i + 1]) for i in range(len(relative.parts))
                      if (source / Path(*relative.parts[: i + 1])).is_symlink()]
            if linked:
                raise ValueError(f"{linked[0]} is a symbolic link: a release holds plain files only (a link could ship "
                                 "a file from outside the bundle); replace it by the file itself.")
            (staged / relative).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source / relative, staged / relative)
        entry = {"path": "models/model.pt", "url": weights_url.format(name=name, version=version),
                 "hash_val": "", "hash_type": ""}
        if (source / "models" / "model.pt").is_file():
            entry["hash_val"] = hashlib.sha256((source / "models" / "model.pt").read_bytes()).hexdigest()
            entry["hash_type"] = "sha256"
        (staged / "large_files.yml").write_text(yaml.safe_dump({"large_files": [entry]}, sort_keys=False))
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

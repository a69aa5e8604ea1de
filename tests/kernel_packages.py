# Copyright (c) monai-mamba contributors. Licensed under the Apache License, Version 2.0.
"""The real Python interfaces of mamba-ssm and causal-conv1d on CPU, for the contract tests.

Their source distributions (the ends of the ``cuda`` extra's ranges, checked by SHA-256) come from the package index
once and are kept in ``$MONAI_MAMBA_TEST_CACHE`` (default ``~/.cache/monai-mamba-tests``); a folder that already
holds the ``.tar.gz`` files can be named with ``$MONAI_MAMBA_KERNEL_SDISTS`` on a machine without the index. Only
their Python package folders are used: they are put on ``sys.path`` with ``kernel_standins/`` standing in for the
compiled extensions, and two modules are bypassed: ``mamba_ssm/__init__.py`` (it imports Mamba2 and the language
model, which need Triton and transformers) and the Triton layer norm that ``selective_scan_interface`` imports for its
fused RMS norm, which the selective scan never calls.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import sys
import tarfile
import types
import urllib.request
from pathlib import Path

import pytest

from monai_mamba.ops.kernel_packages import kernel_package

STANDINS = Path(__file__).parent / "kernel_standins"

# the `cuda` extra's lowest and highest versions (setup.cfg), their sdists' SHA-256 as the index lists them
VERSIONS = {
    "lowest": {
        "mamba-ssm": ("2.2.2", "009de2d74decd847d463ae9cdbc1f9419f454ca6bf9beab36ed5243f01ea44d5"),
        "causal-conv1d": ("1.4.0", "e741fe453d708bc19be1ed71ff628cb2ed1a4b1be0e4e2fa574d09ce9a4970c3"),
    },
    "highest": {
        "mamba-ssm": ("2.3.2.post1", "104cc47e9101e5401a675fa2b784f2952b9b037f3b1dd83b5ac544394e95d028"),
        "causal-conv1d": ("1.7.0", "3202758494eaa7b597ce1c282dfa188889506bfcb92cad3c407d26736bfcd32b"),
    },
}
INDEX = "https://pypi.org/simple"
MODULE_PREFIXES = ("mamba_ssm", "causal_conv1d", "selective_scan_cuda", "causal_conv1d_cuda")


def _cache() -> Path:
    return Path(os.environ.get("MONAI_MAMBA_TEST_CACHE", Path.home() / ".cache" / "monai-mamba-tests"))


def _download(name: str, version: str, sha256: str, target: Path) -> None:
    """The sdist from the index's JSON API (PEP 691), checked against ``sha256``."""
    request = urllib.request.Request(f"{INDEX}/{name}/", headers={"Accept": "application/vnd.pypi.simple.v1+json"})
    with urllib.request.urlopen(request, timeout=60) as response:
        files = json.load(response)["files"]
    filename = f"{name.replace('-', '_')}-{version}.tar.gz"
    url = next(f["url"] for f in files if f["filename"] == filename)
    with urllib.request.urlopen(url, timeout=120) as response:
        data = response.read()
    if hashlib.sha256(data).hexdigest() != sha256:
        raise RuntimeError(f"{filename} from {url} does not have the pinned SHA-256")
    target.write_bytes(data)


def source_folder(name: str, version: str, sha256: str) -> Path:
    """A folder holding the Python package of ``name==version`` (from its sdist), made once."""
    module = name.replace("-", "_")
    root = _cache() / f"{module}-{version}"
    if (root / module).is_dir():
        return root
    archive = Path(os.environ.get("MONAI_MAMBA_KERNEL_SDISTS", _cache())) / f"{module}-{version}.tar.gz"
    if not archive.exists():
        archive.parent.mkdir(parents=True, exist_ok=True)
        try:
            _download(name, version, sha256, archive)
        except OSError as error:
            message = (
                f"cannot fetch the {name} {version} sdist ({error}); set MONAI_MAMBA_KERNEL_SDISTS to a folder with it"
            )
            if os.environ.get("CI"):
                raise RuntimeError(message) from error
            pytest.skip(message)
    if hashlib.sha256(archive.read_bytes()).hexdigest() != sha256:
        raise RuntimeError(f"{archive} does not have the pinned SHA-256 of {name} {version}")
    staging = root.with_suffix(".partial")
    with tarfile.open(archive) as tar:
        prefix = f"{module}-{version}/{module}/"
        members = [m for m in tar.getmembers() if m.name.startswith(prefix) and m.name.endswith(".py")]
        for member in members:
            member.name = member.name[len(f"{module}-{version}/") :]
        tar.extractall(staging, members=members, filter="data")
    staging.rename(root)
    return root


def _forget_kernel_modules() -> None:
    for name in [m for m in sys.modules if m.split(".")[0] in MODULE_PREFIXES]:
        del sys.modules[name]
    kernel_package.cache_clear()


@contextlib.contextmanager
def kernel_packages_with_standins(which: str):
    """mamba-ssm and causal-conv1d at the ``which`` (``"lowest"``/``"highest"``) pinned versions, importable with the
    stand-in extensions; everything is undone on exit."""
    versions = VERSIONS[which]
    mamba_root = source_folder("mamba-ssm", *versions["mamba-ssm"])
    conv_root = source_folder("causal-conv1d", *versions["causal-conv1d"])
    saved_path = list(sys.path)
    _forget_kernel_modules()
    sys.path[:0] = [str(STANDINS), str(mamba_root), str(conv_root)]
    package = types.ModuleType("mamba_ssm")
    package.__path__ = [str(mamba_root / "mamba_ssm")]
    package.__version__ = versions["mamba-ssm"][0]
    layer_norm = types.ModuleType("mamba_ssm.ops.triton.layer_norm")
    layer_norm._layer_norm_fwd = None  # Triton's fused norm: imported by the interface, never called by the scan
    sys.modules.update({"mamba_ssm": package, "mamba_ssm.ops.triton.layer_norm": layer_norm})
    try:
        yield {name: version for name, (version, _) in versions.items()}
    finally:
        sys.path[:] = saved_path
        _forget_kernel_modules()

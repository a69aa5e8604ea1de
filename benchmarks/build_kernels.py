# Copyright (c) monai-mamba contributors. Licensed under the Apache License, Version 2.0.
"""Build mamba-ssm's and causal-conv1d's CUDA extensions from their source distributions for this machine's GPU only.

    python benchmarks/build_kernels.py --sdists=/path/with/the/tar.gz --target=/tmp/kernels
    export PYTHONPATH=/tmp/kernels:$PYTHONPATH      # mamba_ssm, causal_conv1d and their compiled extensions

``pip install mamba-ssm --no-build-isolation`` compiles the selective scan for every architecture its ``setup.py``
lists (ten with CUDA 13: sm_75 ... sm_121, whatever ``TORCH_CUDA_ARCH_LIST`` says), which takes the better part of an
hour on 16 cores. This compiles the same sources with the same ``nvcc`` flags for the visible GPU's architecture alone
(``torch.utils.cpp_extension.load``, ninja, ``MAX_JOBS`` parallel jobs), both packages at once, in a few minutes,
into ``--target``: the packages' Python folders from the sdists and ``selective_scan_cuda`` / ``causal_conv1d_cuda``
beside them. The sdists must be versions in the ``cuda`` extra's ranges (``KERNEL_PACKAGES``); offline, take them
from ``pip download --no-deps --no-binary=:all: "mamba-ssm>=2.2.2,<2.4" "causal-conv1d>=1.4,<1.8"`` made elsewhere.
"""

from __future__ import annotations

import multiprocessing
import os
import shutil
import sys
import tarfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import fire
import torch
from packaging.specifiers import SpecifierSet

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from monai_mamba.ops.kernel_packages import KERNEL_PACKAGES  # noqa: E402

# extension -> (distribution, its Python package, C++/CUDA sources and include folder inside the sdist, C++ standard)
EXTENSIONS = {
    "selective_scan_cuda": (
        "mamba-ssm",
        "mamba_ssm",
        ["selective_scan.cpp"]
        + [f"selective_scan_fwd_{t}.cu" for t in ("fp32", "fp16", "bf16")]
        + [f"selective_scan_bwd_{t}_{k}.cu" for t in ("fp32", "fp16", "bf16") for k in ("real", "complex")],
        "csrc/selective_scan",
    ),
    "causal_conv1d_cuda": (
        "causal-conv1d",
        "causal_conv1d",
        ["causal_conv1d.cpp", "causal_conv1d_fwd.cu", "causal_conv1d_bwd.cu", "causal_conv1d_update.cu"],
        "csrc",
    ),
}
# the packages' own nvcc flags (their setup.py), less the list of -gencode architectures
NVCC_FLAGS = [
    "-O3",
    "-std=c++17",
    "-U__CUDA_NO_HALF_OPERATORS__",
    "-U__CUDA_NO_HALF_CONVERSIONS__",
    "-U__CUDA_NO_BFLOAT16_OPERATORS__",
    "-U__CUDA_NO_BFLOAT16_CONVERSIONS__",
    "-U__CUDA_NO_BFLOAT162_OPERATORS__",
    "-U__CUDA_NO_BFLOAT162_CONVERSIONS__",
    "--expt-relaxed-constexpr",
    "--expt-extended-lambda",
    "--use_fast_math",
    "-lineinfo",
]


def _unpack(sdists: Path, distribution: str, package: str, work: Path) -> Path:
    """The sdist of ``distribution`` in ``sdists``, unpacked under ``work``; its version must be in the range."""
    archives = sorted(sdists.glob(f"{package}-*.tar.gz"))
    if len(archives) != 1:
        raise FileNotFoundError(f"need exactly one {package}-<version>.tar.gz in {sdists}, found {archives}")
    version = archives[0].name[len(package) + 1 : -len(".tar.gz")]
    supported = KERNEL_PACKAGES[distribution][2]
    if version not in SpecifierSet(supported):
        raise ValueError(f"{archives[0].name}: monai-mamba supports {distribution}{supported}")
    with tarfile.open(archives[0]) as archive:
        archive.extractall(work, filter="data")
    return work / archives[0].name[: -len(".tar.gz")]


def _build(extension: str, source: Path, target: Path) -> str:
    """Compile ``extension`` from the unpacked sdist ``source`` into ``target``; returns a line saying how long."""
    from torch.utils.cpp_extension import load

    _, package, files, csrc = EXTENSIONS[extension]
    start = time.perf_counter()
    build = target / "build" / extension
    build.mkdir(parents=True, exist_ok=True)
    load(
        name=extension,
        sources=[str(source / csrc / name) for name in files],
        extra_cflags=["-O3", "-std=c++17"],
        extra_cuda_cflags=NVCC_FLAGS,
        extra_include_paths=[str(source / csrc)],
        build_directory=str(build),
        verbose=False,
    )
    shutil.copy2(next(build.glob(f"{extension}*.so")), target)
    shutil.copytree(source / package, target / package, dirs_exist_ok=True)
    return f"{extension}: built in {time.perf_counter() - start:.0f} s from {source.name}"


def main(sdists: str, target: str, jobs: int | None = None) -> None:
    """Build both extensions from the sdists in ``sdists`` into ``target`` (``jobs``: ninja's parallel jobs each)."""
    if not torch.cuda.is_available():
        raise SystemExit("build_kernels: no CUDA device visible; it builds for the visible GPU's architecture")
    major, minor = torch.cuda.get_device_capability()
    os.environ["TORCH_CUDA_ARCH_LIST"] = f"{major}.{minor}"
    os.environ.setdefault("MAX_JOBS", str(jobs or os.cpu_count()))
    target_path = Path(target).resolve()
    work = target_path / "src"
    work.mkdir(parents=True, exist_ok=True)
    sources = {
        extension: _unpack(Path(sdists), distribution, package, work)
        for extension, (distribution, package, _, _) in EXTENSIONS.items()
    }
    print(f"build_kernels: sm_{major}{minor}, torch {torch.__version__}, CUDA {torch.version.cuda}", flush=True)
    with ProcessPoolExecutor(len(sources), mp_context=multiprocessing.get_context("spawn")) as pool:
        for line in pool.map(_build, sources, sources.values(), [target_path] * len(sources)):
            print(line, flush=True)


if __name__ == "__main__":
    fire.Fire(main)

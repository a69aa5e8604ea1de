# Copyright (c) monai-mamba contributors. Licensed under the Apache License, Version 2.0.
"""The backend report, in the spirit of MONAI's ``print_config``: versions, the device, and for every op which backend
will run here and why not the faster one.

    python -m monai_mamba.info                 # for the default device (CUDA when there is one)
    python -m monai_mamba.info --device cpu
"""

from __future__ import annotations

import argparse
import importlib.metadata
import platform

import torch

from monai_mamba.ops.backends import SCAN_BACKEND_ENV, requested_backend
from monai_mamba.ops.kernel_packages import KERNEL_PACKAGES, kernel_package

__all__ = ["backend_report", "print_backend_report"]


def _version(distribution: str) -> str:
    try:
        return importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


def _device_line(device: torch.device) -> str:
    if device.type == "cuda":
        name, capability = torch.cuda.get_device_name(device), torch.cuda.get_device_capability(device)
        return f"{device} ({name}, CUDA {torch.version.cuda}, compute capability {capability[0]}.{capability[1]})"
    if device.type == "cpu":
        return f"cpu ({platform.processor() or platform.machine()}, {torch.get_num_threads()} threads)"
    return str(device)


def _numba_reason() -> str | None:
    try:
        import numba  # noqa: F401
    except Exception as error:
        return f"{type(error).__name__}: {error}"
    return None


def _op_lines(op: str, package_name: str, device: torch.device) -> list[str]:
    """Which backend ``op`` takes on ``device`` (float32 tensors), and why not the faster ones."""
    from monai_mamba.ops.causal_conv1d import causal_conv1d_backend
    from monai_mamba.ops.scan_dispatch import resolve_scan_backend

    package = kernel_package(package_name)
    if op == "selective scan":
        chosen = resolve_scan_backend(device, dtype=torch.float32)
    else:
        chosen = causal_conv1d_backend(torch.empty(1, 8, 1, device=device), 4)
    names = {
        "cuda": f"cuda ({package_name} {package.version})",
        "cpu": "cpu (numba kernel)",
        "torch": "torch (plain PyTorch)",
        "ref": "ref (reference loop)",
    }
    lines = [f"{op}: {names[chosen]}"]
    if chosen != "cuda":
        if package.error is not None:
            lines.append(f"  not cuda: {package_name} does not import ({package.error})")
        elif device.type != "cuda":
            lines.append(f"  not cuda: {package_name} imports, but the tensors are on {device.type}")
    if chosen in ("torch", "ref") and device.type == "cpu":
        reason = _numba_reason()
        if reason is not None:
            lines.append(f"  not cpu: numba does not import ({reason})")
        elif chosen != "torch" or requested_backend() != "auto":
            lines.append(f"  not cpu: ${SCAN_BACKEND_ENV} or the backend argument asks for {requested_backend()!r}")
    if chosen != "cuda" and package.error is not None and torch.cuda.is_available():
        lines.append(f"  fix: {package.fix}")
    return lines


def backend_report(device: str | torch.device | None = None) -> str:
    """The report as text: versions, device, and the backend of each op on ``device`` (default: CUDA if present)."""
    device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
    import monai_mamba

    versions = {
        "monai-mamba": monai_mamba.__version__,
        "python": platform.python_version(),
        "torch": torch.__version__,
        "monai": _version("monai"),
        "numba": _version("numba"),
    }
    for name, (_, _, supported) in KERNEL_PACKAGES.items():
        package = kernel_package(name)
        installed = package.version or _version(name)
        versions[name] = f"{installed} (cuda extra: {supported})"
    lines = [f"{name}: {version}" for name, version in versions.items()]
    lines.append(f"device: {_device_line(device)}; CUDA available: {torch.cuda.is_available()}")
    lines.append(f"requested backend: {requested_backend()} (${SCAN_BACKEND_ENV} or a layer's scan_backend)")
    lines += _op_lines("selective scan", "mamba-ssm", device)
    lines += _op_lines("causal conv1d", "causal-conv1d", device)
    return "\n".join(lines)


def print_backend_report(device: str | None = None) -> None:
    print(backend_report(device))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m monai_mamba.info", description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", default=None, help="cpu, cuda or cuda:N (default: cuda when available)")
    print_backend_report(parser.parse_args(argv).device)


if __name__ == "__main__":
    main()

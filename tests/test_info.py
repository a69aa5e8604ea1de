# Copyright (c) monai-mamba contributors. Licensed under the Apache License, Version 2.0.
"""``python -m monai_mamba.info`` and the one WARNING a GPU user gets when a kernel package does not import."""

from __future__ import annotations

import logging
import subprocess
import sys

import torch

from monai_mamba.info import backend_report
from monai_mamba.ops.kernel_packages import kernel_package


def test_the_report_runs_as_a_module_and_names_versions_device_and_backends():
    result = subprocess.run(
        [sys.executable, "-m", "monai_mamba.info", "--device", "cpu"], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    report = result.stdout
    assert f"torch: {torch.__version__}" in report and "monai: " in report and "numba: " in report
    assert "mamba-ssm: not installed (cuda extra: >=2.2.2,<2.4)" in report
    assert "device: cpu (" in report
    assert "selective scan: cpu (numba kernel)" in report and "causal conv1d: cpu (numba kernel)" in report
    assert "not cuda: mamba-ssm does not import (ModuleNotFoundError: No module named 'mamba_ssm')" in report


def test_the_report_says_why_the_torch_backend_runs(monkeypatch):
    monkeypatch.setenv("MONAI_MAMBA_SCAN_BACKEND", "torch")
    report = backend_report("cpu")
    assert "selective scan: torch (plain PyTorch)" in report
    assert "not cpu: $MONAI_MAMBA_SCAN_BACKEND or the backend argument asks for 'torch'" in report


def test_a_kernel_package_that_does_not_import_on_a_gpu_machine_warns_once_with_the_fix(monkeypatch, caplog):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    kernel_package.cache_clear()
    try:
        with caplog.at_level(logging.WARNING, logger="monai_mamba.ops.kernel_packages"):
            for _ in range(3):
                assert kernel_package("mamba-ssm").function is None
    finally:
        kernel_package.cache_clear()
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1, [r.getMessage() for r in warnings]
    message = warnings[0].getMessage()
    assert "mamba-ssm does not import (ModuleNotFoundError: No module named 'mamba_ssm')" in message
    assert 'Fix: pip install "mamba-ssm>=2.2.2,<2.4" --no-build-isolation' in message


def test_without_a_gpu_a_missing_kernel_package_is_no_warning(caplog):
    kernel_package.cache_clear()
    with caplog.at_level(logging.WARNING, logger="monai_mamba.ops.kernel_packages"):
        assert kernel_package("causal-conv1d").function is None
    assert not caplog.records


def test_the_reported_ranges_are_the_cuda_extras():
    """``KERNEL_PACKAGES`` (what the report and the warning's fix name) and setup.cfg's ``cuda`` extra pin the same
    versions: the two are written separately, so they are checked together."""
    import configparser
    from pathlib import Path

    from monai_mamba.ops.kernel_packages import KERNEL_PACKAGES

    config = configparser.ConfigParser()
    config.read(Path(__file__).resolve().parents[1] / "setup.cfg")
    extra = sorted(line.strip() for line in config["options.extras_require"]["cuda"].splitlines() if line.strip())
    assert extra == sorted(f"{name}{supported}" for name, (_, _, supported) in KERNEL_PACKAGES.items())

# Copyright (c) monai-mamba contributors. Licensed under the Apache License, Version 2.0.
"""A refusal ends a command-line run with its message as the last line, however MONAI wrapped it; other errors keep
Python's traceback. (A real ``monai.bundle run`` refusal: ``test_a_second_training_run_in_the_same_folder_fails_fast``
in ``test_bundle_runs.py``.)"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from monai_mamba.bundles.overrides import UnknownOverrideError
from monai_mamba.data.checks import DataCheckError
from monai_mamba.data.finite import NonFiniteImageError
from monai_mamba.errors import TRACEBACK_ENV, ActionableError, actionable_cause
from monai_mamba.handlers.resumable_checkpoint import RunMismatchError
from monai_mamba.handlers.run_lock import RunFolderBusyError
from monai_mamba.handlers.stop_on_non_finite_loss import NonFiniteLossError
from monai_mamba.planning.plan_file import PlanMismatchError

# what MONAI's ConfigExpression.evaluate does with any error of an expression
WRAPPED = """
from monai_mamba.errors import show_actionable_errors
from monai_mamba.data.checks import DataCheckError
show_actionable_errors()
show_actionable_errors()  # idempotent: one message
try:
    raise {error}
except Exception as error:
    raise RuntimeError("Failed to evaluate ConfigExpression: $@train#trainer.run()") from error
"""


@pytest.mark.parametrize(
    "kind",
    [
        UnknownOverrideError,
        DataCheckError,
        NonFiniteImageError,
        RunMismatchError,
        RunFolderBusyError,
        NonFiniteLossError,
        PlanMismatchError,
    ],
)
def test_refusals_are_actionable_also_when_wrapped(kind):
    error = kind("what is wrong; the fix")
    assert isinstance(error, ActionableError)
    try:
        try:
            raise error
        except Exception as inner:
            raise RuntimeError("Failed to evaluate ConfigExpression") from inner
    except RuntimeError as wrapped:
        assert actionable_cause(wrapped) is error


def _run(error: str, **env) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", WRAPPED.format(error=error)], capture_output=True, text=True, env=env or None, timeout=60
    )


def test_an_uncaught_refusal_prints_its_message_alone_as_the_last_line():
    result = _run('DataCheckError("label 7 out of range in case_1.nii.gz; set num_classes: 8")')
    assert result.returncode == 1
    assert result.stderr.splitlines() == ["error: label 7 out of range in case_1.nii.gz; set num_classes: 8"]


def test_tracebacks_on_request_and_for_other_errors():
    env = dict(os.environ, **{TRACEBACK_ENV: "1"})
    result = _run('DataCheckError("bad label")', **env)
    lines = result.stderr.splitlines()
    assert result.returncode == 1 and "Traceback (most recent call last):" in lines and lines[-1] == "error: bad label"
    other = _run('ValueError("a bug")')
    assert other.returncode == 1 and other.stderr.splitlines()[-1].startswith("RuntimeError: Failed to evaluate")
    assert "error: " not in other.stderr.splitlines()[-1]

# Copyright (c) monai-mamba contributors. Licensed under the Apache License, Version 2.0.
"""Errors whose message names the problem and its fix, and how a command line shows them: the message alone.

A bundle run refuses to go on for reasons the user fixes (another run holds the folder, the checkpoint was trained with
other settings, a misspelled ``--setting``, a label out of range, a loss that became NaN). MONAI evaluates every
config expression inside ``ConfigExpression.evaluate``, which re-raises any error as ``RuntimeError: Failed to evaluate
ConfigExpression ...``; uncaught, Python prints both tracebacks and that line comes last. ``show_actionable_errors``
(called by ``monai_mamba.bundles.load_config``, the first step of every bundle config) makes an uncaught error that is,
or was raised from, an ``ActionableError`` end the process with ``error: <its message>`` as the last line and exit
status 1; ``MONAI_MAMBA_TRACEBACK=1`` prints the tracebacks first. Code that catches errors (a server, a test, a
notebook) sees the exceptions unchanged.
"""

from __future__ import annotations

import os
import sys

__all__ = ["ActionableError", "TRACEBACK_ENV", "actionable_cause", "show_actionable_errors"]

TRACEBACK_ENV = "MONAI_MAMBA_TRACEBACK"


class ActionableError(Exception):
    """Base (or mixin) of the errors whose message says what is wrong and what to do about it."""


def actionable_cause(error: BaseException | None) -> ActionableError | None:
    """``error`` or the first error in its chain (``raise ... from``, or raised while handling) that is actionable."""
    seen = set()
    while error is not None and id(error) not in seen:
        if isinstance(error, ActionableError):
            return error
        seen.add(id(error))
        error = error.__cause__ or error.__context__
    return None


def show_actionable_errors() -> None:
    """Install the hook that prints an uncaught actionable error's message as the last line (idempotent)."""
    if getattr(sys.excepthook, "_monai_mamba", False):
        return
    previous = sys.excepthook

    def hook(kind, error, trace):
        cause = actionable_cause(error)
        if cause is None or os.environ.get(TRACEBACK_ENV):
            previous(kind, error, trace)
        if cause is not None:
            print(f"error: {cause}", file=sys.stderr, flush=True)

    hook._monai_mamba = True
    sys.excepthook = hook

# Copyright (c) monai-mamba contributors. Licensed under the Apache License, Version 2.0.
"""Find the running bundle workflow and the folder of its configs; check that an output folder is new."""

from __future__ import annotations

import inspect
import os
from pathlib import Path

__all__ = ["bundle_root", "caller_locals", "config_dir", "new_output_folder", "running_workflow"]


def caller_locals(matches) -> dict | None:
    """The local variables of the nearest calling frame for which ``matches(frame)`` is true, else None."""
    frame = inspect.currentframe()
    try:
        while frame is not None:
            if matches(frame):
                return frame.f_locals
            frame = frame.f_back
    finally:
        del frame
    return None


def running_workflow():
    """The ``monai.bundle.ConfigWorkflow`` on the call stack (the one parsing the config), or None."""
    from monai.bundle import ConfigWorkflow

    found = caller_locals(lambda frame: isinstance(frame.f_locals.get("self"), ConfigWorkflow))
    return None if found is None else found["self"]


def config_dir(default: str = "configs") -> str:
    """The folder of the config files the running ``monai.bundle`` workflow read (absolute), else ``default``:
    where a command that runs another config of the same bundle finds it, whatever ``--bundle_root`` says."""
    workflow = running_workflow()
    return os.path.abspath(str(workflow.config_root_path) if workflow is not None else default)


def bundle_root(default: str = ".") -> str:
    """The bundle folder of the running ``monai.bundle`` workflow, else ``default``.

    MONAI resolves ``bundle_root: "."`` against the current directory, so a bundle run from elsewhere (e.g.
    ``python -m monai.bundle run --config_file bundles/lightm_unet/configs/train.yaml`` from the repository
    root) would write next to the caller. ``monai.bundle.ConfigWorkflow`` knows the folder of the config files it
    read; this looks it up on the call stack (``<bundle>/configs`` -> ``<bundle>``), so the bundle works from
    any directory and wherever it was unpacked. Outside a workflow (a plain ``ConfigParser``) it returns
    ``default``. An explicit ``--bundle_root`` override (as MONAI Label passes) takes precedence anyway.
    """
    workflow = running_workflow()
    if workflow is None:
        return os.path.abspath(default)
    configs = os.path.abspath(str(workflow.config_root_path))
    return os.path.dirname(configs) if os.path.basename(configs) == "configs" else configs


def new_output_folder(output: str | Path) -> Path:
    """``output`` as a Path, refused when it exists with something in it: commands that write a bundle never
    overwrite a user's files."""
    output = Path(output)
    if output.exists() and any(output.iterdir()):
        raise FileExistsError(f"{output} is not empty; give a new folder (nothing is overwritten).")
    return output

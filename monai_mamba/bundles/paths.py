# Copyright (c) monai-mamba contributors. Licensed under the Apache License, Version 2.0.
"""Find the folder of the bundle whose configs are being run."""

from __future__ import annotations

import inspect
import os

__all__ = ["bundle_root", "config_dir"]


def _running_workflow():
    """The ``monai.bundle.ConfigWorkflow`` on the call stack (the one parsing the config), or None."""
    from monai.bundle import ConfigWorkflow

    frame = inspect.currentframe()
    try:
        while frame is not None:
            owner = frame.f_locals.get("self")
            if isinstance(owner, ConfigWorkflow):
                return owner
            frame = frame.f_back
    finally:
        del frame
    return None


def config_dir(default: str = "configs") -> str:
    """The folder of the config files the running ``monai.bundle`` workflow read (absolute), else ``default``:
    where a command that runs another config of the same bundle finds it, whatever ``--bundle_root`` says."""
    workflow = _running_workflow()
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
    workflow = _running_workflow()
    if workflow is None:
        return os.path.abspath(default)
    configs = os.path.abspath(str(workflow.config_root_path))
    return os.path.dirname(configs) if os.path.basename(configs) == "configs" else configs

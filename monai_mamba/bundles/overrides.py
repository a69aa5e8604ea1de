# Copyright (c) monai-mamba contributors. Licensed under the Apache License, Version 2.0.
"""Catch command-line overrides that name no setting of the config (``--max_epoch 1`` for ``--max_epochs``)."""

from __future__ import annotations

import difflib
import inspect
import logging

from monai.bundle import ConfigParser, ConfigWorkflow

__all__ = ["UnknownOverrideError", "check_overrides"]

logger = logging.getLogger(__name__)

# arguments of `monai.bundle run` / `create_workflow` / ConfigWorkflow that are not config ids
_WORKFLOW_ARGUMENTS = set(inspect.signature(ConfigWorkflow.__init__).parameters) | {
    "workflow_name", "workflow_type", "args_file", "tracking", "properties_path"}


class UnknownOverrideError(ValueError):
    """A command-line override names no id of the config."""


def _command_line():
    """The config files and the overrides of the running ``monai.bundle run`` (from ``create_workflow``'s frame), or
    None when the workflow was not created that way (e.g. MONAI Label builds it itself)."""
    frame = inspect.currentframe()
    try:
        while frame is not None:
            local = frame.f_locals
            if frame.f_code.co_name == "create_workflow" and "_args" in local and "config_file" in local:
                return local["config_file"], dict(local["_args"])
            frame = frame.f_back
    finally:
        del frame
    return None


def check_overrides() -> None:
    """Compare the ``--key value`` overrides of the running ``python -m monai.bundle run`` with the ids of its config
    files: an override of a top-level id that no config file defines (a typo, or a setting of another bundle) raises
    ``UnknownOverrideError`` with the closest ids; a new argument inside a component (``--network_def#dropout 0.1``)
    is allowed with a warning. Called first in every config's ``initialize``; does nothing outside ``monai.bundle run``.
    """
    found = _command_line()
    if found is None or found[0] is None:
        return
    config_files, overrides = found
    defined = ConfigParser()
    defined.read_config(config_files)
    top_level = list(defined.get())
    unknown = []
    for key in overrides:
        if key in _WORKFLOW_ARGUMENTS or key.startswith(("+", "_meta_")):
            continue
        key_id = key.replace("::", "#")
        if key_id in defined:
            continue
        parent = key_id.rsplit("#", 1)[0] if "#" in key_id else None
        if parent is not None and parent in defined and isinstance(defined[parent], dict) and "_target_" in defined[parent]:
            logger.warning("--%s adds the argument %r to %s (%s), which the config does not set; check the spelling if "
                           "that is not what you meant.", key, key_id.rsplit("#", 1)[1], parent, defined[parent]["_target_"])
            continue
        close = difflib.get_close_matches(key_id.split("#")[0], top_level, n=3)
        unknown.append(f"--{key}" + (f" (did you mean {', '.join('--' + c for c in close)}?)" if close else ""))
    if unknown:
        raise UnknownOverrideError(
            f"{', '.join(unknown)}: no such setting in {', '.join(str(f) for f in ([config_files] if isinstance(config_files, str) else config_files))}; "
            "nothing was run. Check the spelling (the settings are the top-level keys of the config files).")

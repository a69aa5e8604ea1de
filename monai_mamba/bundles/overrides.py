# Copyright (c) monai-mamba contributors. Licensed under the Apache License, Version 2.0.
"""Catch command-line overrides that name no setting of the config (``--max_epoch 1`` for ``--max_epochs``)."""

from __future__ import annotations

import difflib
import inspect
import logging

from monai.bundle import ConfigParser, ConfigWorkflow

from monai_mamba.errors import ActionableError

__all__ = ["UnknownOverrideError", "check_overrides"]

logger = logging.getLogger(__name__)

# arguments of `monai.bundle run` / `create_workflow` / ConfigWorkflow that are not config ids
_WORKFLOW_ARGUMENTS = set(inspect.signature(ConfigWorkflow.__init__).parameters) | {
    "workflow_name",
    "workflow_type",
    "args_file",
    "tracking",
    "properties_path",
}


class UnknownOverrideError(ActionableError, ValueError):
    """A command-line override names no id of the config."""


def check_overrides(config_files, overrides: dict) -> None:
    """Compare command-line ``overrides`` with the ids of ``config_files`` (expanded): an override of a top-level id
    that no config file defines (a typo, or a setting of another bundle) raises ``UnknownOverrideError`` with the
    closest ids; a new argument inside a component (``--network_def#dropout 0.1``) is allowed with a warning.
    ``monai_mamba.bundles.load_config()`` calls it first in every config's ``initialize``."""
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
        if (
            parent is not None
            and parent in defined
            and isinstance(defined[parent], dict)
            and "_target_" in defined[parent]
        ):
            logger.warning(
                "--%s adds the argument %r to %s (%s), which the config does not set; check the spelling if "
                "that is not what you meant.",
                key,
                key_id.rsplit("#", 1)[1],
                parent,
                defined[parent]["_target_"],
            )
            continue
        close = difflib.get_close_matches(key_id.split("#")[0], top_level, n=3)
        unknown.append(f"--{key}" + (f" (did you mean {', '.join('--' + c for c in close)}?)" if close else ""))
    if unknown:
        files = [config_files] if isinstance(config_files, str) else list(config_files)
        raise UnknownOverrideError(
            f"{', '.join(unknown)}: no such setting in {', '.join(str(f) for f in files)}; nothing was run. Check the "
            "spelling (the settings are the top-level keys of the config files)."
        )

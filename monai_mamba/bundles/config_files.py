# Copyright (c) monai-mamba contributors. Licensed under the Apache License, Version 2.0.
"""Config blocks written once and shared by several bundles: a config file names its ``bases``.

A config file may start with ``bases: [path, ...]`` (paths relative to the file itself, e.g.
``../../shared/train.yaml``). Running it means running the MONAI config list "its bases (their own bases first), then
the file" - MONAI's own merge of several config files, later files overriding earlier ones, ``+key`` merging, ``a#b``
keys setting nested values. Three places apply it:

- ``load_config()``, the first item of every config's ``initialize``: ``python -m monai.bundle run --config_file
  bundles/<name>/configs/train.yaml`` reads only that file, so the helper re-reads the expanded list (with the same
  metadata and command-line overrides) into the running workflow's parser before anything else is evaluated, then
  checks the overrides against it (``check_overrides``);
- ``expand_config_files()``, for code that builds a parser itself (tests, the zoo checks);
- ``release_config()``, used by ``pack``: a released config is one standalone file, the raw merge of the list, so the
  model zoo, MONAI Label and a downloaded bundle never need ``bases`` (and ``load_config()`` does nothing there but
  the override check).

Bases hold no ``initialize``: it is what MONAI runs first, from the files it was given, so those files start it with
``load_config()`` (and then ``"@setup"``, a list the bases define); ``run`` and ``finalize`` may come from the bases,
as MONAI reads them after ``initialize``. Bases of overlays (``multi_gpu_train.yaml``) keep ``a#b`` keys flat, as
overlays must. Commands that read a
config without running it (``ckpt_export``, ``verify_net_in_out``) see the file alone: ``inference.json`` therefore
defines its network and everything the network needs itself.
"""

from __future__ import annotations

import inspect
from collections.abc import Sequence
from pathlib import Path

from monai.bundle import ConfigParser, ConfigWorkflow

from monai_mamba.bundles.paths import caller_locals, running_workflow
from monai_mamba.errors import show_actionable_errors

__all__ = ["BASES_KEY", "expand_config_files", "load_config", "release_config"]

BASES_KEY = "bases"
_FIRST_SECTION = "initialize"  # run by MONAI from the files it was given, before load_config() can expand them


def _as_list(files: str | Path | Sequence[str | Path]) -> list[Path]:
    if isinstance(files, (str, Path)):
        files = str(files).split(",") if not Path(files).is_file() and "," in str(files) else [files]
    return [Path(str(f).strip()) for f in files]


def expand_config_files(files: str | Path | Sequence[str | Path], _seen: tuple = ()) -> list[str]:
    """The MONAI config list that running ``files`` means: for each file, its ``bases`` (expanded the same way, each
    file once, in the order first met) and then the file."""
    expanded: list[str] = []
    for file in _as_list(files):
        file = file.resolve()
        if file in _seen:
            raise ValueError(f"{file}: its bases include itself ({' -> '.join(str(s) for s in (*_seen, file))}).")
        bases = ConfigParser.load_config_file(str(file)).get(BASES_KEY, [])
        for base in bases:
            base_file = (file.parent / base).resolve()
            if not base_file.is_file():
                raise FileNotFoundError(f"{file}: its base {base} ({base_file}) does not exist.")
            if _FIRST_SECTION in ConfigParser.load_config_file(str(base_file)):
                raise ValueError(
                    f"{base_file}: a base cannot hold {_FIRST_SECTION!r} (MONAI runs it from the files it "
                    f"is given); put it in {file}."
                )
        for name in expand_config_files([file.parent / b for b in bases], (*_seen, file)) + [str(file)]:
            if name not in expanded:
                expanded.append(name)
    return expanded


def _create_workflow_frame():
    """Config files and arguments of the running ``monai.bundle run``/``create_workflow``, else None."""
    found = caller_locals(lambda f: f.f_code.co_name == "create_workflow" and "_args" in f.f_locals)
    return None if found is None else (found.get("config_file"), dict(found["_args"]))


def load_config() -> None:
    """Make the running workflow's config the expansion of the files it was given (see the module doc): re-read the
    expanded list, the metadata and the command-line overrides into its parser and parse again; then check the
    overrides against the ids of the expanded files (``check_overrides``). Nothing is re-read when the files name no
    bases (a released bundle) or were given expanded already. From here on an uncaught ``ActionableError`` (a
    refusal) ends the process with its message as the last line (``monai_mamba.errors.show_actionable_errors``).

    Raises:
        RuntimeError: the workflow was not started by ``monai.bundle run``/``create_workflow`` and its files name
            bases (build such a workflow with ``create_workflow``), or a base changed ``initialize``.
        UnknownOverrideError: an override names no id of the config.
    """
    from monai_mamba.bundles.overrides import check_overrides

    show_actionable_errors()  # a refusal's message is the last line a user reads, not MONAI's wrapper
    workflow = running_workflow()
    if workflow is None:
        return
    found = _create_workflow_frame()
    parser = workflow.parser
    if found is None or found[0] is None:
        if parser.get(BASES_KEY):
            raise RuntimeError(
                "this config names bases, which `python -m monai.bundle run` (create_workflow) loads by "
                "itself; build the workflow with monai.bundle.create_workflow(config_file=...)."
            )
        return
    config_files, arguments = found
    given = [str(f.resolve()) for f in _as_list(config_files)]
    expanded = expand_config_files(given)
    workflow_arguments = set(inspect.signature(ConfigWorkflow.__init__).parameters) | {"workflow_name", "args_file"}
    overrides = {k: v for k, v in arguments.items() if k not in workflow_arguments}
    if expanded != given:
        before = parser.get(_FIRST_SECTION)
        parser.read_config(expanded)  # keeps the metadata already read
        parser.update(overrides)
        parser.parse(reset=True)
        if parser.get(_FIRST_SECTION) != before:
            raise RuntimeError(f"the bases of {given} changed {_FIRST_SECTION!r}, which MONAI is running already.")
    check_overrides(expanded, overrides)


def release_config(files: str | Path | Sequence[str | Path]) -> dict:
    """One standalone config equivalent to the expanded list of ``files``: the raw content of each file of the list
    in order, later keys replacing earlier ones, ``bases`` left out. Keys are kept as written (``a#b`` and ``+key``
    stay flat), so MONAI reads the result exactly as it reads the list."""
    merged: dict = {}
    for name in expand_config_files(files):
        for key, value in ConfigParser.load_config_file(name).items():
            if key == BASES_KEY:
                continue
            if key.startswith("+") and key in merged:  # two +key merges in the list: one merge of both
                merged[key] = {**merged[key], **value} if isinstance(value, dict) else [*merged[key], *value]
            else:
                merged[key] = value
    return merged

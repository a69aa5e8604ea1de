# Copyright (c) monai-mamba contributors. Licensed under the Apache License, Version 2.0.
"""Read a MONAI datalist with errors that name the file and the fix."""

from __future__ import annotations

import json
import os

from monai.data import load_decathlon_datalist

from monai_mamba.data.checks import DataCheckError

__all__ = ["load_datalist"]


def load_datalist(path: str, split: str = "training", base_dir: str | None = None) -> list[dict]:
    """The ``split`` entries of the datalist at ``path`` (``monai.data.load_decathlon_datalist``), paths made absolute
    against ``base_dir`` (default: the datalist's folder).

    Raises:
        DataCheckError: no file at ``path`` (say what ``--dataset_dir`` must hold), not valid JSON (with the line and
            column), not a mapping, or no ``split`` list (naming the splits it has).
    """
    if not os.path.isfile(path):
        folder = os.path.dirname(path) or "."
        raise DataCheckError(
            f"{path} not found: the folder given with --dataset_dir ({folder}) must hold a "
            "datalist.json listing the cases (see the README's data section; 'python -m "
            "monai_mamba.data prepare' writes one for the public data sets)."
        )
    with open(path) as f:
        text = f.read()
    try:
        content = json.loads(text)
    except json.JSONDecodeError as error:
        what = (
            "is empty"
            if not text.strip()
            else f"is not valid JSON: {error.msg} at line {error.lineno}, column {error.colno}"
        )
        raise DataCheckError(
            f"{path} {what}; fix the file (a JSON object with 'training', 'validation' and "
            '\'testing\' lists of {"image": ..., "label": ...} entries).'
        ) from None
    if not isinstance(content, dict):
        raise DataCheckError(
            f"{path}: holds a {type(content).__name__}, not a JSON object with 'training', "
            "'validation' and 'testing' lists."
        )
    if not isinstance(content.get(split), list):
        splits = sorted(k for k, v in content.items() if isinstance(v, list))
        raise DataCheckError(
            f"{path} has no '{split}' list (it has {splits or 'none'}); add the {split} cases, e.g. "
            f'"{split}": [{{"image": "imagesTr/case_000.nii.gz", "label": '
            '"labelsTr/case_000.nii.gz"}].'
        )
    return load_decathlon_datalist(
        path, data_list_key=split, base_dir=base_dir or os.path.dirname(os.path.abspath(path))
    )

# Copyright (c) monai-mamba contributors. Licensed under the Apache License, Version 2.0.
"""``python -m monai_mamba.planning plan --datalist D --output plan.json --num_classes N [--modalities CT]``."""

import logging

import fire

from monai_mamba.planning.plan_file import make_plan


def plan(datalist: str, output: str, num_classes: int, modalities="MR", gpu_memory_gb: float = 8.0) -> None:
    """Check and fingerprint the training cases of ``datalist`` and write the plan (of MambaClinix or U-Mamba) to
    ``output``.
    ``num_classes``: label values in the files are ``0 .. num_classes - 1`` (BraTS: 5, its labels being 0, 1, 2, 4)."""
    try:
        make_plan(datalist, output, num_classes, modalities, gpu_memory_gb)
    except (FileNotFoundError, ValueError) as error:  # what the user can fix (DataCheckError included): no traceback
        raise SystemExit(f"error: {error}") from None


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    fire.Fire({"plan": plan})

# Copyright (c) monai-mamba contributors. Licensed under the Apache License, Version 2.0.
"""``python -m monai_mamba.planning plan --datalist D --output plan.json --num_classes N [--modalities CT]``."""

import logging

import fire

from monai_mamba.planning.plan_file import make_plan


def plan(datalist: str, output: str, num_classes: int, modalities="MR", gpu_memory_gb: float = 8.0) -> None:
    """Fingerprint the training cases of ``datalist`` and write MambaClinix's plan to ``output``."""
    make_plan(datalist, output, num_classes, modalities, gpu_memory_gb)


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    fire.Fire({"plan": plan})

# Copyright (c) monai-mamba contributors. Licensed under the Apache License, Version 2.0.
"""``python -m monai_mamba.data prepare DATASET --src SRC --dst DST [--seed 0]``: a public data set as distributed
-> NIfTI + datalist.json for the bundles. DATASET: acdc, amos, brats, chest_xray (Montgomery & Shenzhen), flare22,
lits, msd (any Decathlon task), synapse."""

import logging

import fire

from monai_mamba.data.preparers import PREPARERS


def prepare(dataset: str, src: str, dst: str, seed: int = 0, **options) -> str:
    """Prepare ``dataset`` from ``src`` into ``dst``; prints the datalist path (give ``dst`` as ``--dataset_dir``)."""
    if dataset not in PREPARERS:
        raise SystemExit(f"unknown data set {dataset!r}; one of {sorted(PREPARERS)}.")
    try:
        return str(PREPARERS[dataset](src, dst, seed=seed, **options))
    except (FileNotFoundError, ValueError) as error:  # what the user can fix: the message alone, no traceback
        raise SystemExit(f"error: {error}") from None


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    fire.Fire({"prepare": prepare})

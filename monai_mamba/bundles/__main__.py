# Copyright (c) monai-mamba contributors. Licensed under the Apache License, Version 2.0.
"""``python -m monai_mamba.bundles pack NAME [--output_dir DIR] [--weights_url URL]``,
``python -m monai_mamba.bundles check PATH``,
``python -m monai_mamba.bundles import-nnunet RESULTS_DIR --output DIR [--bundle NAME] [--folds K|all]
[--checkpoint final|best] [--weights_url URL]``,
``python -m monai_mamba.bundles import-weights NAME CHECKPOINT --output DIR [--overlays OVERLAY]``."""

import logging
import sys

import fire

from monai_mamba.bundles.pack import pack_bundle
from monai_mamba.bundles.zoo import check_bundle


def pack(name: str, output_dir: str = ".", weights_url: str = "") -> str:
    """Write the model-zoo zip of bundle ``name``; with ``weights_url`` (where ``models/model.pt`` will be uploaded)
    the weights and their evaluation's metrics are in it (see ``monai_mamba.bundles.pack_bundle``)."""
    try:
        return str(pack_bundle(name, output_dir, weights_url))
    except (FileNotFoundError, ValueError) as error:  # what the user can fix: the message alone, no traceback
        raise SystemExit(f"error: {error}") from None


def import_nnunet(
    results_dir: str,
    output: str,
    bundle: str | None = None,
    folds: str | None = None,
    checkpoint: str = "final",
    weights_url: str = "",
) -> str:
    """Write a bundle at ``output`` that predicts as nnU-Net with the model of an nnU-Net v2 results folder
    (``monai_mamba.bundles.import_nnunet_results``)."""
    from monai_mamba.bundles.nnunet_import import import_nnunet_results

    try:
        return str(import_nnunet_results(results_dir, output, bundle, folds, checkpoint, weights_url))
    except (FileNotFoundError, FileExistsError, ValueError, RuntimeError) as error:  # the message alone
        raise SystemExit(f"error: {error}") from None


def import_weights(name: str, checkpoint: str, output: str, overlays: str | tuple = ()) -> str:
    """Write bundle ``name`` with ``models/model.pt`` from a checkpoint of the paper's official code
    (``monai_mamba.bundles.import_official_weights``)."""
    from monai_mamba.bundles.weights_import import import_official_weights

    try:
        return str(import_official_weights(name, checkpoint, output, overlays))
    except (FileNotFoundError, FileExistsError, ValueError, RuntimeError) as error:  # the message alone
        raise SystemExit(f"error: {error}") from None


def check(path: str, release: bool = True) -> None:
    """Print what would make the model zoo refuse the bundle at ``path``; exit 1 if anything."""
    problems = check_bundle(path, release)
    for problem in problems:
        print(f"- {problem}")
    print(f"{path}: {len(problems)} problem(s)")
    if problems:
        sys.exit(1)


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    fire.Fire({"pack": pack, "check": check, "import-nnunet": import_nnunet, "import-weights": import_weights})

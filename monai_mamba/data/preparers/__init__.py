# Copyright (c) monai-mamba contributors. Licensed under the Apache License, Version 2.0.
"""Turn the papers' public data sets, as distributed, into the NIfTI + ``datalist.json`` layout the bundles read:
``python -m monai_mamba.data prepare DATASET --src SRC --dst DST [--seed 0]``."""

from monai_mamba.data.preparers.acdc import prepare_acdc
from monai_mamba.data.preparers.amos import prepare_amos
from monai_mamba.data.preparers.brats import prepare_brats
from monai_mamba.data.preparers.chest_xray import prepare_chest_xray
from monai_mamba.data.preparers.common import split
from monai_mamba.data.preparers.flare22 import prepare_flare22
from monai_mamba.data.preparers.lits import prepare_lits
from monai_mamba.data.preparers.msd import prepare_msd
from monai_mamba.data.preparers.synapse import prepare_synapse

PREPARERS = {
    "acdc": prepare_acdc,
    "amos": prepare_amos,
    "brats": prepare_brats,
    "chest_xray": prepare_chest_xray,
    "flare22": prepare_flare22,
    "lits": prepare_lits,
    "msd": prepare_msd,
    "synapse": prepare_synapse,
}

__all__ = [
    "PREPARERS",
    "prepare_acdc",
    "prepare_amos",
    "prepare_brats",
    "prepare_chest_xray",
    "prepare_flare22",
    "prepare_lits",
    "prepare_msd",
    "prepare_synapse",
    "split",
]

# Copyright (c) monai-mamba contributors. Licensed under the Apache License, Version 2.0.
"""Support for the MONAI bundles in ``bundles/``: where a running bundle lives, the model-zoo checks, packing
(``python -m monai_mamba.bundles pack NAME``) and the import of the papers' trained models (``import-nnunet``,
``import-weights``)."""

from monai_mamba.bundles.config_files import BASES_KEY, expand_config_files, load_config, release_config
from monai_mamba.bundles.nnunet_import import import_nnunet_results
from monai_mamba.bundles.overrides import UnknownOverrideError, check_overrides
from monai_mamba.bundles.pack import pack_bundle
from monai_mamba.bundles.paths import bundle_root, config_dir
from monai_mamba.bundles.weights_import import import_official_weights
from monai_mamba.bundles.zoo import check_bundle, release_files

__all__ = [
    "BASES_KEY",
    "UnknownOverrideError",
    "bundle_root",
    "check_bundle",
    "check_overrides",
    "config_dir",
    "expand_config_files",
    "import_nnunet_results",
    "import_official_weights",
    "load_config",
    "pack_bundle",
    "release_config",
    "release_files",
]

# Copyright (c) monai-mamba contributors. Licensed under the Apache License, Version 2.0.
"""Support for the MONAI bundles in ``bundles/``: where a running bundle lives, the model-zoo checks and packing
(``python -m monai_mamba.bundles pack NAME``)."""

from monai_mamba.bundles.pack import pack_bundle
from monai_mamba.bundles.paths import bundle_root
from monai_mamba.bundles.zoo import check_bundle, release_files

__all__ = ["bundle_root", "check_bundle", "pack_bundle", "release_files"]

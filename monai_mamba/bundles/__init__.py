# Copyright (c) monai-mamba contributors. Licensed under the Apache License, Version 2.0.
"""Support for the MONAI bundles in ``bundles/``: where a running bundle lives."""

from monai_mamba.bundles.paths import bundle_root

__all__ = ["bundle_root"]

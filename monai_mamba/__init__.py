# Copyright (c) monai-mamba contributors. Licensed under the Apache License, Version 2.0.
"""monai-mamba: Mamba building blocks and networks for medical image segmentation, in MONAI style."""

__version__ = "0.1.0"

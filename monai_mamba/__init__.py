# Copyright (c) monai-mamba contributors. Licensed under the Apache License, Version 2.0.
"""monai-mamba: Mamba building blocks and networks for medical image segmentation, in MONAI style.

The subpackages are reachable as attributes and imported on first use (``import monai_mamba`` then
``monai_mamba.nets.LightMUNet``), so one ``$import monai_mamba`` serves a bundle config; importing the package itself
pulls neither numba nor mamba-ssm.
"""

import importlib
import pkgutil

__version__ = "0.1.0"

# Every module of the package, read from its folder, so a new one cannot be left out of the lazy attributes.
_SUBPACKAGES = tuple(sorted(m.name for m in pkgutil.iter_modules(__path__) if not m.name.startswith("_")))
__all__ = ["__version__", *_SUBPACKAGES]


def __getattr__(name: str):
    if name in _SUBPACKAGES:
        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list:
    return sorted(__all__)

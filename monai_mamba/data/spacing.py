# Copyright (c) monai-mamba contributors. Licensed under the Apache License, Version 2.0.
"""``Spacingd`` that tolerates non-metadata ``<key>_*`` entries (MONAI Label's ``image_path``)."""

from __future__ import annotations

from collections.abc import Hashable, Mapping

from monai.transforms import Spacingd

__all__ = ["MetaSafeSpacingd"]


class MetaSafeSpacingd(Spacingd):
    """MONAI's ``Spacingd``, except that entries named ``<key>_<anything>`` which are not metadata dictionaries are
    left alone.

    Since MONAI 1.6, ``Spacingd`` updates every ``<key>_*`` entry of a NIfTI input with the resampled metadata;
    MONAI Label puts the string ``image_path`` into the data, so its inference of a bundle using ``Spacingd``
    fails with ``'str' object has no attribute 'update'``. This transform hides such entries from the parent call
    and puts them back unchanged. Arguments and inverse are ``Spacingd``'s.
    """

    def __call__(self, data: Mapping[Hashable, object], lazy: bool | None = None) -> dict:
        d = dict(data)
        hidden = {
            k: d.pop(k)
            for k in list(d)
            for key in self.keys
            if isinstance(k, str) and k.startswith(f"{key}_") and not isinstance(d.get(k), dict)
        }
        out = super().__call__(d, lazy=lazy)
        out.update(hidden)
        return out

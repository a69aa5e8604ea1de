# Copyright (c) monai-mamba contributors. Licensed under the Apache License, Version 2.0.
"""Instance masks <-> 3-class semantic maps (background, interior, boundary), for cell segmentation.

Swin-UMamba's microscopy setting (as U-Mamba's) trains a semantic network on three classes derived from the
instance labels and recovers instances from the predicted interiors; instance F1 is then measured at IoU 0.5
(MONAI's ``PanopticQualityMetric`` with ``metric_name="rq"`` is exactly that F1).
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping

import numpy as np
import torch
import torch.nn.functional as F
from monai.config import KeysCollection
from monai.transforms import MapTransform
from scipy import ndimage

__all__ = [
    "InstanceToSemanticd",
    "SemanticToInstanced",
    "connected_components",
    "instances_to_semantic",
    "semantic_to_instances",
]


def _neighbourhood_max(x: torch.Tensor) -> torch.Tensor:
    """3x3 (or 3x3x3) maximum of a ``(*spatial)`` map of ids (pooled in float64: exact for ids below 2^53)."""
    pool = F.max_pool2d if x.dim() == 2 else F.max_pool3d
    return pool(x[None, None].double(), kernel_size=3, stride=1, padding=1)[0, 0].to(x.dtype)


def connected_components(mask: torch.Tensor) -> torch.Tensor:
    """Label the 8- (26-) connected components of a boolean ``(*spatial)`` mask with 1, 2, ... in raster order of their
    first pixel (0 elsewhere): ``scipy.ndimage.label`` with a full 3x3 (3x3x3) structure."""
    structure = np.ones((3,) * mask.dim(), dtype=bool)
    labels, _ = ndimage.label(mask.detach().cpu().numpy().astype(bool), structure=structure)
    return torch.as_tensor(labels, dtype=torch.int64, device=mask.device)


def instances_to_semantic(instances: torch.Tensor) -> torch.Tensor:
    """``(*spatial)`` instance ids (0 background) -> 0 background, 1 interior, 2 boundary (a pixel of an instance
    with a neighbour of another id, background included)."""
    foreground = instances > 0
    boundary = foreground & (
        (_neighbourhood_max(instances) != instances) | (-_neighbourhood_max(-instances) != instances)
    )
    return foreground.long() + boundary.long()


def semantic_to_instances(semantic: torch.Tensor) -> torch.Tensor:
    """``(*spatial)`` classes (0 background, 1 interior, 2 boundary) -> instance ids: connected interiors, each grown
    by one pixel into the boundary class around it."""
    instances = connected_components(semantic == 1)
    grown = _neighbourhood_max(instances)
    return torch.where((semantic == 2) & (instances == 0), grown, instances)


class InstanceToSemanticd(MapTransform):
    """Dictionary transform: channel-first instance masks ``(1, *spatial)`` -> 3-class maps, same shape."""

    def __call__(self, data: Mapping[Hashable, torch.Tensor]) -> dict[Hashable, torch.Tensor]:
        d = dict(data)
        for key in self.key_iterator(d):
            semantic = instances_to_semantic(d[key][0].long())[None]
            d[key] = d[key].clone().copy_(semantic)  # keeps the image's dtype, device and metadata
        return d


class SemanticToInstanced(MapTransform):
    """Dictionary transform: a 3-class prediction, one-hot/probabilities ``(3, *spatial)`` or indices
    ``(1, *spatial)``, -> ``(2, *spatial)``: instance ids and their class (1), the input format of
    ``monai.metrics.PanopticQualityMetric``."""

    def __init__(self, keys: KeysCollection, allow_missing_keys: bool = False) -> None:
        super().__init__(keys, allow_missing_keys)

    def __call__(self, data: Mapping[Hashable, torch.Tensor]) -> dict[Hashable, torch.Tensor]:
        d = dict(data)
        for key in self.key_iterator(d):
            x = d[key]
            classes = x.argmax(0) if x.shape[0] > 1 else x[0].long()
            instances = semantic_to_instances(classes)
            d[key] = torch.stack([instances, (instances > 0).long()]).to(x.device)
        return d

# Copyright (c) monai-mamba contributors. Licensed under the Apache License, Version 2.0.
"""nnU-Net v2's sliding-window prediction as a MONAI inferer, and the average of several folds' networks
(Isensee et al., "nnU-Net", Nature Methods 2021; nnunetv2's ``nnUNetPredictor.predict_sliding_window_return_logits``).

Why not ``monai.inferers.SlidingWindowInferer``: nnU-Net spreads its tiles evenly (first at 0, last at the end, the
step at most ``tile_step_size`` x the patch), where MONAI places them every ``(1 - overlap)`` x patch and moves the
last one back; its Gaussian is the sampled kernel of ``scipy.ndimage.gaussian_filter`` (MONAI's default is the erf
kernel); a ``2d`` configuration predicts a 3-D volume slice by slice; and the mirrored predictions are averaged per
tile. Each of these changes the logits, so a model trained by nnU-Net is predicted the way it was validated.
"""

from __future__ import annotations

import copy
import itertools
import math
from collections.abc import Sequence
from functools import lru_cache

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from monai.inferers import Inferer
from monai.utils import convert_to_tensor
from scipy.ndimage import gaussian_filter

__all__ = ["FoldEnsemble", "NnUNetSlidingWindowInferer", "tile_starts"]


def tile_starts(size: int, tile: int, step: float) -> list[int]:
    """Start of each tile along an axis of ``size`` voxels (``size >= tile``): as few as keep the step at most
    ``step * tile``, spread evenly from 0 to ``size - tile``."""
    count = math.ceil((size - tile) / (tile * step)) + 1
    if count == 1:
        return [0]
    return [int(np.round((size - tile) / (count - 1) * i)) for i in range(count)]


@lru_cache(maxsize=4)
def _gaussian(tile: tuple[int, ...], dtype: torch.dtype = torch.float32, sigma_scale: float = 1 / 8) -> torch.Tensor:
    """nnU-Net's tile weights: a sampled Gaussian of sigma ``tile * sigma_scale`` centred at ``tile // 2``, no zeros
    (the smallest non-zero weight replaces them); max 1 in float32, max 10 in float16 as nnU-Net scales it there."""
    delta = np.zeros(tile)
    delta[tuple(t // 2 for t in tile)] = 1
    weights = gaussian_filter(delta, [t * sigma_scale for t in tile], 0, mode="constant", cval=0)
    scale = 10.0 if dtype == torch.float16 else 1.0
    weights = torch.from_numpy(weights / (weights.max() / scale)).to(dtype)
    weights[weights == 0] = weights[weights > 0].min()
    return weights


class NnUNetSlidingWindowInferer(Inferer):
    """Predict a whole preprocessed image tile by tile, as nnU-Net does.

    Args:
        patch_size: the configuration's ``patch_size`` (2 sizes for ``2d``: the last two axes, slice by slice along
            the first).
        tile_step_size: at most this fraction of the patch between tile starts (0.5).
        mirror_axes: the trainer's ``inference_allowed_mirroring_axes`` (axes of the patch); every combination of
            flips is predicted and averaged. None or empty: no mirroring.
        use_gaussian: weight each tile by ``_gaussian`` (else uniformly).
        accumulation_dtype: ``"float32"``, or ``"float16"`` to reproduce nnU-Net 2.x as shipped, which accumulates
            the weighted logits and the weights in float16: there the weights of tile edges underflow at the image
            border and the logits carry float16 rounding.

    Shapes:
        ``(1, c, d0, d1, d2)`` -> ``(1, classes, d0, d1, d2)`` float32; axes smaller than the patch are zero-padded
        (centred) and cropped back.
    """

    def __init__(
        self,
        patch_size: Sequence[int],
        tile_step_size: float = 0.5,
        mirror_axes: Sequence[int] | None = None,
        use_gaussian: bool = True,
        accumulation_dtype: str = "float32",
    ) -> None:
        super().__init__()
        if accumulation_dtype not in ("float32", "float16"):
            raise ValueError(f"accumulation_dtype must be 'float32' or 'float16', got {accumulation_dtype!r}.")
        self.accumulation_dtype = getattr(torch, accumulation_dtype)
        if not 0 < tile_step_size <= 1:
            raise ValueError(f"tile_step_size must be in (0, 1], got {tile_step_size}.")
        self.patch_size = tuple(int(p) for p in patch_size)
        self.tile_step_size = float(tile_step_size)
        self.mirror_axes = tuple(int(a) for a in mirror_axes or ())
        if any(a >= len(self.patch_size) for a in self.mirror_axes):
            raise ValueError(f"mirror_axes {self.mirror_axes} do not fit a {len(self.patch_size)}-D patch.")
        self.use_gaussian = use_gaussian

    def _predict_tile(self, tile: torch.Tensor, network: nn.Module) -> torch.Tensor:
        prediction = network(tile)
        axes = [a + 2 for a in self.mirror_axes]
        flips = [c for r in range(1, len(axes) + 1) for c in itertools.combinations(axes, r)]
        for flip in flips:
            prediction = prediction + torch.flip(network(torch.flip(tile, flip)), flip)
        return prediction / (len(flips) + 1)

    @torch.no_grad()
    def __call__(self, inputs: torch.Tensor, network: nn.Module, *args, **kwargs) -> torch.Tensor:
        if inputs.ndim != 5 or inputs.shape[0] != 1:
            raise ValueError(
                f"NnUNetSlidingWindowInferer takes one (1, c, d0, d1, d2) image, got {tuple(inputs.shape)}."
            )
        # a plain tensor: a MetaTensor would track its meta through every operation of every tile's network call
        image = convert_to_tensor(inputs, track_meta=False)[0]
        dims = len(self.patch_size)
        spatial = list(image.shape[1:])
        padding = [max(p - s, 0) for s, p in zip(spatial[-dims:], self.patch_size)]
        pad = [amount for d in reversed(padding) for amount in (d // 2, d - d // 2)]
        image = F.pad(image, pad)
        padded = list(image.shape[1:])
        starts = [tile_starts(s, p, self.tile_step_size) for s, p in zip(padded[-dims:], self.patch_size)]
        dtype = self.accumulation_dtype
        weights = _gaussian(self.patch_size, dtype) if self.use_gaussian else torch.ones(self.patch_size, dtype=dtype)
        weights = weights.to(image.device)
        logits, total = None, torch.zeros(padded, device=image.device, dtype=dtype)
        slices = range(padded[0]) if dims == 2 else [None]
        for z in slices:
            for corner in itertools.product(*starts):
                region = tuple(slice(s, s + p) for s, p in zip(corner, self.patch_size))
                region = (z, *region) if dims == 2 else region
                prediction = self._predict_tile(image[(slice(None), *region)][None], network)[0].float()
                if logits is None:
                    logits = torch.zeros((prediction.shape[0], *padded), device=image.device, dtype=dtype)
                logits[(slice(None), *region)] += prediction * weights
                total[region] += weights
        logits /= total
        crop = [slice(None)] * (3 - dims) + [slice(d // 2, d // 2 + s) for d, s in zip(padding, spatial[-dims:])]
        return logits[(slice(None), *crop)][None].float()


class FoldEnsemble(nn.Module):
    """The mean of the logits of several networks of the same architecture (nnU-Net's cross-validation folds): the
    same as nnU-Net averaging each fold's whole prediction, as tile weighting and mirroring are linear.

    Args:
        network: the architecture; each fold gets a copy (``networks.<i>.`` in the state_dict).
        num_folds: how many.
    """

    def __init__(self, network: nn.Module, num_folds: int) -> None:
        super().__init__()
        if num_folds < 1:
            raise ValueError(f"FoldEnsemble needs at least one fold, got {num_folds}.")
        self.networks = nn.ModuleList(copy.deepcopy(network) for _ in range(num_folds))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.stack([network(x) for network in self.networks]).mean(0)

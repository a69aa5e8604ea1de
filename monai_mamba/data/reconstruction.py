# Copyright (c) monai-mamba contributors. Licensed under the Apache License, Version 2.0.
"""Label maps as network inputs, for ReSeg-UNet's reconstruction stage (label -> image)."""

from __future__ import annotations

import torch
from monai.engines.utils import default_prepare_batch

__all__ = ["PrepareReconstructionBatch", "label_as_reconstruction_input"]


def label_as_reconstruction_input(label: torch.Tensor, in_channels: int) -> torch.Tensor:
    """The integer label map as the reconstruction network's input, as in ReSeg-UNet's official code: cast to float
    (class indices 0, 1, 2, ..., neither one-hot nor rescaled) and repeated to the network's input channels.

    Args:
        label: ``(b, 1, *spatial)`` class indices.
        in_channels: input channels of the network.

    Returns:
        ``(b, in_channels, *spatial)`` float tensor.
    """
    if label.ndim < 3 or label.shape[1] != 1:
        raise ValueError(
            f"expected a label map of shape (batch, 1, *spatial), got {tuple(label.shape)}; one-hot "
            "labels must be turned back into class indices (monai.transforms.AsDiscrete(argmax=True))."
        )
    return label.float().repeat(1, in_channels, *([1] * (label.ndim - 2)))


class PrepareReconstructionBatch:
    """``prepare_batch`` for a MONAI trainer/evaluator that trains the reconstruction stage: the network's input is
    the label map (``label_as_reconstruction_input``) and its target the image.

    Args:
        in_channels: input channels of the network (the label map is repeated to them).
        image_key, label_key: keys of the batch dictionary.
    """

    def __init__(self, in_channels: int, image_key: str = "image", label_key: str = "label") -> None:
        self.in_channels, self.image_key, self.label_key = in_channels, image_key, label_key

    def __call__(
        self, batchdata: dict, device: str | torch.device | None = None, non_blocking: bool = False, **kwargs
    ) -> tuple[torch.Tensor, torch.Tensor]:
        image, label = default_prepare_batch(
            {"image": batchdata[self.image_key], "label": batchdata[self.label_key]}, device, non_blocking, **kwargs
        )
        return label_as_reconstruction_input(label, self.in_channels), image

# Copyright (c) monai-mamba contributors. Licensed under the Apache License, Version 2.0.
"""Label maps as reconstruction inputs, and the prepare_batch of ReSeg-UNet's stage 1."""

from __future__ import annotations

import pytest
import torch

from monai_mamba.data import PrepareReconstructionBatch, label_as_reconstruction_input


def test_label_map_is_cast_to_float_and_repeated_not_one_hot_nor_rescaled():
    label = torch.tensor([[[[0, 1], [2, 3]]]])
    inputs = label_as_reconstruction_input(label, in_channels=3)
    assert inputs.dtype == torch.float32 and inputs.shape == (1, 3, 2, 2)
    for channel in range(3):
        assert inputs[0, channel].tolist() == [[0.0, 1.0], [2.0, 3.0]]
    with pytest.raises(ValueError, match="batch, 1, \\*spatial"):
        label_as_reconstruction_input(torch.zeros(1, 4, 2, 2), 1)


def test_prepare_batch_swaps_roles_label_in_image_out():
    batch = {"image": torch.rand(2, 1, 4, 4), "label": torch.randint(0, 3, (2, 1, 4, 4)), "other": "x"}
    inputs, targets = PrepareReconstructionBatch(in_channels=2)(batch, device="cpu")
    assert torch.equal(inputs, batch["label"].float().repeat(1, 2, 1, 1))
    assert torch.equal(targets, batch["image"])

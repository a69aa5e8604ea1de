# Copyright (c) monai-mamba contributors. Licensed under the Apache License, Version 2.0.
"""ChannelsFirstLayerNorm equals nn.LayerNorm over the channel axis."""

from __future__ import annotations

import torch

from monai_mamba.blocks import ChannelsFirstLayerNorm


def test_equals_layernorm_on_channels_last():
    torch.manual_seed(0)
    norm, reference = ChannelsFirstLayerNorm(6, eps=1e-6), torch.nn.LayerNorm(6, eps=1e-6)
    with torch.no_grad():
        norm.weight.normal_(), norm.bias.normal_()
        reference.weight.copy_(norm.weight), reference.bias.copy_(norm.bias)
    x = torch.randn(2, 6, 3, 4, 5)
    torch.testing.assert_close(norm(x), reference(x.movedim(1, -1)).movedim(-1, 1))

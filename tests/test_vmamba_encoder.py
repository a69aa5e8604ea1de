# Copyright (c) monai-mamba contributors. Licensed under the Apache License, Version 2.0.
import torch

from monai_mamba.blocks import VMambaEncoder, VSSStage


def test_returns_the_input_and_every_stage_channels_first():
    encoder = VMambaEncoder(in_channels=8, patch_size=2, depths=(1, 1, 1), dims=(16, 32, 64))
    x = torch.randn(1, 8, 32, 48)
    features = encoder(x)
    assert features[0] is x
    assert [tuple(f.shape) for f in features[1:]] == [(1, 16, 16, 24), (1, 32, 8, 12), (1, 64, 4, 6)]


def test_drop_path_rises_linearly_over_all_blocks():
    encoder = VMambaEncoder(in_channels=3)
    rates = [block.drop_path.drop_prob for layer in encoder.layers for block in layer.blocks]
    torch.testing.assert_close(torch.tensor(rates), torch.linspace(0, 0.2, 15))


def test_stage_resampling_and_names():
    down, up = VSSStage(16, [0.0, 0.1], resample="downsample"), VSSStage(16, [0.0], resample="upsample")
    x = torch.randn(1, 8, 8, 16)
    assert down(x).shape == (1, 4, 4, 32) and up(x).shape == (1, 16, 16, 8)
    assert {k.split(".")[0] for k in down.state_dict()} == {"blocks", "downsample"}
    assert {k.split(".")[0] for k in up.state_dict()} == {"blocks", "upsample"}

# Copyright (c) monai-mamba contributors. Licensed under the Apache License, Version 2.0.
"""default_u_levels: the encoder/decoder modules of every supported network pair up with equal shapes."""

from __future__ import annotations

import pytest
import torch
from monai.networks.nets import BasicUNet, UNet

from monai_mamba.features import FeatureRecorder, ULevels, default_u_levels
from monai_mamba.nets import LightMUNet, MambaUNet, SwinUMamba, SwinUMambaD

NETWORKS = {
    # name: (builder, spatial size, expected (channels, size) of the encoder levels, channels last)
    "UNet": (
        lambda: UNet(2, 1, 4, channels=(16, 32, 64, 128, 256), strides=(2, 2, 2, 2), num_res_units=2, norm="batch"),
        64,
        [(16, 32), (32, 16), (64, 8)],
        False,
    ),
    "BasicUNet": (lambda: BasicUNet(2, 1, 4, features=(8, 8, 16, 32, 64, 8)), 64, [(8, 32), (16, 16), (32, 8)], False),
    "LightMUNet": (lambda: LightMUNet(2, 1, 4, init_filters=8), 32, [(8, 32), (16, 16), (32, 8)], False),
    "MambaUNet": (lambda: MambaUNet(2, 1, 4, feature_size=16), 64, [(16, 16), (32, 8), (64, 4)], True),
    "SwinUMamba": (lambda: SwinUMamba(2, 1, 4, deep_supervision=False), 64, [(96, 32), (192, 16), (384, 8)], False),
    "SwinUMambaD": (lambda: SwinUMambaD(2, 1, 4, deep_supervision=False), 64, [(96, 16), (192, 8), (384, 4)], True),
}


@pytest.mark.parametrize("name", NETWORKS)
def test_the_seven_alignment_pairs_have_equal_shapes(name):
    build, size, expected, channels_last = NETWORKS[name]
    network = build().eval()
    levels = default_u_levels(network)
    assert levels.channels_last == channels_last and levels.middle == levels.decoder[-1]
    recorder = FeatureRecorder(network, levels.names)
    with torch.no_grad():
        network(torch.randn(1, 1, size, size))
    features = recorder.pop()
    for level, (encoder, decoder) in enumerate(zip(levels.encoder, levels.decoder)):
        shape = features[encoder].shape
        assert features[decoder].shape == shape, (encoder, decoder)
        channels, spatial = (shape[-1], shape[1:-1]) if channels_last else (shape[1], shape[2:])
        assert (channels, tuple(spatial)) == (expected[level][0], (expected[level][1],) * 2)


def test_unet_levels_follow_its_nesting_and_depth():
    deep = UNet(2, 1, 2, channels=(4, 8, 16, 32, 64, 128), strides=(2, 2, 2, 2, 2))
    levels = default_u_levels(deep, levels=4)
    assert levels.encoder[3] == "model.1.submodule.1.submodule.1.submodule.0"
    assert levels.decoder[0] == "model.1.submodule.2"
    with pytest.raises(ValueError, match="at least 4 strides"):
        default_u_levels(UNet(2, 1, 2, channels=(4, 8, 16), strides=(2, 2)))


def test_unsupported_network_and_bad_levels_are_explained():
    with pytest.raises(TypeError, match="pass ULevels"):
        default_u_levels(torch.nn.Conv2d(1, 1, 1))
    with pytest.raises(ValueError, match="3 alignment levels, asked for 4"):
        default_u_levels(BasicUNet(2, 1, 2), levels=4)
    with pytest.raises(ValueError, match="as many decoder as encoder"):
        ULevels(("a", "b"), ("c",))
    with pytest.raises(ValueError, match=r"no module\(s\) \['nope'\]"):
        ULevels(("down_1",), ("nope",)).check_modules(BasicUNet(2, 1, 2))

# Copyright (c) monai-mamba contributors. Licensed under the Apache License, Version 2.0.
"""U-Mamba Bot and Enc, 2-D and 3-D: the official parameter counts at two full plans, the official state_dict names
onto ours, the layout the official code builds (block counts, 2-D decoder, Mamba stages, channel tokens), outputs,
initialisation and input checks.

The float64 comparison with the official networks themselves (``bowang-lab/U-Mamba`` @ 28459e3, fetched outside
the tree, ``mamba_ssm.Mamba`` stood in by our ``MambaLayer``: same names and computation) gave equal outputs at
every deep-supervision level, input gradients and parameter gradients at the five small plans of
``tests/data/umamba_official_state_dict.json``: max difference 0.0 (Bot 2-D/3-D, Enc 3-D) and <= 3e-13 on outputs
of scale 20, <= 1.2e-10 on gradients (Enc 2-D, channel tokens). The data file keeps what CI needs of that code."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from monai_mamba.blocks import NormMambaLayer
from monai_mamba.nets import UMambaBot, UMambaEnc
from monai_mamba.weights import load_official_weights

OFFICIAL = json.loads((Path(__file__).parent / "data" / "umamba_official_state_dict.json").read_text())


def build(record: dict, **kwargs):
    cls = UMambaBot if record["variant"] == "Bot" else UMambaEnc
    extra = {"patch_size": record["patch_size"]} if record["variant"] == "Enc" else {}
    return cls(
        record["spatial_dims"],
        record["in_channels"],
        record["out_channels"],
        features=record["features"],
        strides=record["strides"],
        kernel_sizes=record["kernel_sizes"],
        **extra,
        **kwargs,
    )


def official_state_dict(record: dict, seed: int = 0) -> dict[str, torch.Tensor]:
    """Random tensors under the official names and shapes; the names the official network registers twice hold the
    same tensor, as in a real checkpoint (``decoder.encoder.*`` = ``encoder.*``, ``all_modules.0/1`` = conv/norm)."""
    generator, state = torch.Generator().manual_seed(seed), {}
    for key, shape in record["state_dict"].items():
        primary = key.removeprefix("decoder.") if key.startswith("decoder.encoder.") else key
        primary = primary.replace(".all_modules.0.", ".conv.").replace(".all_modules.1.", ".norm.")
        if primary not in state:
            state[primary] = torch.randn(shape, generator=generator)
        state[key] = state[primary]
    return {key: state[key] for key in record["state_dict"]}


@pytest.mark.parametrize("plan", OFFICIAL["plans"], ids=lambda p: f"{p['variant']}-{p['name']}")
def test_parameter_count_equals_the_official_network(plan):
    """Abdomen CT 3d_fullres (Dataset701's 14 classes, 1 channel, nnU-Net's 6-stage layout for 2.5 x 0.8 x 0.8 mm CT,
    patch 40 x 224 x 224) and endoscopy 2d (Dataset704's 8 classes, RGB, 7 stages, patch 512 x 640)."""
    network = build(plan)
    assert sum(p.numel() for p in network.parameters()) == plan["parameters"]


@pytest.mark.parametrize(
    "record", OFFICIAL["networks"], ids=lambda r: f"{r['variant']}-{r['spatial_dims']}d-{len(r['features'])}"
)
def test_official_checkpoint_names_map_onto_ours(record):
    """Every tensor of the official state_dict lands in ours (strictly) or is one of its duplicates, by value."""
    network = build(record)
    weights = official_state_dict(record)
    load_official_weights(network, weights, "official")
    dropped = [k for k in weights if not network.official_checkpoint_filter(k, weights[k])]
    assert all(k.startswith("decoder.encoder.") or ".all_modules." in k for k in dropped)
    assert len(weights) - len(dropped) == len(network.state_dict())
    assert sum(p.numel() for p in network.parameters()) == record["parameters"]
    state = network.state_dict()
    torch.testing.assert_close(state["encoder_stages.1.0.skip.weight"], weights["encoder.stages.1.0.conv3.weight"])
    torch.testing.assert_close(state["stem.0.norm2.weight"], weights["encoder.stem.0.norm2.weight"])
    last = len(record["features"]) - 1
    mamba = "mamba_layer" if record["variant"] == "Bot" else f"encoder.mamba_layers.{last}"
    torch.testing.assert_close(state[f"mamba_layers.{last}.mamba.A_log"], weights[f"{mamba}.mamba.A_log"])
    if record["spatial_dims"] == 3 or len(record["features"]) > 4:  # a BasicBlockD (ConvDropoutNormReLU) somewhere
        torch.testing.assert_close(state["stem.1.conv1.weight"], weights["encoder.stem.1.conv1.conv.weight"])


def test_block_counts_and_the_two_dimensional_decoder_as_the_official_code():
    network = UMambaBot(2, 1, 2, features=(8, 16, 32, 64, 64, 64), strides=(1, 2, 2, 2, 2, 2))
    assert [len(s) for s in network.encoder_stages] == [2, 2, 2, 1, 1, 1]  # the deep half: one block
    assert [len(s) for s in network.decoder_stages] == [2, 2, 2, 1, 1]  # deepest first; the fine half: one block
    assert len(network.stem) == 2
    # 2-D: the finest decoder level takes no skip (its first block reads the upsampled 8 channels only)
    assert (
        network.decoder_stages[-1][0].conv1.in_channels == 8 and network.decoder_stages[-2][0].conv1.in_channels == 32
    )
    network_3d = UMambaBot(3, 1, 2, features=(8, 16, 32), strides=(1, 2, 2))
    assert network_3d.decoder_stages[-1][0].conv1.in_channels == 16
    assert [type(m).__name__ for m in network.mamba_layers] == ["Identity"] * 5 + ["NormMambaLayer"]


@pytest.mark.parametrize(
    "spatial_dims, n_stages, expected",
    [(3, 4, [True] * 4), (2, 4, [False, True, False, True]), (2, 5, [True, False, True, False, True])],
)
def test_enc_mamba_stages(spatial_dims, n_stages, expected):
    """3-D: every stage; 2-D: every other stage, the last always (official ``bool(s % 2) ^ bool(n % 2)``)."""
    network = UMambaEnc(spatial_dims, 1, 2, features=(8,) * n_stages, strides=(1,) + (2,) * (n_stages - 1),
                        patch_size=(64,) * spatial_dims)  # fmt: skip
    assert [isinstance(m, NormMambaLayer) for m in network.mamba_layers] == expected


def test_enc_channel_tokens_where_a_stage_has_no_more_voxels_than_channels():
    network = UMambaEnc(2, 1, 3, features=(8, 16, 32, 64), strides=(1, 2, 2, 2), patch_size=(16, 32))
    # stage maps 16x32, 8x16, 4x8 (32 voxels <= 32 channels: tokens are channels), 2x4 (8 <= 64)
    assert network.channel_token_sizes == {2: 32, 3: 8}
    assert network.mamba_layers[3].channel_tokens and network.mamba_layers[3].mamba.d_model == 8
    x = torch.randn(2, 1, 16, 32)
    assert network.eval()(x).shape == (2, 3, 16, 32)
    with pytest.raises(ValueError, match=r"built for patch_size=\[16, 32\].*roi_size \[16, 32\]"):
        network(torch.randn(1, 1, 32, 32))
    assert not UMambaEnc(2, 1, 3, features=(8, 16), strides=(1, 2), patch_size=(64, 64)).channel_token_sizes


@pytest.mark.parametrize("cls", [UMambaBot, UMambaEnc])
def test_deep_supervision_in_training_full_map_in_eval(cls):
    extra = {"patch_size": (16, 16, 16)} if cls is UMambaEnc else {}
    network = cls(3, 2, 3, features=(8, 16, 32), strides=(1, 2, 2), **extra)
    x = torch.randn(1, 2, 16, 16, 16)
    outputs = network.train()(x)
    assert [tuple(o.shape) for o in outputs] == [(1, 3, 16, 16, 16), (1, 3, 8, 8, 8)]
    sum(o.mean() for o in outputs).backward()
    assert all(p.grad is not None for p in network.parameters())  # every tensor on the path, the Mamba layers too
    assert network.eval()(x).shape == (1, 3, 16, 16, 16)
    assert cls(3, 2, 3, features=(8, 16, 32), strides=(1, 2, 2), deep_supervision=False, **extra).train()(x).shape == (
        1, 3, 16, 16, 16,
    )  # fmt: skip


def test_he_initialisation_and_input_errors():
    torch.manual_seed(0)
    network = UMambaBot(3, 1, 2, features=(32, 64, 64), strides=(1, (2, 2, 1), 2), kernel_sizes=[(3, 3, 1), 3, 3])
    conv = network.decoder_stages[0][0].conv1  # 128 -> 64, k3: fan_in 3456
    assert conv.weight.std().item() == pytest.approx((2 / (1 + 1e-4) / conv.weight[0].numel()) ** 0.5, rel=0.05)
    assert torch.all(conv.bias == 0) and torch.all(network.seg_heads[0].bias == 0)
    assert network.mamba_layers[2].mamba.conv1d.bias.abs().sum() > 0  # Mamba's own initialisation kept
    assert network.stem[0].conv1.weight.shape[2:] == (3, 3, 1)
    with pytest.raises(ValueError, match=r"divisible by \[4, 4, 2\], got \(16, 16, 7\)"):
        network(torch.randn(1, 1, 16, 16, 7))
    with pytest.raises(ValueError, match="in_channels=1"):
        network(torch.randn(1, 3, 16, 16, 8))
    with pytest.raises(ValueError, match="UMambaBot: strides needs an int or one entry per stage"):
        UMambaBot(3, 1, 2, features=(8, 16), strides=(1, 2, 2))
    with pytest.raises(ValueError, match="NormMambaLayer expects .* 16 channels"):
        NormMambaLayer(16)(torch.randn(1, 8, 4, 4))

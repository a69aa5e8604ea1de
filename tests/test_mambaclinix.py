# Copyright (c) monai-mamba contributors. Licensed under the Apache License, Version 2.0.
"""MambaClinix: parameter counts of the official 6-stage plan, the HGCN/Mamba split, outputs, init, input checks."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from monai_mamba.blocks import HGCNBlock, ResidualMambaLayer
from monai_mamba.nets import MambaClinix

TINY = dict(features=(8, 16, 32, 32), strides=(1, 2, 2, 2))


@pytest.mark.parametrize("in_channels, out_channels, official", [(4, 4, 48_878_391), (1, 3, 48_874_994)])
def test_parameter_count_is_the_official_minus_its_unused_skip_scales(in_channels, out_channels, official):
    network = MambaClinix(3, in_channels, out_channels)
    mamba_stages = sum(isinstance(b, ResidualMambaLayer) for b in network.encoder_blocks)
    assert mamba_stages == 3  # one unused skip_scale scalar each in the official code
    assert sum(p.numel() for p in network.parameters()) == official - mamba_stages


@pytest.mark.parametrize(
    "features, hgcn_orders",
    [((8, 16, 32, 64, 64, 64), [2, 3, 4]), ((8, 16, 32, 64, 64), [2, 3, 4]), ((8, 16, 32, 64), [2, 3])],
)
def test_first_half_of_the_stages_are_hgcn_of_order_s_plus_2_then_mamba(features, hgcn_orders):
    network = MambaClinix(3, 1, 2, features=features, strides=(1,) + (2,) * (len(features) - 1))
    blocks = list(network.encoder_blocks)
    hgcn = [b for b in blocks if isinstance(b, HGCNBlock)]
    assert blocks[: len(hgcn)] == hgcn and all(isinstance(b, ResidualMambaLayer) for b in blocks[len(hgcn) :])
    assert [len(b.gated_conv.dims) for b in hgcn] == hgcn_orders
    assert [b.gated_conv.dims[-1] for b in hgcn] == [f // 2 for f in features[: len(hgcn)]]  # transform width c/2
    rates = torch.linspace(0, 0.5, len(features)).tolist()
    for s, block in enumerate(hgcn):
        assert getattr(block.drop_path, "drop_prob", 0.0) == pytest.approx(rates[s])
    assert network.encoder_norm.weight.shape == (features[len(hgcn) - 1],)  # before the last HGCN stage


def test_deep_supervision_in_training_full_map_in_eval():
    network = MambaClinix(3, 2, 3, **TINY)
    x = torch.randn(1, 2, 16, 16, 16)
    outputs = network.train()(x)
    assert [tuple(o.shape) for o in outputs] == [(1, 3, 16, 16, 16), (1, 3, 8, 8, 8), (1, 3, 4, 4, 4)]
    sum(o.mean() for o in outputs).backward()
    assert all(p.grad is not None for p in network.seg_heads.parameters())
    assert network.eval()(x).shape == (1, 3, 16, 16, 16)
    assert MambaClinix(3, 2, 3, deep_supervision=False, **TINY).train()(x).shape == (1, 3, 16, 16, 16)


def test_anisotropic_strides_two_dimensional_and_input_errors():
    network = MambaClinix(3, 1, 2, features=(8, 16, 32), strides=(1, (2, 2, 1), 2), kernel_sizes=[(3, 3, 1), 3, 3])
    assert network.eval()(torch.randn(1, 1, 16, 16, 8)).shape == (1, 2, 16, 16, 8)
    assert network.encoder_stages[0].conv1.weight.shape[2:] == (3, 3, 1)
    with pytest.raises(ValueError, match=r"divisible by \[4, 4, 2\], got \(16, 16, 7\)"):
        network(torch.randn(1, 1, 16, 16, 7))
    with pytest.raises(ValueError, match="in_channels=1"):
        network(torch.randn(1, 3, 16, 16, 8))
    with pytest.raises(ValueError, match="one entry per stage"):
        MambaClinix(3, 1, 2, features=(8, 16), strides=(1, 2, 2))
    assert MambaClinix(2, 1, 2, **TINY).eval()(torch.randn(2, 1, 32, 16)).shape == (2, 2, 32, 16)


def test_he_initialisation_of_convolutions_not_of_the_mamba_conv1d():
    torch.manual_seed(0)
    network = MambaClinix(3, 1, 2, features=(32, 64, 64), strides=(1, 2, 2))
    conv = network.decoder_stages[0].conv1  # 128 -> 64, k3: fan_in 3456
    expected_std = (2 / (1 + 1e-4) / conv.weight[0].numel()) ** 0.5
    assert conv.weight.std().item() == pytest.approx(expected_std, rel=0.05)
    assert torch.all(conv.bias == 0)
    mamba_conv = network.encoder_blocks[2].mamba.conv1d
    assert mamba_conv.bias.abs().sum() > 0  # Mamba's own (uniform) initialisation kept, as the official code


OFFICIAL_STATE_DICTS = json.loads((Path(__file__).parent / "data" / "mambaclinix_official_state_dict.json").read_text())


def official_state_dict(
    names_and_shapes: dict[str, list[int]], seed: int = 0, ours: dict[str, torch.Tensor] | None = None
) -> dict[str, torch.Tensor]:
    """A state_dict with the official names and shapes, random (or, given ``ours``, our network's tensors under the
    official names; ``skip_scale`` 1); the names the official network registers twice hold the same tensor, as in a
    real checkpoint (``decoder.encoder.*`` = ``encoder.*``, ``all_modules.0/1`` = the block's conv/norm)."""
    generator = torch.Generator().manual_seed(seed)
    state = {}
    for key, shape in names_and_shapes.items():
        primary = key[len("decoder.") :] if key.startswith("decoder.encoder.") else key
        primary = primary.replace(".all_modules.0.", ".conv.").replace(".all_modules.1.", ".norm.")
        if primary not in state:
            targets = MambaClinix.official_checkpoint_filter(primary, torch.empty(0))
            if ours is None:
                state[primary] = torch.randn(shape, generator=generator)
            else:
                state[primary] = ours[targets[0][0]].clone() if targets else torch.ones(shape)
        state[key] = state[primary]
    return {key: state[key] for key in names_and_shapes}


@pytest.mark.parametrize("official", OFFICIAL_STATE_DICTS["networks"], ids=lambda o: f"{len(o['features'])}-stages")
def test_official_checkpoint_names_map_onto_ours(official):
    """Every tensor of the official network's state_dict (names and shapes listed from the official code) lands in
    ours or is one of its duplicates/unused ``skip_scale``; every tensor of ours is filled (672 -> 286 at the
    paper's 6-stage plan). The forward equality under this mapping was checked against the official network (float64,
    max difference 0.0 at three plans); this test keeps the mapping complete."""
    net = MambaClinix(
        3,
        official["in_channels"],
        official["out_channels"],
        features=official["features"],
        strides=official["strides"],
        kernel_sizes=official["kernel_sizes"],
    )
    weights = official_state_dict(official["state_dict"])
    mapped = {}
    for key, tensor in weights.items():
        for target, value in MambaClinix.official_checkpoint_filter(key, tensor):
            assert target not in mapped, f"{key} -> {target} twice"
            mapped[target] = value
    dropped = [k for k in weights if not MambaClinix.official_checkpoint_filter(k, weights[k])]
    assert all(k.startswith("decoder.encoder.") or ".all_modules." in k or k.endswith("skip_scale") for k in dropped)
    net.load_state_dict(mapped, strict=True)
    assert len(mapped) == len(net.state_dict())
    if len(official["features"]) == 6:
        assert (len(weights), len(mapped)) == (672, 286)
    # a norm lands in a norm, a kernel in a kernel: the HGCN's layer-norm gamma, the projection norm of a strided
    # residual block and the decoder's 1x1 conv skip, by value
    torch.testing.assert_close(net.encoder_blocks[0].norm1.weight, weights["encoder.encoder_layers.0.lynorm1.gamma"])
    torch.testing.assert_close(
        net.encoder_stages[1].skip[2].weight, weights["encoder.stages.1.blocks.0.skip.1.norm.weight"]
    )
    torch.testing.assert_close(net.decoder_stages[0].skip.weight, weights["decoder.stages.0.conv3.weight"])

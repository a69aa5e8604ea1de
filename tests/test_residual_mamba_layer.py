# Copyright (c) monai-mamba contributors. Licensed under the Apache License, Version 2.0.
"""ResidualMambaLayer: x + proj(LN(Mamba(LN(tokens)))) in float32, no dead parameters."""

from __future__ import annotations

import pytest
import torch

from monai_mamba.blocks import MambaLayer, ResidualMambaLayer


def test_matches_the_written_out_formula_with_one_shared_norm():
    torch.manual_seed(0)
    layer = ResidualMambaLayer(8).double()
    x = torch.randn(2, 8, 3, 4, 5, dtype=torch.float64)
    tokens = x.flatten(2).transpose(1, 2)  # raster order
    out = layer.proj(layer.norm(layer.mamba(layer.norm(tokens))))
    expected = x + out.transpose(1, 2).reshape(x.shape)
    torch.testing.assert_close(layer(x).double(), expected)


def test_parameters_are_mamba_layernorm_and_projection_only():
    layer = ResidualMambaLayer(32)
    mamba = sum(p.numel() for p in MambaLayer(32).parameters())
    assert sum(p.numel() for p in layer.parameters()) == mamba + 2 * 32 + (32 * 32 + 32)
    assert not hasattr(layer, "skip_scale")  # created but never used by the official code: left out


def test_float32_under_fp16_autocast_bf16_under_bf16_and_clear_channel_error():
    """float32 under float16 autocast (as the official code); under bfloat16 autocast the layer takes part in it."""
    layer = ResidualMambaLayer(4)
    with torch.autocast("cpu", dtype=torch.float16):
        out = layer(torch.randn(1, 4, 8, 8).half())
    assert out.dtype == torch.float32 and torch.isfinite(out).all()
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = layer(torch.randn(1, 4, 8, 8).bfloat16())
    assert out.dtype == torch.bfloat16 and torch.isfinite(out).all()
    with pytest.raises(ValueError, match="channels=4"):
        layer(torch.randn(1, 3, 8, 8))

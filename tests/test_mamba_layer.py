# Copyright (c) monai-mamba contributors. Licensed under the Apache License, Version 2.0.
import math

import pytest
import torch
import torch.nn.functional as F

from monai_mamba.blocks import MambaLayer
from monai_mamba.ops.scan_ref import selective_scan_ref

MAMBA_SSM_KEYS = {
    "in_proj.weight",
    "conv1d.weight",
    "conv1d.bias",
    "x_proj.weight",
    "dt_proj.weight",
    "dt_proj.bias",
    "A_log",
    "D",
    "out_proj.weight",
}


@pytest.mark.parametrize("d_model, count", [(32, 9_920), (64, 32_640), (96, 68_160)])
def test_parameter_names_shapes_and_counts_match_mamba_ssm(d_model, count):
    layer = MambaLayer(d_model)
    rank, inner = math.ceil(d_model / 16), 2 * d_model
    shapes = {k: tuple(v.shape) for k, v in layer.state_dict().items()}
    assert set(shapes) == MAMBA_SSM_KEYS
    assert shapes["A_log"] == (inner, 16)
    assert shapes["conv1d.weight"] == (inner, 1, 4)
    assert shapes["x_proj.weight"] == (rank + 32, inner)
    assert shapes["dt_proj.weight"] == (inner, rank)
    assert sum(p.numel() for p in layer.parameters()) == count


def test_initialisation_follows_mamba_ssm():
    layer = MambaLayer(64)
    dt = F.softplus(layer.dt_proj.bias)
    assert dt.min() >= 1e-4 - 1e-7 and dt.max() <= 0.1 + 1e-6
    assert layer.dt_proj.weight.abs().max() <= layer.dt_rank**-0.5
    torch.testing.assert_close(torch.exp(layer.A_log[0]), torch.arange(1, 17, dtype=torch.float32))
    assert torch.equal(layer.D, torch.ones(128))


def _mamba_ssm_slow_path(layer: MambaLayer, hidden: torch.Tensor) -> torch.Tensor:
    """mamba_ssm ``Mamba.forward`` without the fused kernels, written out step by step (float64 scan)."""
    batch, length, _ = hidden.shape
    xz = (layer.in_proj.weight @ hidden.reshape(batch * length, -1).T).reshape(-1, batch, length).transpose(0, 1)
    if layer.in_proj.bias is not None:
        xz = xz + layer.in_proj.bias[:, None]
    x, z = xz.chunk(2, dim=1)
    x = F.silu(layer.conv1d(x)[..., :length])
    x_dbl = layer.x_proj(x.transpose(1, 2).reshape(batch * length, -1))
    dt, B, C = torch.split(x_dbl, [layer.dt_rank, layer.d_state, layer.d_state], dim=-1)
    dt = (layer.dt_proj.weight @ dt.T).reshape(-1, batch, length).transpose(0, 1)
    B = B.reshape(batch, length, -1).transpose(1, 2).unsqueeze(1)
    C = C.reshape(batch, length, -1).transpose(1, 2).unsqueeze(1)
    y = selective_scan_ref(
        x.double(),
        dt.double(),
        -torch.exp(layer.A_log.double()),
        B.double(),
        C.double(),
        layer.D.double(),
        z=z.double(),
        delta_bias=layer.dt_proj.bias.double(),
        delta_softplus=True,
    )
    return layer.out_proj(y.float().transpose(1, 2))


@pytest.mark.parametrize("bias", [False, True])
@pytest.mark.parametrize("backend", ["cpu", "torch"])
def test_forward_matches_the_mamba_ssm_computation(backend, bias):
    torch.manual_seed(0)
    layer = MambaLayer(32, bias=bias, scan_backend=backend)
    hidden = torch.randn(2, 150, 32)
    torch.testing.assert_close(layer(hidden), _mamba_ssm_slow_path(layer, hidden), rtol=1e-4, atol=1e-5)


def test_state_dict_round_trip_into_a_fresh_layer():
    torch.manual_seed(0)
    trained, fresh = MambaLayer(32), MambaLayer(32)
    hidden = torch.randn(1, 40, 32)
    assert not torch.allclose(trained(hidden), fresh(hidden))
    fresh.load_state_dict(trained.state_dict())
    assert torch.equal(trained(hidden), fresh(hidden))


def test_backward_reaches_every_parameter():
    layer = MambaLayer(16)
    layer(torch.randn(2, 20, 16)).square().mean().backward()
    for name, param in layer.named_parameters():
        assert param.grad is not None and torch.isfinite(param.grad).all() and param.grad.abs().sum() > 0, name


def test_wrong_token_shape_gets_a_clear_error():
    with pytest.raises(ValueError, match=r"expects tokens \(batch, length, d_model=32\), got shape \(2, 16, 8, 8\)"):
        MambaLayer(32)(torch.zeros(2, 16, 8, 8))

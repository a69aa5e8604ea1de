# Copyright (c) monai-mamba contributors. Licensed under the Apache License, Version 2.0.
import pytest
import torch

from monai_mamba.blocks import MambaLayer, RVMLayer


def test_parameters_follow_the_official_layer():
    layer = RVMLayer(32, 64)
    names = {k.split(".")[0] for k in layer.state_dict()}
    assert names == {"norm", "mamba", "proj", "skip_scale"}
    assert tuple(layer.proj.weight.shape) == (64, 32) and layer.proj.bias is not None
    assert torch.equal(layer.skip_scale, torch.ones(1))
    expected = sum(p.numel() for p in MambaLayer(32).parameters()) + 2 * 32 + 32 * 64 + 64 + 1
    assert sum(p.numel() for p in layer.parameters()) == expected


@pytest.mark.parametrize("shape", [(2, 16, 6, 5), (1, 16, 3, 4, 5)])
def test_forward_is_the_formula_on_raster_tokens(shape):
    torch.manual_seed(0)
    layer = RVMLayer(16, 8)
    x = torch.randn(shape)
    tokens = x.flatten(2).transpose(1, 2)
    expected = layer.proj(layer.norm(layer.mamba(layer.norm(tokens)) + layer.skip_scale * tokens))
    expected = expected.transpose(1, 2).reshape(shape[0], 8, *shape[2:])
    torch.testing.assert_close(layer(x), expected)


def test_computes_in_float32_under_fp16_autocast_and_in_bf16_under_bf16():
    """float32 under float16 autocast, equal to the float32 layer (the official code upcasts float16); under
    bfloat16 autocast its projections run in bfloat16."""
    layer = RVMLayer(16, 16)
    x = torch.randn(1, 16, 4, 4)
    with torch.autocast("cpu", dtype=torch.float16):
        out = layer(x)
    assert out.dtype == torch.float32
    torch.testing.assert_close(out, layer(x))
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = layer(x)
    assert out.dtype == torch.bfloat16 and torch.isfinite(out).all()


def test_wrong_channels_get_a_clear_error():
    with pytest.raises(ValueError, match=r"channels=16.*got shape \(1, 8, 4, 4\)"):
        RVMLayer(16, 16)(torch.zeros(1, 8, 4, 4))


def test_activation_checkpointing_gives_the_same_output_and_gradients_and_keeps_the_keys():
    torch.manual_seed(0)
    plain = RVMLayer(4, 6).double()
    checkpointed = RVMLayer(4, 6, activation_checkpointing=True).double()
    checkpointed.load_state_dict(plain.state_dict())  # same parameter names: official checkpoints still load
    x = torch.randn(2, 4, 5, 7, dtype=torch.float64)
    results = []
    for layer in (plain, checkpointed):
        inputs = x.clone().requires_grad_()
        out = layer(inputs)
        out.square().sum().backward()
        results.append((out.detach(), inputs.grad, [p.grad for p in layer.parameters()]))
    (out_a, dx_a, grads_a), (out_b, dx_b, grads_b) = results
    torch.testing.assert_close(out_b, out_a, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(dx_b, dx_a, rtol=1e-12, atol=1e-12)
    for a, b in zip(grads_a, grads_b, strict=True):
        torch.testing.assert_close(b, a, rtol=1e-12, atol=1e-12)

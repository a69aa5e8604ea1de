# Copyright (c) monai-mamba contributors. Licensed under the Apache License, Version 2.0.
import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

from monai_mamba.ops import causal_conv1d


@pytest.mark.parametrize("activation", [None, "silu"])
def test_matches_mamba_conv1d_module_path(activation):
    """Same result as mamba_ssm's slow path: ``conv1d(x)[..., :l]`` with padding w - 1, then SiLU."""
    torch.manual_seed(0)
    conv = nn.Conv1d(6, 6, kernel_size=4, groups=6, padding=3)
    x = torch.randn(2, 6, 11)
    expected = conv(x)[..., :11]
    if activation:
        expected = F.silu(expected)
    out = causal_conv1d(x, conv.weight.squeeze(1), conv.bias, activation)
    torch.testing.assert_close(out, expected)


def test_is_causal():
    x = torch.randn(1, 3, 10)
    weight = torch.randn(3, 4)
    changed = x.clone()
    changed[..., 6:] += 1.0
    assert torch.equal(causal_conv1d(x, weight)[..., :6], causal_conv1d(changed, weight)[..., :6])


def test_unknown_activation_is_refused():
    with pytest.raises(ValueError, match="activation must be None or 'silu'"):
        causal_conv1d(torch.zeros(1, 2, 3), torch.zeros(2, 4), activation="relu")


def _reference(x, weight, bias, activation):
    out = F.conv1d(x, weight.unsqueeze(1), bias, padding=weight.shape[-1] - 1, groups=x.shape[1])[..., : x.shape[-1]]
    return F.silu(out) if activation else out


@pytest.mark.parametrize("activation", [None, "silu"])
@pytest.mark.parametrize("length", [1, 3, 257, 700])  # shorter than the filter, one block and a bit, several blocks
@pytest.mark.parametrize("layout", ["channels_last", "contiguous"])
def test_compiled_kernel_equals_conv1d_in_float64_gradients_included(activation, length, layout):
    """The numba kernel (CPU) against F.conv1d: outputs and the gradients of input, weight and bias."""
    torch.manual_seed(0)
    if layout == "channels_last":  # as a Mamba layer's input projection gives it: (b, l, 2d) split into x and z
        x = torch.randn(2, length, 2 * 24, dtype=torch.float64).transpose(1, 2)[:, :24]
    else:
        x = torch.randn(2, 24, length, dtype=torch.float64)
    x.requires_grad_()
    weight = torch.randn(24, 4, dtype=torch.float64, requires_grad=True)
    bias = torch.randn(24, dtype=torch.float64, requires_grad=True)
    grad = torch.randn(2, 24, length, dtype=torch.float64)
    out = causal_conv1d(x, weight, bias, activation)
    expected = _reference(x, weight, bias, activation)
    torch.testing.assert_close(out, expected, rtol=1e-12, atol=1e-12)
    for got, want in zip(
        torch.autograd.grad(out, (x, weight, bias), grad), torch.autograd.grad(expected, (x, weight, bias), grad)
    ):
        torch.testing.assert_close(got, want, rtol=1e-12, atol=1e-12)


def test_compiled_kernel_is_a_checked_pytorch_operator():
    """torch.library.opcheck: schema, fake (meta) implementation, autograd registration and AOT dispatch."""
    from monai_mamba.ops.causal_conv1d_cpu import causal_conv1d_cpu

    x = torch.randn(2, 40, 2 * 8, dtype=torch.float64).transpose(1, 2)[:, :8].requires_grad_()
    weight = torch.randn(8, 4, dtype=torch.float64, requires_grad=True)
    bias = torch.randn(8, dtype=torch.float64, requires_grad=True)
    for silu in (False, True):
        torch.library.opcheck(torch.ops.monai_mamba.causal_conv1d_cpu.default, (x, weight, bias, silu))
    assert causal_conv1d_cpu(x, weight, bias, True).shape == (2, 8, 40)


@pytest.mark.parametrize("layout", ["channels_last", "contiguous"])
def test_compiled_kernel_reads_and_writes_bfloat16_for_inference(layout):
    """Under no_grad a bfloat16 input (CPU bfloat16 autocast) goes into the kernel as its bits and the output comes
    out in bfloat16: bit-equal to summing a float32 copy and rounding once, in the input's layout; with a gradient to
    follow it still takes the float32 copy (the backward needs float32) and gives the same output."""
    pytest.importorskip("numba")
    torch.manual_seed(0)
    if layout == "channels_last":
        x = torch.randn(2, 300, 2 * 24).transpose(1, 2)[:, :24].bfloat16()
    else:
        x = torch.randn(2, 24, 300).bfloat16()
    weight, bias = torch.randn(24, 4), torch.randn(24)
    with torch.no_grad():
        out = causal_conv1d(x, weight, bias, activation="silu")
    expected = causal_conv1d(x.float(), weight, bias, activation="silu").bfloat16()
    assert out.dtype == torch.bfloat16 and out.stride(1) == 1
    assert torch.equal(out, expected)
    trained = causal_conv1d(x.requires_grad_(), weight, bias, activation="silu")
    assert torch.equal(trained, expected) and trained.requires_grad

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

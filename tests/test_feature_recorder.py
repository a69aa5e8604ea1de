# Copyright (c) monai-mamba contributors. Licensed under the Apache License, Version 2.0.
"""FeatureRecorder: outputs of named modules from the latest forward pass, via hooks."""

from __future__ import annotations

import pytest
import torch
import torch.nn as nn

from monai_mamba.features import FeatureRecorder


def _net():
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2))


def test_records_each_named_output_once_and_pop_forgets():
    net = _net()
    recorder = FeatureRecorder(net, ["0", "2", "0"])
    x = torch.randn(5, 3)
    out = net(x)
    features = recorder.pop()
    assert set(features) == {"0", "2"}
    torch.testing.assert_close(features["0"], torch.nn.functional.linear(x, net[0].weight, net[0].bias))
    assert features["2"] is out  # the very tensor: gradients flow through it
    assert recorder.pop() == {}


def test_training_only_skips_eval_passes_and_remove_detaches():
    net = _net()
    recorder = FeatureRecorder(net, ["1"], training_only=True)
    net.eval()
    net(torch.randn(1, 3))
    assert recorder.pop() == {}
    net.train()
    net(torch.randn(1, 3))
    assert set(recorder.pop()) == {"1"}
    recorder.remove()
    net(torch.randn(1, 3))
    assert recorder.pop() == {}


def test_unknown_names_and_non_tensor_outputs_are_errors():
    with pytest.raises(ValueError, match=r"no module\(s\) \['3'\]"):
        FeatureRecorder(_net(), ["3"])

    class Pair(nn.Module):
        def forward(self, x):
            return x, x

    net = nn.Sequential(Pair())
    FeatureRecorder(net, ["0"])
    with pytest.raises(TypeError, match="returns tuple"):
        net(torch.randn(1))

# Copyright (c) monai-mamba contributors. Licensed under the Apache License, Version 2.0.
"""torch.compile (inductor, CPU) compiles every network as one graph, the compiled kernels (scan, causal conv1d)
included as custom operators, and the compiled network's output and parameter gradients equal eager's."""

from __future__ import annotations

import pytest
import torch
from network_cases import SMALL_NETWORKS


@pytest.mark.slow  # inductor compiles forward and backward: 20-70 s per network on 2 cores
@pytest.mark.parametrize("name", list(SMALL_NETWORKS))
def test_compiled_network_output_and_gradients_equal_eager(name):
    torch.manual_seed(0)
    build, shape = SMALL_NETWORKS[name]
    # eval: drop-path draws random numbers, which compiled code draws differently; gradients flow as in training
    network = build().eval()
    x = torch.randn(shape)

    def output_and_gradients(model):
        network.zero_grad(set_to_none=True)
        out = model(x)
        out.square().mean().backward()
        return out.detach(), {k: p.grad for k, p in network.named_parameters()}

    expected, expected_grads = output_and_gradients(network)
    compiled = torch.compile(network, fullgraph=True)  # fullgraph: a graph break is an error
    out, grads = output_and_gradients(compiled)
    torch.testing.assert_close(out, expected, atol=1e-4, rtol=1e-4)
    assert grads.keys() == expected_grads.keys()
    for key, grad in grads.items():
        if expected_grads[key] is None:  # unused in evaluation (deep-supervision heads)
            assert grad is None, key
            continue
        scale = expected_grads[key].abs().max().item()
        torch.testing.assert_close(grad, expected_grads[key], atol=1e-3 * scale + 1e-6, rtol=1e-3, msg=key)

# Copyright (c) monai-mamba contributors. Licensed under the Apache License, Version 2.0.
"""Every network exports with torch.jit.trace (what `monai.bundle ckpt_export --use_trace True` runs), with
torch.export and to ONNX (torch's exporter, what `monai.bundle onnx_export` runs), and the exported model gives the
eager model's output (ONNX: run by onnxruntime). torch.jit.trace and ONNX record the pure-PyTorch scan and conv1d
(they record plain tensor operations only); torch.export records the compiled CPU kernels as one operator each."""

from __future__ import annotations

import io

import pytest
import torch
from network_cases import FAST_INPUTS
from network_cases import SMALL_NETWORKS as NETWORKS

from monai_mamba.blocks import MambaLayer

SLOW = pytest.mark.slow  # tracing unrolls the scan's chunk loops: seconds per network


def _eager(name, shape=None):
    torch.manual_seed(0)
    build, default_shape = NETWORKS[name]
    shape = shape or default_shape
    network = build().eval()  # eval: deep-supervision networks return the full-resolution map
    x = torch.randn(shape)
    with torch.no_grad():
        return network, x, network(x)  # eager output: the compiled CPU scan


@pytest.mark.parametrize("name", [pytest.param(n, marks=[] if n == "MambaClinix" else SLOW) for n in NETWORKS])
def test_torchscript_trace_saves_loads_and_matches_eager(name):
    network, x, expected = _eager(name, FAST_INPUTS[name])  # small: tracing time grows with the unrolled scan
    with torch.no_grad():
        traced = torch.jit.trace(network, x)
    buffer = io.BytesIO()
    torch.jit.save(traced, buffer)
    buffer.seek(0)
    with torch.no_grad():
        torch.testing.assert_close(torch.jit.load(buffer)(x), expected, atol=1e-4, rtol=1e-4)


@pytest.mark.parametrize("name", [pytest.param(n, marks=[] if n == "MambaClinix" else SLOW) for n in NETWORKS])
def test_torch_export_matches_eager(name):
    network, x, expected = _eager(name)
    with torch.no_grad():
        exported = torch.export.export(network, (x,))
        torch.testing.assert_close(exported.module()(x), expected, atol=1e-4, rtol=1e-4)
    operators = {  # nested graphs included (the Mamba layers run in an autocast-disabled region)
        str(node.target)
        for module in exported.graph_module.modules()
        if isinstance(module, torch.fx.GraphModule)
        for node in module.graph.nodes
        if node.op == "call_function"
    }
    # one node per scan, not the unrolled loops: the one-pass inference kernel, as exported under no_grad
    assert "monai_mamba.selective_scan_cpu_inference.default" in operators
    # a Mamba layer's causal conv1d, one node each; VMamba's SS2D has none
    has_mamba_layer = any(isinstance(module, MambaLayer) for module in network.modules())
    assert ("monai_mamba.causal_conv1d_cpu.default" in operators) == has_mamba_layer


@pytest.mark.slow
@pytest.mark.parametrize("name", list(NETWORKS))
def test_onnx_export_runs_in_onnxruntime_and_matches_eager(name, tmp_path):
    ort = pytest.importorskip("onnxruntime")
    pytest.importorskip("onnxscript")
    network, x, expected = _eager(name, FAST_INPUTS[name])  # small: export time grows with the unrolled scan
    # with onnxscript's graph optimizer (on by default), though it takes 2-3x the export itself on these unrolled scan
    # graphs (onnxscript 0.7.2, Mamba-UNet at 32^2 on 2 cores: 132-153 s, 43 s without): without it the 3-D networks'
    # graphs hold a Conv whose bias onnxruntime 1.32 refuses ("bias must be a 1D tensor of size output_channels")
    path = str(tmp_path / "model.onnx")
    torch.onnx.export(network, (x,), path, input_names=["image"], output_names=["pred"])
    session = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    (output,) = session.run(None, {"image": x.numpy()})
    torch.testing.assert_close(torch.from_numpy(output), expected, atol=1e-4, rtol=1e-4)

# Copyright (c) monai-mamba contributors. Licensed under the Apache License, Version 2.0.
"""``CPUBF16Inferer`` and a bundle's ``cpu_bf16``: bfloat16 autocast on a CPU for the training forward, validation
and inference, outputs in float32, float32 with one warning on a CPU without native bfloat16; the causal
convolution's float32 sums under it. Every network's bfloat16 forward and backward against float64 is in
``test_amp.py``."""

from __future__ import annotations

import warnings

import nibabel as nib
import pytest
import torch
from bundle_helpers import run_bundle, tiny_dataset
from monai.inferers import SimpleInferer, SlidingWindowInferer

from monai_mamba.inferers import CPUBF16Inferer, cpu_bf16
from monai_mamba.ops import causal_conv1d, causal_conv1d_backend

needs_native_bf16 = pytest.mark.skipif(not cpu_bf16.cpu_has_native_bf16(), reason="this CPU has no native bfloat16")


class _Recorder(torch.nn.Module):
    """A convolution that records whether CPU autocast was on and its output dtype at each call."""

    def __init__(self):
        super().__init__()
        self.conv = torch.nn.Conv2d(1, 2, 3, padding=1)
        self.calls: list[tuple[bool, torch.dtype]] = []

    def forward(self, x):
        out = self.conv(x)
        self.calls.append((torch.is_autocast_enabled("cpu"), out.dtype))
        return out


def test_disabled_is_exactly_the_wrapped_inferer():
    network, x = _Recorder(), torch.randn(1, 1, 16, 16)
    out = CPUBF16Inferer(SimpleInferer(), enabled=False)(x, network)
    assert torch.equal(out, network(x)) and network.calls[0] == (False, torch.float32)


@needs_native_bf16
def test_enabled_runs_the_network_in_bfloat16_and_returns_float32_with_a_gradient():
    network, x = _Recorder(), torch.randn(1, 1, 16, 16)
    out = CPUBF16Inferer(SimpleInferer())(x, network)
    assert network.calls == [(True, torch.bfloat16)] and out.dtype == torch.float32
    out.sum().backward()
    assert network.conv.weight.grad is not None and torch.isfinite(network.conv.weight.grad).all()
    assert not torch.is_autocast_enabled("cpu")  # autocast ends with the call


@needs_native_bf16
def test_sliding_window_sums_float32_tiles_close_to_float32():
    torch.manual_seed(0)
    network, x = _Recorder(), torch.randn(1, 1, 40, 40)
    window = SlidingWindowInferer(roi_size=(16, 16), sw_batch_size=2, overlap=0.5, mode="gaussian")
    with torch.no_grad():
        expected = window(x, network)
        got = CPUBF16Inferer(window)(x, network)
    assert got.dtype == torch.float32 and all(call == (True, torch.bfloat16) for call in network.calls[-4:])
    # bfloat16 keeps 8 significant bits: a relative error of 2^-8 on each tile, averaged by the window
    torch.testing.assert_close(got, expected, rtol=0.02, atol=0.02)


def test_deep_supervision_outputs_are_each_returned_in_float32():
    class Heads(torch.nn.Module):
        def forward(self, x):
            return [x.bfloat16(), {"aux": x.half(), "index": torch.arange(2)}]

    out = cpu_bf16._BF16Network(Heads())(torch.randn(2))
    assert out[0].dtype == torch.float32 and out[1]["aux"].dtype == torch.float32
    assert out[1]["index"].dtype == torch.int64


def test_a_cpu_without_native_bfloat16_is_told_once_and_runs_float32(monkeypatch):
    monkeypatch.setattr(cpu_bf16, "cpu_has_native_bf16", lambda: False)
    cpu_bf16._warn_no_native_bf16.cache_clear()
    network, x, inferer = _Recorder(), torch.randn(1, 1, 8, 8), CPUBF16Inferer(SimpleInferer())
    with pytest.warns(UserWarning, match="no native bfloat16"):
        inferer(x, network)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        inferer(x, network)
    assert network.calls == [(False, torch.float32)] * 2
    cpu_bf16._warn_no_native_bf16.cache_clear()


def test_inputs_off_the_cpu_pass_through():
    inferer = CPUBF16Inferer(SimpleInferer())
    assert not inferer.active_for(torch.empty(1, device="meta"))


@needs_native_bf16
@pytest.mark.parametrize("norm", [torch.nn.InstanceNorm3d(4, affine=True), torch.nn.GroupNorm(2, 4)])
def test_norms_under_cpu_autocast_accumulate_in_float32_and_round_once(norm):
    """CPU autocast keeps the norms' bfloat16 output (it has no float32 rule for them, unlike CUDA's); torch's CPU
    kernels sum the statistics in float32, so the result is float32's, rounded once."""
    x = torch.randn(2, 4, 8, 8, 8).bfloat16()
    with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16):
        got = norm(x)
    expected = norm(x.float()).bfloat16()
    assert got.dtype == torch.bfloat16
    torch.testing.assert_close(got.float(), expected.float(), rtol=2**-7, atol=2**-7)


@needs_native_bf16
def test_causal_conv_under_bfloat16_sums_in_float32_on_the_cpu_kernel():
    pytest.importorskip("numba")
    torch.manual_seed(0)
    x = torch.randn(2, 16, 300).bfloat16().requires_grad_()
    weight, bias = torch.randn(16, 4, requires_grad=True), torch.randn(16)
    assert causal_conv1d_backend(x, 4) == "cpu"
    out = causal_conv1d(x, weight, bias, activation="silu")
    expected = causal_conv1d(x.detach().double(), weight.detach().double(), bias.double(), activation="silu")
    assert out.dtype == torch.bfloat16
    torch.testing.assert_close(out.double(), expected.bfloat16().double(), rtol=0, atol=0.02)
    out.float().sum().backward()
    assert x.grad.dtype == torch.bfloat16 and torch.isfinite(weight.grad).all()


@needs_native_bf16
def test_bundle_cpu_bf16_trains_an_epoch_and_infers_in_bfloat16(tmp_path, monkeypatch):
    """``cpu_bf16: true``: the training forward, validation and inference call the network under bfloat16 autocast;
    the epoch trains to a finite loss, saves the model, and inference writes a prediction of the input's size."""
    autocast_calls = []
    call = cpu_bf16._BF16Network.__call__

    def recorded(self, *args, **kwargs):
        autocast_calls.append(args[0].shape)
        return call(self, *args, **kwargs)

    monkeypatch.setattr(cpu_bf16._BF16Network, "__call__", recorded)
    data = tiny_dataset(tmp_path, 2, 2, 32)
    overrides = dict(bundle_root=str(tmp_path / "bundle"), dataset_dir=data, patch_size=[32, 32], cpu_bf16=True)
    network = {"network_def#init_filters": 8}
    workflow = run_bundle(
        "lightm_unet", ["train.yaml"], **overrides, max_epochs=1, batch_size=1, samples_per_image=1, **network
    )
    trainer = workflow.parser.get_parsed_content("train#trainer")
    assert trainer.state.epoch == 1 and torch.isfinite(torch.tensor(trainer.state.output[0]["loss"]))
    assert (tmp_path / "bundle" / "models" / "model.pt").is_file()
    trained = len(autocast_calls)
    assert trained >= 2 + 2  # two training steps, two validation cases

    run_bundle("lightm_unet", ["inference.json"], **overrides, **network)
    assert len(autocast_calls) > trained
    (prediction,) = (tmp_path / "bundle" / "predictions").glob("*_seg.nii.gz")
    assert nib.load(prediction).shape[:2] == (32, 32)


@pytest.mark.parametrize("layer", ["RVMLayer", "ResidualMambaLayer", "NormMambaLayer"])
def test_unet_mamba_layers_take_part_in_bfloat16_autocast_only(layer):
    """LightM-UNet's, MambaClinix's and U-Mamba's Mamba layers: float32 under float16 autocast (as the official code),
    bfloat16 projections under bfloat16 autocast, close to the float32 layer."""
    import monai_mamba.blocks as blocks

    torch.manual_seed(0)
    module = getattr(blocks, layer)(8, 8) if layer == "RVMLayer" else getattr(blocks, layer)(8)
    x = torch.randn(2, 8, 6, 5)
    expected = module(x)
    seen = []
    module.mamba.register_forward_hook(lambda _module, _inputs, out: seen.append(out.dtype))
    for dtype, mamba_dtype in ((torch.float16, torch.float32), (torch.bfloat16, torch.bfloat16)):
        with torch.autocast("cpu", dtype=dtype):
            out = module(x)
        assert seen.pop() == mamba_dtype, dtype
        error = ((out.float() - expected).norm() / expected.norm()).item()
        assert error < (2e-2 if dtype == torch.bfloat16 else 1e-6), (dtype, error)

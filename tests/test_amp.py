# Copyright (c) monai-mamba contributors. Licensed under the Apache License, Version 2.0.
"""Mixed precision on CPU: AMP's dtype logic (``torch.autocast`` to float16 and bfloat16) through the selective scan
and every network, on the numba (``cpu``) and pure-PyTorch (``torch``) backends; the kernel packages' path under
autocast is in ``test_kernel_contract.py``. And a bundle's ``amp: true`` on a CPU."""

from __future__ import annotations

import pytest
import torch
from bundle_helpers import run_bundle, tiny_dataset
from gradient_checks import assert_autocast_close, run_forward_backward
from network_cases import AUTOCAST_TOLERANCE, SMALL_NETWORKS, network_and_float64_truth
from scan_helpers import make_scan_inputs

from monai_mamba.ops import selective_scan

HALF = [torch.bfloat16, torch.float16]


@pytest.mark.parametrize("dtype", HALF, ids=["bf16", "fp16"])
@pytest.mark.parametrize("backend", ["cpu", "torch", "ref"])
def test_the_scan_state_is_float32_whatever_the_input_dtype(backend, dtype):
    """As mamba-ssm's kernel: half-precision inputs are read into float32, the state is kept in float32 and only ``y``
    is rounded, once. So the result equals the float32 scan of the same (upcast) inputs, rounded: a state kept in
    half precision would drift over the 300 steps."""
    inputs = make_scan_inputs(length=300)
    half = {
        k: None if v is None else v.detach().to(dtype if k in ("u", "delta", "B", "C", "z") else v.dtype)
        for k, v in inputs.items()
    }
    upcast = {k: None if v is None else v.float() for k, v in half.items()}
    y, state = selective_scan(**half, delta_softplus=True, return_last_state=True, backend=backend)
    y32, state32 = selective_scan(**upcast, delta_softplus=True, return_last_state=True, backend=backend)
    assert y.dtype == dtype and state.dtype == torch.float32
    torch.testing.assert_close(y, y32.to(dtype), rtol=0, atol=0)
    torch.testing.assert_close(state, state32, rtol=0, atol=0)


@pytest.mark.parametrize("dtype", HALF, ids=["bf16", "fp16"])
@pytest.mark.parametrize("backend", ["cpu", "torch"])
def test_the_scan_under_autocast_computes_in_float32(backend, dtype):
    inputs = {k: None if v is None else v.detach() for k, v in make_scan_inputs(length=100).items()}
    expected = selective_scan(**inputs, delta_softplus=True, backend=backend)
    with torch.autocast("cpu", dtype=dtype):
        actual = selective_scan(**inputs, delta_softplus=True, backend=backend)
    assert actual.dtype == torch.float32
    torch.testing.assert_close(actual, expected, rtol=0, atol=0)


@pytest.mark.parametrize("dtype", HALF, ids=["bf16", "fp16"])
@pytest.mark.parametrize("backend", ["cpu", "torch"])
@pytest.mark.parametrize("name", list(SMALL_NETWORKS))
def test_networks_under_autocast_are_finite_and_close_to_float64(name, backend, dtype):
    """Output in autocast's dtype (the last layer is a convolution), every gradient finite, and the output and
    gradients within the network's stated tolerance of float64 (``network_cases.AUTOCAST_TOLERANCE``)."""
    network, inputs, truth = network_and_float64_truth(name)
    result = run_forward_backward(network, inputs, backend, autocast=dtype)
    assert result["output"].dtype == dtype
    assert_autocast_close(result, truth, AUTOCAST_TOLERANCE[name][dtype], f"{name} on {backend} under {dtype}")


def test_bundle_amp_true_trains_and_validates_on_a_cpu(tmp_path, caplog):
    """MONAI's engines autocast to CUDA for ``amp``; on a CPU that is switched off with a warning, and the run trains
    as in float32 (GradScaler disabled too) instead of failing."""
    data = tiny_dataset(tmp_path, 2, 2, 32)
    overrides = dict(bundle_root=str(tmp_path / "bundle"), dataset_dir=data, patch_size=[32, 32], max_epochs=1)
    overrides.update(batch_size=1, samples_per_image=1, amp=True, **{"network_def#init_filters": 8})
    workflow = run_bundle("lightm_unet", ["train.yaml"], **overrides)
    trainer = workflow.parser.get_parsed_content("train#trainer")
    assert trainer.amp and not trainer.scaler.is_enabled()  # MONAI's CUDA GradScaler, off on a CPU
    assert trainer.state.epoch == 1 and torch.isfinite(torch.tensor(trainer.state.output[0]["loss"]))
    assert (tmp_path / "bundle" / "models" / "model.pt").is_file()

# Copyright (c) monai-mamba contributors. Licensed under the Apache License, Version 2.0.
"""On a CUDA device (marked ``gpu``: skipped without one, deselected in CI; ``benchmarks/gpu_check.sh`` runs them):
every block and network with mamba-ssm's and causal-conv1d's kernels against the pure-PyTorch backend on the same
weights, in float32 and under autocast, and a bundle's ``amp: true``."""

from __future__ import annotations

import pytest
import torch
from bundle_helpers import run_bundle, tiny_dataset
from gradient_checks import assert_as_close_to_float64, assert_network_as_close_to_float64, run_forward_backward
from network_cases import BLOCKS, FAST_INPUTS, SMALL_NETWORKS

from monai_mamba.info import backend_report
from monai_mamba.ops.kernel_packages import kernel_package

pytestmark = pytest.mark.gpu


@pytest.fixture(scope="module")
def kernels():
    """The kernel packages must import on a GPU machine where this runs: their absence is a failure here."""
    for name in ("mamba-ssm", "causal-conv1d"):
        assert kernel_package(name).error is None, f"{name}: {kernel_package(name).error}"
    report = backend_report("cuda")
    assert "selective scan: cuda (mamba-ssm" in report and "causal conv1d: cuda (causal-conv1d" in report, report


@pytest.mark.parametrize("case", list(BLOCKS))
def test_blocks_on_the_cuda_kernels_equal_the_torch_backend(case, kernels):
    build, shape = BLOCKS[case]
    torch.manual_seed(0)
    block, inputs = build(), torch.randn(shape)
    truth = run_forward_backward(block.double(), inputs, "torch", device="cuda")
    reference = run_forward_backward(block.float(), inputs, "torch", device="cuda")
    actual = run_forward_backward(block, inputs, "auto", device="cuda")
    assert_as_close_to_float64(actual, reference, truth, f"{case} on CUDA")


@pytest.mark.parametrize("dtype", [None, torch.bfloat16, torch.float16], ids=["fp32", "bf16", "fp16"])
@pytest.mark.parametrize("name", list(SMALL_NETWORKS))
def test_networks_on_the_cuda_kernels_equal_the_torch_backend(name, dtype, kernels):
    """float32: as close to float64 as the torch backend; autocast: finite, and as close as the torch backend under
    the same autocast."""
    torch.manual_seed(0)
    network, inputs = SMALL_NETWORKS[name][0]().train(), torch.randn(FAST_INPUTS[name])
    truth = run_forward_backward(network.double(), inputs, "torch", device="cuda")
    network = network.float()
    reference = run_forward_backward(network, inputs, "torch", autocast=dtype, device="cuda")
    actual = run_forward_backward(network, inputs, "auto", autocast=dtype, device="cuda")
    assert actual["output"].dtype == reference["output"].dtype == (dtype or torch.float32)
    assert all(t.isfinite().all() for t in actual.values())
    assert_network_as_close_to_float64(actual, [reference], truth, f"{name} on CUDA, autocast {dtype}")


def test_bundle_amp_true_trains_on_cuda_with_a_grad_scaler(tmp_path, kernels):
    data = tiny_dataset(tmp_path, 2, 2, 32)
    overrides = dict(bundle_root=str(tmp_path / "bundle"), dataset_dir=data, patch_size=[32, 32], max_epochs=1)
    overrides.update(batch_size=1, samples_per_image=1, amp=True, **{"network_def#init_filters": 8})
    workflow = run_bundle("lightm_unet", ["train.yaml"], **overrides)
    trainer = workflow.parser.get_parsed_content("train#trainer")
    assert trainer.amp and next(trainer.network.parameters()).is_cuda and trainer.scaler.is_enabled()
    assert trainer.state.epoch == 1 and (tmp_path / "bundle" / "models" / "model.pt").is_file()

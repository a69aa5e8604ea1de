# Copyright (c) monai-mamba contributors. Licensed under the Apache License, Version 2.0.
"""Contract tests of the GPU path on CPU: our layers call mamba-ssm's ``selective_scan_fn`` and causal-conv1d's
``causal_conv1d_fn`` (their real Python interfaces, at the lowest and highest versions of the ``cuda`` extra), with
stand-ins computing their compiled kernels' results from the packages' own reference functions
(``tests/kernel_packages.py``, ``tests/kernel_standins/``). With ``MONAI_MAMBA_SCAN_BACKEND=cuda`` every Mamba layer
takes that path on CPU tensors; outputs and every gradient must equal the CPU path's on the same weights."""

from __future__ import annotations

import pytest
import torch
from gradient_checks import assert_as_close_to_float64, assert_network_as_close_to_float64, run_forward_backward
from kernel_packages import kernel_packages_with_standins
from network_cases import BLOCKS, SMALL_NETWORKS, network_and_float64_truth
from scan_helpers import assert_rel_close, make_scan_inputs

from monai_mamba.info import backend_report
from monai_mamba.ops import causal_conv1d, causal_conv1d_backend, resolve_scan_backend, selective_scan
from monai_mamba.ops.kernel_packages import kernel_package


@pytest.fixture(scope="module", params=["lowest", "highest"])
def kernels(request):
    """mamba-ssm and causal-conv1d at one end of the pinned ranges, with the stand-in extensions counting calls."""
    with kernel_packages_with_standins(request.param) as versions:
        assert kernel_package("mamba-ssm").error is None, kernel_package("mamba-ssm").error
        assert kernel_package("causal-conv1d").error is None, kernel_package("causal-conv1d").error
        yield versions


@pytest.fixture
def calls(kernels, monkeypatch):
    """Counts of the stand-in extensions' entry points called during the test."""
    counts = {}
    for module_name, names in (
        ("selective_scan_cuda", ("fwd", "bwd")),
        ("causal_conv1d_cuda", ("causal_conv1d_fwd", "causal_conv1d_bwd")),
    ):
        module = __import__(module_name)
        for name in names:
            function = getattr(module, name)

            def counted(*args, _function=function, _key=f"{module_name}.{name}"):
                counts[_key] = counts.get(_key, 0) + 1
                return _function(*args)

            monkeypatch.setattr(module, name, counted)
    return counts


def _float64_and_float32(module, inputs):
    """The float64 truth (numba backend) and ``module`` back in float32."""
    return run_forward_backward(module.double(), inputs, "cpu"), module.float()


def test_the_cuda_backend_takes_the_kernel_packages_on_any_device(kernels):
    x = torch.randn(1, 16, 8)
    assert resolve_scan_backend("cpu", "cuda", torch.float32) == "cuda"
    assert causal_conv1d_backend(x, 4, "cuda") == "cuda"
    assert causal_conv1d_backend(x, 5, "cuda") == "cpu", "causal-conv1d's kernel takes widths 2..4 only"
    assert causal_conv1d_backend(x.double(), 4, "cuda") == "cpu", "causal-conv1d's kernel has no float64"
    with pytest.raises(RuntimeError, match="cannot run on cpu torch.float64"):
        resolve_scan_backend("cpu", "cuda", torch.float64)  # nor has mamba-ssm's


@pytest.mark.parametrize("case", list(BLOCKS))
def test_blocks_on_the_kernel_packages_equal_the_cpu_path(case, kernels, calls):
    build, shape = BLOCKS[case]
    torch.manual_seed(0)
    truth, block = _float64_and_float32(build(), inputs := torch.randn(shape))
    reference = run_forward_backward(block, inputs, "cpu")
    assert_as_close_to_float64(run_forward_backward(block, inputs, "cuda"), reference, truth, f"{case} with {kernels}")
    if case != "HGCNBlock":  # the one block without a Mamba layer: convolutions only
        assert set(calls) >= {"selective_scan_cuda.fwd", "selective_scan_cuda.bwd"}, calls
    if case.startswith(("MambaLayer", "RVMLayer", "ResidualMambaLayer")):
        assert set(calls) >= {"causal_conv1d_cuda.causal_conv1d_fwd", "causal_conv1d_cuda.causal_conv1d_bwd"}, calls


@pytest.mark.parametrize("name", list(SMALL_NETWORKS))
def test_networks_on_the_kernel_packages_equal_the_cpu_path(name, kernels, calls):
    network, inputs, truth = network_and_float64_truth(name)
    references = [run_forward_backward(network, inputs, backend) for backend in ("cpu", "torch")]
    actual = run_forward_backward(network, inputs, "cuda")
    assert_network_as_close_to_float64(actual, references, truth, f"{name} with {kernels}")
    assert calls.get("selective_scan_cuda.bwd"), calls


def test_scan_and_conv_calls_match_the_reference_with_every_argument(kernels, calls):
    """The selective scan with and without D, z, delta_bias, the last state, ungrouped B/C; the conv without bias."""
    for variant in ({}, dict(with_d=False, with_z=False, with_bias=False), dict(grouped=False, groups=1)):
        inputs = make_scan_inputs(length=50, **variant)
        for softplus in (False, True):
            expected = selective_scan(**inputs, delta_softplus=softplus, return_last_state=True, backend="ref")
            actual = selective_scan(**inputs, delta_softplus=softplus, return_last_state=True, backend="cuda")
            for a, e, what in zip(actual, expected, ("y", "last state")):
                assert_rel_close(a, e, 1e-5, f"{what} {variant} softplus={softplus}")
    x, weight = torch.randn(2, 16, 9), torch.randn(16, 3)
    assert_rel_close(causal_conv1d(x, weight, backend="cuda"), causal_conv1d(x, weight, backend="torch"), 1e-6, "conv")
    assert calls["selective_scan_cuda.fwd"] == 6 and calls["causal_conv1d_cuda.causal_conv1d_fwd"] == 1, calls


# every network in bfloat16, two in float16 too: the kernels see the same dtype logic, and each case runs four times
AUTOCAST_CASES = [(name, torch.bfloat16) for name in SMALL_NETWORKS] + [
    ("MambaUNet", torch.float16),
    ("MambaClinix", torch.float16),
]


@pytest.mark.parametrize("name, dtype", AUTOCAST_CASES, ids=[f"{n}-{str(d)[6:]}" for n, d in AUTOCAST_CASES])
def test_autocast_through_the_kernel_packages_is_as_close_as_on_cpu(name, dtype, kernels, calls):
    """AMP's dtypes reach the kernels as they accept them (the stand-ins check: one input dtype for the sequences,
    float32 A/D/delta_bias); the result is as close to float64 as the CPU backends' under the same autocast."""
    network, inputs, truth = network_and_float64_truth(name)
    references = [run_forward_backward(network, inputs, backend, autocast=dtype) for backend in ("cpu", "torch")]
    actual = run_forward_backward(network, inputs, "cuda", autocast=dtype)
    assert calls.get("selective_scan_cuda.bwd"), calls
    assert actual["output"].dtype == references[0]["output"].dtype == dtype
    assert all(t.isfinite().all() for t in actual.values())
    assert_network_as_close_to_float64(actual, references, truth, f"{name} under {dtype} with {kernels}")


def test_the_backend_report_names_the_package_versions(kernels):
    report = backend_report("cpu")
    assert f"mamba-ssm: {kernels['mamba-ssm']} (cuda extra: >=2.2.2,<2.4)" in report
    assert f"causal-conv1d: {kernels['causal-conv1d']} (cuda extra: >=1.4,<1.8)" in report
    assert "selective scan: cpu (numba kernel)\n  not cuda: mamba-ssm imports, but the tensors are on cpu" in report

# Copyright (c) monai-mamba contributors. Licensed under the Apache License, Version 2.0.
"""Every selective-scan backend against the float64 sequential reference."""

from __future__ import annotations

import itertools
import subprocess
import sys

import pytest
import torch
from scan_helpers import assert_rel_close, make_scan_inputs

import monai_mamba.ops.scan_dispatch as dispatch
from monai_mamba.ops import available_scan_backends, resolve_scan_backend, selective_scan

ORDER = ["u", "delta", "A", "B", "C", "D", "z", "delta_bias"]
CPU_BACKENDS = [b for b in ("cpu", "torch") if b in available_scan_backends("cpu")]


def _run(inputs, backend, softplus, last_state):
    return selective_scan(**inputs, delta_softplus=softplus, return_last_state=last_state, backend=backend)


def _check_against_reference(inputs, backend, softplus=True, last_state=False, fwd_rtol=1e-5, grad_rtol=1e-4):
    reference = {k: None if v is None else v.detach().double().cpu().requires_grad_() for k, v in inputs.items()}
    out = _run(inputs, backend, softplus, last_state)
    ref = _run(reference, "ref", softplus, last_state)
    if last_state:
        (out, state), (ref, ref_state) = out, ref
        assert state.shape == ref_state.shape
        assert_rel_close(state, ref_state, fwd_rtol, "last state")
    assert out.shape == ref.shape and out.dtype == inputs["u"].dtype
    assert_rel_close(out, ref, fwd_rtol, "y")
    grad_out = torch.randn(ref.shape, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    names = [k for k in ORDER if inputs[k] is not None]
    grads = torch.autograd.grad(out, [inputs[k] for k in names], grad_out.to(out))
    ref_grads = torch.autograd.grad(ref, [reference[k] for k in names], grad_out)
    for name, grad, ref_grad in zip(names, grads, ref_grads):
        assert grad.shape == inputs[name].shape and grad.dtype == inputs[name].dtype, name
        assert_rel_close(grad, ref_grad, grad_rtol, f"d{name}")


@pytest.mark.parametrize("backend", CPU_BACKENDS)
@pytest.mark.parametrize(
    "grouped, groups", [(False, 1), (True, 1), (True, 2), (True, 8)], ids=["BC-3d", "g1", "g2", "g8"]
)
def test_backend_matches_reference_grouping(backend, grouped, groups):
    inputs = make_scan_inputs(grouped=grouped, groups=groups)
    _check_against_reference(inputs, backend)


@pytest.mark.parametrize("backend", CPU_BACKENDS)
def test_channels_last_inputs_as_a_mamba_layer_passes_them(backend):
    """``u``, ``delta`` and ``z`` as ``(b, d, l)`` views of ``(b, l, d)`` tensors, as MambaLayer's projections make
    them: the same results and gradients; the compiled kernel returns ``y`` in that layout too (no copy before the
    output projection)."""
    inputs = make_scan_inputs(dim=40, groups=1, length=300, seed=3)
    for name in ("u", "delta", "z"):
        inputs[name] = inputs[name].detach().transpose(1, 2).contiguous().transpose(1, 2).requires_grad_()
    _check_against_reference(inputs, backend)
    if backend == "cpu":
        y = selective_scan(**inputs, delta_softplus=True, backend=backend)
        assert y.transpose(1, 2).is_contiguous()


@pytest.mark.parametrize("backend", CPU_BACKENDS)
@pytest.mark.parametrize("with_d, with_z, with_bias, softplus", list(itertools.product([False, True], repeat=4)))
def test_backend_matches_reference_options(backend, with_d, with_z, with_bias, softplus):
    inputs = make_scan_inputs(with_d=with_d, with_z=with_z, with_bias=with_bias, length=150, seed=2)
    _check_against_reference(inputs, backend, softplus=softplus)


@pytest.mark.parametrize("backend", CPU_BACKENDS)
@pytest.mark.parametrize("length", [1, 7, 128, 129, 1000])
def test_backend_lengths_and_last_state(backend, length):
    """Lengths around the checkpoint/chunk boundaries, with the last state returned."""
    inputs = make_scan_inputs(length=length, dim=4, seed=3)
    _check_against_reference(inputs, backend, last_state=True)


@pytest.mark.parametrize("backend", CPU_BACKENDS)
@pytest.mark.parametrize("softplus", [False, True])
def test_stress_large_delta_very_negative_a(backend, softplus):
    """delta up to 10 and A down to -16: every output and gradient finite, and still exact."""
    inputs = make_scan_inputs(length=400, seed=4, a_min=-16.0)
    with torch.no_grad():
        inputs["delta"].uniform_(0.0, 10.0)
        inputs["A"][:, 0] = -16.0
    out = _run(inputs, backend, softplus, False)
    grads = torch.autograd.grad(out.sum(), [v for v in inputs.values() if v is not None])
    assert torch.isfinite(out).all()
    assert all(torch.isfinite(g).all() for g in grads)
    _check_against_reference(inputs, backend, softplus=softplus)


@pytest.mark.parametrize("backend", CPU_BACKENDS)
@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_half_precision_inputs_computed_in_fp32(backend, dtype):
    """Half activations (u, delta, B, C, z; the parameters A, D, delta_bias stay fp32, as in the blocks) give a
    half output equal to the fp32 scan of the same rounded values, and finite half gradients."""
    inputs = make_scan_inputs(length=500, seed=5)
    with torch.no_grad():
        inputs["u"].mul_(100.0)  # state products that overflow fp16 if they were computed in it
    for name in ("u", "delta", "B", "C", "z"):
        inputs[name] = inputs[name].detach().to(dtype).requires_grad_()
    out = _run(inputs, backend, True, False)
    assert out.dtype == dtype and torch.isfinite(out).all()
    as_fp32 = {k: v.detach().float().requires_grad_() for k, v in inputs.items()}
    expected = _run(as_fp32, "ref", True, False)
    assert_rel_close(out.float(), expected.to(dtype).double(), 1e-2, "half y")
    grads = torch.autograd.grad(out.float().sum(), list(inputs.values()))
    for grad, value in zip(grads, inputs.values()):
        assert grad.dtype == value.dtype and torch.isfinite(grad).all()


@pytest.mark.parametrize("backend", CPU_BACKENDS)
def test_autocast_does_not_lower_scan_precision(backend):
    inputs = make_scan_inputs(seed=6)
    expected = _run(inputs, backend, True, False)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = _run(inputs, backend, True, False)
    assert out.dtype == torch.float32
    torch.testing.assert_close(out, expected)


def test_backends_agree_with_each_other_in_float32():
    inputs = make_scan_inputs(seed=7, length=700)
    outs = [_run(inputs, b, True, False) for b in CPU_BACKENDS]
    for out in outs[1:]:
        assert_rel_close(out, outs[0].double(), 1e-5, "backends")


def test_auto_backend_on_cpu_is_the_compiled_kernel(monkeypatch):
    monkeypatch.delenv(dispatch.SCAN_BACKEND_ENV, raising=False)
    assert resolve_scan_backend("cpu") == "cpu"


def test_environment_variable_and_argument_choose_backend(monkeypatch):
    monkeypatch.setenv(dispatch.SCAN_BACKEND_ENV, "torch")
    assert resolve_scan_backend("cpu") == "torch"
    assert resolve_scan_backend("cpu", "ref") == "ref"  # the argument wins


def test_falls_back_to_torch_without_numba(monkeypatch):
    monkeypatch.delenv(dispatch.SCAN_BACKEND_ENV, raising=False)
    monkeypatch.setattr(dispatch, "_cpu_scan", lambda: None)
    assert resolve_scan_backend("cpu") == "torch"


def test_float64_on_cuda_never_goes_to_mamba_ssm(monkeypatch):
    """mamba-ssm has no float64 kernel: automatic dispatch takes the torch backend for float64 CUDA tensors."""
    monkeypatch.delenv(dispatch.SCAN_BACKEND_ENV, raising=False)
    monkeypatch.setattr(dispatch, "cuda_scan_available", lambda: True)
    assert resolve_scan_backend("cuda", dtype=torch.float32) == "cuda"
    assert resolve_scan_backend("cuda", dtype=torch.float64) == "torch"


def test_unknown_backend_names_the_choices(monkeypatch):
    monkeypatch.setenv(dispatch.SCAN_BACKEND_ENV, "fast")
    with pytest.raises(ValueError, match="unknown selective-scan backend 'fast'.*'torch'"):
        selective_scan(**make_scan_inputs(length=8))


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the error without CUDA")
def test_cuda_backend_on_cpu_tensors_says_what_is_available():
    with pytest.raises(
        RuntimeError, match=r"'cuda' cannot run on cpu torch.float32 tensors.*available: \['cpu', 'torch', 'ref'\]"
    ):
        selective_scan(**make_scan_inputs(length=8), backend="cuda")


@pytest.mark.parametrize(
    "change, message",
    [
        (lambda x: x.update(u=x["u"][0]), "u must be 3-D"),
        (lambda x: x.update(delta=x["delta"][:, :, :-1]), "delta has shape"),
        (lambda x: x.update(A=x["A"][:-1]), "A must be real of shape"),
        (lambda x: x.update(B=x["B"][:, :, :-1]), "B has shape"),
        (lambda x: x.update(C=torch.zeros(2, 3, 4, 300)), "C has 3 groups, which do not divide d=8"),
        (lambda x: x.update(D=x["D"][:-1]), "D has shape"),
        (lambda x: x.update(z=x["z"][:1]), "z has shape"),
    ],
    ids=["u-2d", "delta", "A", "B", "C-groups", "D", "z"],
)
def test_wrong_shapes_get_a_clear_error(change, message):
    inputs = make_scan_inputs()
    change(inputs)
    with pytest.raises(ValueError, match=message):
        selective_scan(**inputs)


def test_importing_the_library_imports_no_optional_accelerator():
    code = (
        "import sys, monai_mamba.ops, monai_mamba.blocks; "
        "bad = [m for m in ('mamba_ssm', 'causal_conv1d', 'selective_scan_cuda', 'numba') if m in sys.modules]; "
        "assert not bad, bad"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


@pytest.mark.gpu
@pytest.mark.parametrize("backend", ["torch", "cuda"])
def test_gpu_backends_match_reference(backend):
    if backend not in available_scan_backends("cuda"):
        pytest.skip(f"{backend} backend unavailable")
    inputs = make_scan_inputs(device="cuda", length=1000)
    _check_against_reference(inputs, backend, last_state=True)


def test_one_import_reaches_every_subpackage_lazily():
    """A bundle config imports only ``monai_mamba``: every module beside ``__init__`` must be reachable from it as an
    attribute (a module left out of the lazy list fails only in a fresh process, as a bundle run is)."""
    code = (
        "import sys, pkgutil, monai_mamba; assert 'monai_mamba.nets' not in sys.modules; "
        "assert monai_mamba.nets.LightMUNet and monai_mamba.bundles.bundle_root and monai_mamba.data.load_datalist; "
        "assert 'numba' not in sys.modules and 'mamba_ssm' not in sys.modules; "
        "names = sorted(m.name for m in pkgutil.iter_modules(monai_mamba.__path__)); "
        "missing = [n for n in names if not hasattr(monai_mamba, n)]; assert not missing, missing; "
        "assert sorted(dir(monai_mamba)) == sorted(['__version__', *names]), dir(monai_mamba)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


def test_compiled_cpu_scan_is_a_checked_pytorch_operator():
    """torch.library.opcheck of the numba scan's forward operator (schema, fake implementation, the registered
    backward, AOT dispatch), on lengths below, at and above one checkpoint interval."""
    from monai_mamba.ops.scan_cpu import CHECKPOINT_EVERY

    for length in (5, CHECKPOINT_EVERY, CHECKPOINT_EVERY + 3):
        inputs = make_scan_inputs(batch=2, dim=4, nstate=3, length=length, groups=2, dtype=torch.float64)
        u, dt, A, B, C = (inputs[k].detach().requires_grad_() for k in ("u", "delta", "A", "B", "C"))
        torch.library.opcheck(torch.ops.monai_mamba.selective_scan_cpu.default, (u, dt, A, B, C))


def test_compiled_cpu_scan_saves_no_states_for_inference():
    """Under no_grad (and inference_mode) the numba scan allocates no chunk states for a backward, and gives the
    same output as with them; asking the operator for a gradient without its states is a clear error."""
    from monai_mamba.ops import scan_cpu

    inputs = make_scan_inputs(batch=2, dim=4, nstate=3, length=3 * scan_cpu.CHECKPOINT_EVERY + 5, groups=2)
    u, dt, A, B, C = (inputs[k].detach() for k in ("u", "delta", "A", "B", "C"))
    op = torch.ops.monai_mamba.selective_scan_cpu.default
    y_saving, _, states = op(u, dt, A, B, C)
    assert states.shape == (2, 4, 4, 3)
    for context in (torch.no_grad, torch.inference_mode):
        with context():
            y, _, states = op(u, dt, A, B, C, False)
        assert states.shape == (2, 0, 4, 3)
        torch.testing.assert_close(y, y_saving, rtol=0, atol=0)
    seen = []
    original = scan_cpu.selective_scan_cpu_op
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(scan_cpu, "selective_scan_cpu_op", lambda *a, **k: seen.append(k) or original(*a, **k))
        with torch.no_grad():
            scan_cpu.selective_scan_cpu(u.requires_grad_(), dt, A, B, C)
        scan_cpu.selective_scan_cpu(u, dt, A, B, C).sum().backward()
    assert seen == [{"save_states": False}, {"save_states": True}] and u.grad is not None
    with pytest.raises(RuntimeError, match="save_states=False saves nothing"):
        op(u, dt, A, B, C, False)
    torch.library.opcheck(op, (u.detach(), dt, A, B, C, False))


def _no_grad_inputs(**kwargs):
    return {k: None if v is None else v.detach() for k, v in make_scan_inputs(**kwargs).items()}


@pytest.mark.parametrize("dtype, rtol", [(torch.float32, 1e-5), (torch.float64, 1e-12)], ids=["fp32", "fp64"])
@pytest.mark.parametrize("layout", ["channels_first", "channels_last"])
@pytest.mark.parametrize(
    "options",
    [
        dict(),
        dict(with_d=False, with_z=False, with_bias=False, softplus=False),
        dict(with_z=False),
        dict(with_bias=False, groups=1, grouped=False),
    ],
    ids=["all", "none", "no-gate", "no-bias-BC3d"],
)
def test_fused_inference_scan_matches_reference(dtype, rtol, layout, options):
    """The one-pass inference kernel (all of the scan in numba, no backward) against the float64 reference, on
    lengths that are not a multiple of its chunk, with the last state, in either memory layout."""
    from monai_mamba.ops.scan_cpu_inference import CHUNK, selective_scan_cpu_inference

    options = dict(options)
    softplus = options.pop("softplus", True)
    inputs = _no_grad_inputs(dim=40, length=2 * CHUNK + 7, dtype=dtype, seed=5, **options)
    if layout == "channels_last":
        for name in ("u", "delta", "z"):
            if inputs[name] is not None:
                inputs[name] = inputs[name].transpose(1, 2).contiguous().transpose(1, 2)
    B, C = (t if t.dim() == 4 else t.unsqueeze(1) for t in (inputs["B"], inputs["C"]))
    y, state = selective_scan_cpu_inference(
        **{**inputs, "B": B, "C": C}, delta_softplus=softplus, return_last_state=True
    )
    ref, ref_state = selective_scan(
        **{k: None if v is None else v.double() for k, v in inputs.items()},
        delta_softplus=softplus,
        return_last_state=True,
        backend="ref",
    )
    assert y.dtype == dtype and y.stride() == inputs["u"].stride()  # y in u's layout, for the output projection
    assert_rel_close(y, ref, rtol, "y")
    assert_rel_close(state, ref_state, rtol, "last state")


def test_fused_inference_scan_reads_and_writes_bfloat16():
    """bfloat16 u, delta and z (CPU bfloat16 autocast) are read as their bits and y written in bfloat16: equal to the
    training path's float32 result rounded once (within one bfloat16 step where float32 rounding differs); a mix of
    dtypes is computed in float32 and returned in u's dtype."""
    from monai_mamba.ops.scan_cpu import selective_scan_cpu
    from monai_mamba.ops.scan_cpu_inference import selective_scan_cpu_inference

    inputs = _no_grad_inputs(dim=48, length=300, groups=1, seed=6)
    for name in ("u", "delta", "z"):
        inputs[name] = inputs[name].transpose(1, 2).contiguous().transpose(1, 2).bfloat16()
    y = selective_scan_cpu_inference(**inputs, delta_softplus=True)
    with torch.enable_grad():
        trained = selective_scan_cpu(**{**inputs, "u": inputs["u"].requires_grad_()}, delta_softplus=True)
    assert y.dtype == torch.bfloat16 and y.stride() == inputs["u"].stride()
    step = trained.float().abs() * 2**-7
    assert ((y.float() - trained.float()).abs() <= step).all()
    assert (y != trained).float().mean() < 0.01
    mixed = selective_scan_cpu_inference(**{**inputs, "delta": inputs["delta"].float()}, delta_softplus=True)
    assert mixed.dtype == torch.bfloat16
    assert ((mixed.float() - trained.float()).abs() <= step).all()
    # B and C in bfloat16 as a Mamba layer's x_proj gives them: (b, n, l) views of a (b, l, dt_rank + 2 n) output,
    # read in place
    projection = torch.randn(2, 300, 5 + 2 * 4, generator=torch.Generator().manual_seed(7)).bfloat16()
    B, C = (projection[..., k : k + 4].transpose(1, 2).unsqueeze(1) for k in (5, 9))
    inputs.update(B=B, C=C)
    y = selective_scan_cpu_inference(**inputs, delta_softplus=True)
    with torch.enable_grad():
        trained = selective_scan_cpu(**{**inputs, "u": inputs["u"].requires_grad_()}, delta_softplus=True)
    assert ((y.float() - trained.float()).abs() <= trained.float().abs() * 2**-7).all()


def test_cpu_backend_takes_the_fused_kernel_only_where_no_gradient_can_follow(monkeypatch):
    """The ``cpu`` backend runs the one-pass kernel under no_grad and inference_mode, and the autograd kernel where a
    backward can follow; both give the same output."""
    from monai_mamba.ops import scan_cpu_inference

    inputs = make_scan_inputs(dim=16, length=200)
    seen = []
    original = scan_cpu_inference.selective_scan_cpu_inference
    monkeypatch.setattr(
        scan_cpu_inference, "selective_scan_cpu_inference", lambda *a, **k: seen.append(1) or original(*a, **k)
    )
    trained = selective_scan(**inputs, delta_softplus=True, backend="cpu")
    assert seen == [] and trained.requires_grad
    for context in (torch.no_grad, torch.inference_mode):
        with context():
            inferred = selective_scan(**inputs, delta_softplus=True, backend="cpu")
        assert_rel_close(inferred, trained, 1e-6, context.__name__)
    assert seen == [1, 1]


def test_fused_inference_scan_is_a_checked_pytorch_operator():
    """torch.library.opcheck of the one-pass kernel (schema, fake implementation), with and without its optional
    inputs."""
    inputs = _no_grad_inputs(batch=2, dim=4, nstate=3, length=133, groups=2, dtype=torch.float64)
    op = torch.ops.monai_mamba.selective_scan_cpu_inference.default
    args = [inputs[k] for k in ORDER]
    torch.library.opcheck(op, (*args, True))
    torch.library.opcheck(op, (*args[:5], None, None, None, False))

# Copyright (c) monai-mamba contributors. Licensed under the Apache License, Version 2.0.
"""Stand-in for mamba-ssm's compiled extension ``selective_scan_cuda`` (``csrc/selective_scan/selective_scan.cpp``),
for the contract tests on CPU: the same entry points, arguments, checks (all but ``is_cuda``) and outputs, computed
with mamba-ssm's own ``selective_scan_ref`` (forward) and autograd through it (backward), in float32 with autocast
off, as the kernel computes whatever the autocast state."""

import torch
import torch.nn.functional as F

CHUNK = 2048  # the kernel keeps a state per chunk of 2048 steps: x is (b, d, n_chunks, 2 n)


def _check(u, delta, A, B, C, D, z, delta_bias, dout=None):
    """The kernel's TORCH_CHECKs on dtypes, shapes and strides."""
    input_type = u.dtype
    assert input_type in (torch.float32, torch.float16, torch.bfloat16), f"u dtype {input_type}"
    assert A.dtype == torch.float32, f"A dtype {A.dtype} (weight type must be float32)"
    for name, t in (("delta", delta), ("B", B), ("C", C), ("z", z), ("dout", dout)):
        if t is not None:
            assert t.dtype == input_type, f"{name} dtype {t.dtype}, u dtype {input_type}"
            assert t.stride(-1) == 1 or t.size(-1) == 1, f"{name} must be contiguous along l"
    assert u.stride(-1) == 1 or u.size(-1) == 1, "u must be contiguous along l"
    batch, dim, length = u.shape
    assert A.shape[0] == dim and A.shape[1] <= 256, f"A shape {tuple(A.shape)}"
    for name, t in (("delta", delta), ("z", z), ("dout", dout)):
        assert t is None or t.shape == u.shape, f"{name} shape {tuple(t.shape)}"
    for name, t in (("B", B), ("C", C)):
        assert t.dim() == 4 and t.shape[0] == batch and t.shape[2:] == (A.shape[1], length), f"{name} {tuple(t.shape)}"
    for name, t in (("D", D), ("delta_bias", delta_bias)):
        if t is not None:
            assert t.dtype == torch.float32 and t.shape == (dim,), f"{name} must be float32 (d,), got {t.dtype}"
            assert t.stride(-1) == 1, f"{name} must be contiguous"


def _reference(u, delta, A, B, C, D, z, delta_bias, delta_softplus):
    from mamba_ssm.ops.selective_scan_interface import selective_scan_ref

    out, last_state = selective_scan_ref(u, delta, A, B, C, D, None, delta_bias, delta_softplus, True)
    out_z = None if z is None else (out.float() * F.silu(z.float())).to(u.dtype)
    return out, last_state, out_z


def fwd(u, delta, A, B, C, D, z, delta_bias, delta_softplus):
    _check(u, delta, A, B, C, D, z, delta_bias)
    with torch.no_grad(), torch.autocast(u.device.type, enabled=False):
        out, last_state, out_z = _reference(u, delta, A, B, C, D, z, delta_bias, delta_softplus)
    batch, dim, length = u.shape
    x = torch.zeros(batch, dim, -(-length // CHUNK), 2 * A.shape[1], dtype=A.dtype, device=u.device)
    x[:, :, -1, 1::2] = last_state
    return [out, x] + ([out_z] if z is not None else [])


def bwd(u, delta, A, B, C, D, z, delta_bias, dout, x, out, dz, delta_softplus, recompute_out_z):
    _check(u, delta, A, B, C, D, z, delta_bias, dout)
    assert x is None or (x.dtype == torch.float32 and x.is_contiguous()), "x must be float32 and contiguous"
    leaves = [None if t is None else t.detach().requires_grad_() for t in (u, delta, A, B, C, D, z, delta_bias)]
    with torch.enable_grad(), torch.autocast(u.device.type, enabled=False):
        y, _, y_z = _reference(*leaves, delta_softplus)
        result = y if z is None else y_z
        grads = torch.autograd.grad(result, [t for t in leaves if t is not None], dout)
    grads = iter(grads)
    du, ddelta, dA, dB, dC = (next(grads) for _ in range(5))
    dD = next(grads) if D is not None else None
    dz_ = next(grads) if z is not None else None
    ddelta_bias = next(grads) if delta_bias is not None else None
    dB, dC = dB.float(), dC.float()  # the kernel accumulates variable B and C's gradients in float32
    rest = [dz_, y_z.detach() if recompute_out_z else None] if z is not None else []
    return [du, ddelta, dA, dB, dC, dD, ddelta_bias, *rest]

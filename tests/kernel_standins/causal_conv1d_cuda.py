# Copyright (c) monai-mamba contributors. Licensed under the Apache License, Version 2.0.
"""Stand-in for causal-conv1d's compiled extension ``causal_conv1d_cuda`` (``csrc/causal_conv1d.cpp``), for the
contract tests on CPU: the same entry points and checks (all but ``is_cuda``), computed with causal-conv1d's own
``causal_conv1d_ref`` in float32 with autocast off, as the kernel computes. Two calling conventions exist, told
apart by their arity as the compiled function would by its signature: up to 1.5.0 the kernel allocates and returns
its outputs (forward 7 arguments, backward 10); from 1.5.1 it writes into outputs it is given (8 and 12)."""

from concurrent.futures import ThreadPoolExecutor

import torch


def _check(x, weight, bias, dout=None):
    assert x.dtype in (torch.float32, torch.float16, torch.bfloat16), f"x dtype {x.dtype}"
    assert weight.dtype in (torch.float32, torch.float16, torch.bfloat16), f"weight dtype {weight.dtype}"
    batch, dim, _ = x.shape
    assert weight.shape[0] == dim and weight.dim() == 2, f"weight shape {tuple(weight.shape)}"
    assert 2 <= weight.shape[1] <= 4, "causal_conv1d only supports width between 2 and 4"
    assert x.stride(2) == 1 or x.stride(1) == 1, "x must be contiguous along l or along d"
    if x.stride(1) == 1 and x.stride(2) > 1:
        assert dim % 8 == 0, "causal_conv1d only supports channel dimension divisible by 8 for now"
        assert x.stride(2) % 8 == 0 and x.stride(0) % 8 == 0, "channel-last strides must be multiples of 8"
    if bias is not None:
        assert bias.dtype == weight.dtype and bias.shape == (dim,), f"bias {bias.dtype} {tuple(bias.shape)}"
    assert dout is None or dout.shape == x.shape


def _reference(x, weight, bias, silu_activation):
    from causal_conv1d.causal_conv1d_interface import causal_conv1d_ref

    with torch.autocast(x.device.type, enabled=False):
        bias = None if bias is None else bias.float()
        return causal_conv1d_ref(x, weight.float(), bias, activation="silu" if silu_activation else None)


def _autograd_of_reference(x, weight, bias, dout, silu_activation):
    leaves = [None if t is None else t.detach().requires_grad_() for t in (x, weight, bias)]
    with torch.enable_grad():
        out = _reference(*leaves, silu_activation)
        grads = torch.autograd.grad(out, [t for t in leaves if t is not None], dout)
    return grads[0], grads[1].float(), grads[2].float() if bias is not None else None


def _gradients(*args):
    """Autograd through the reference, in a thread of its own: from 1.5.1 the extension is called inside a
    ``torch.library.custom_op``, where the calling thread's dispatcher skips autograd."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(_autograd_of_reference, *args).result()


def causal_conv1d_fwd(x, weight, bias, seq_idx, initial_states, *rest):
    assert seq_idx is None and initial_states is None, "the contract tests use neither seq_idx nor initial states"
    _check(x, weight, bias)
    with torch.no_grad():
        result = _reference(x, weight, bias, rest[-1])
    if len(rest) == 2:  # (final_states_out, silu): returns out
        return result
    out, _, _ = rest  # (out, final_states_out, silu): writes out
    out.copy_(result)
    return None


def causal_conv1d_bwd(x, weight, bias, dout, seq_idx, initial_states, dfinal_states, dx, *rest):
    assert seq_idx is None and initial_states is None and dfinal_states is None
    _check(x, weight, bias, dout)
    dx_, dweight_, dbias_ = _gradients(x, weight, bias, dout, rest[-1])
    if len(rest) == 2:  # (return_dinitial_states, silu): returns (dx, dweight, dbias, dinitial_states)
        return dx_.to(x.dtype), dweight_.to(weight.dtype), None if bias is None else dbias_.to(bias.dtype), None
    dweight, dbias, _, _ = rest  # (dweight, dbias, dinitial_states, silu): writes them, and dx
    dx.copy_(dx_)
    dweight.copy_(dweight_)
    if dbias is not None:
        dbias.copy_(dbias_)
    return None

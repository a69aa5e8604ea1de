# Copyright (c) monai-mamba contributors. Licensed under the Apache License, Version 2.0.
import math
import re

import pytest
import torch
import torch.nn.functional as F

from monai_mamba.blocks import SS2D, PatchEmbed2D, PatchMerging2D, VSSBlock
from monai_mamba.ops.scan_ref import selective_scan_ref


def test_parameter_names_shapes_and_count_at_96_channels():
    block = VSSBlock(96)
    shapes = {k: tuple(v.shape) for k, v in block.state_dict().items()}
    assert shapes == {
        "ln_1.weight": (96,),
        "ln_1.bias": (96,),
        "self_attention.in_proj.weight": (384, 96),
        "self_attention.conv2d.weight": (192, 1, 3, 3),
        "self_attention.conv2d.bias": (192,),
        "self_attention.x_proj_weight": (4, 38, 192),
        "self_attention.dt_projs_weight": (4, 192, 6),
        "self_attention.dt_projs_bias": (4, 192),
        "self_attention.A_logs": (768, 16),
        "self_attention.Ds": (768,),
        "self_attention.out_norm.weight": (192,),
        "self_attention.out_norm.bias": (192,),
        "self_attention.out_proj.weight": (96, 192),
    }
    assert sum(p.numel() for p in block.parameters()) == 105_408
    assert block.ln_1.eps == 1e-5


def test_vmamba_tiny_checkpoint_loads_by_prefix_rename(vmamba_tiny_checkpoint):
    checkpoint = vmamba_tiny_checkpoint
    assert len(checkpoint) == 212
    loaded = set()
    blocks = {stage: VSSBlock(96 * 2**stage) for stage in range(4)}
    for key in checkpoint:
        match = re.match(r"layers\.(\d+)\.blocks\.(\d+)\.", key)
        if match and match.group(0) not in loaded:
            prefix = match.group(0)
            part = {k[len(prefix) :]: v for k, v in checkpoint.items() if k.startswith(prefix)}
            blocks[int(match.group(1))].load_state_dict(part, strict=True)
            assert torch.equal(blocks[int(match.group(1))].self_attention.A_logs, part["self_attention.A_logs"])
            loaded.add(prefix)
    assert len(loaded) == 2 + 2 + 9 + 2
    for stage in range(3):
        prefix = f"layers.{stage}.downsample."
        part = {k[len(prefix) :]: v for k, v in checkpoint.items() if k.startswith(prefix)}
        PatchMerging2D(96 * 2**stage).load_state_dict(part, strict=True)
    PatchEmbed2D(4, 3, 96).load_state_dict(
        {k[len("patch_embed.") :]: v for k, v in checkpoint.items() if k.startswith("patch_embed.")}, strict=True
    )


def _vmamba_v0_ss2d(module: SS2D, x: torch.Tensor) -> torch.Tensor:
    """VMamba v0 ``SS2D.forward`` / ``forward_corev0`` written out with explicit transposes and flips."""
    batch, height, width, _ = x.shape
    length, k = height * width, 4
    x, z = module.in_proj(x).chunk(2, dim=-1)
    x = F.silu(module.conv2d(x.permute(0, 3, 1, 2).contiguous()))
    x_hwwh = torch.stack([x.reshape(batch, -1, length), x.transpose(2, 3).reshape(batch, -1, length)], dim=1)
    xs = torch.cat([x_hwwh, torch.flip(x_hwwh, dims=[-1])], dim=1)
    x_dbl = torch.einsum("bkdl,kcd->bkcl", xs, module.x_proj_weight)
    dts, Bs, Cs = torch.split(x_dbl, [module.dt_rank, module.d_state, module.d_state], dim=2)
    dts = torch.einsum("bkrl,kdr->bkdl", dts, module.dt_projs_weight)
    out_y = (
        selective_scan_ref(
            xs.double().reshape(batch, -1, length),
            dts.double().reshape(batch, -1, length),
            -torch.exp(module.A_logs.double()),
            Bs.double(),
            Cs.double(),
            module.Ds.double(),
            delta_bias=module.dt_projs_bias.double().flatten(),
            delta_softplus=True,
        )
        .float()
        .reshape(batch, k, -1, length)
    )
    inv_y = torch.flip(out_y[:, 2:4], dims=[-1])
    wh_y = out_y[:, 1].reshape(batch, -1, width, height).transpose(2, 3).reshape(batch, -1, length)
    invwh_y = inv_y[:, 1].reshape(batch, -1, width, height).transpose(2, 3).reshape(batch, -1, length)
    y = out_y[:, 0] + inv_y[:, 0] + wh_y + invwh_y
    y = module.out_norm(y.transpose(1, 2).reshape(batch, height, width, -1))
    return module.out_proj(y * F.silu(z))


@pytest.mark.parametrize("backend", ["cpu", "torch"])
def test_ss2d_matches_vmamba_v0_computation(backend):
    torch.manual_seed(0)
    module = SS2D(24, scan_backend=backend)
    x = torch.randn(2, 6, 10, 24)  # non-square, so row/column orders cannot be confused
    torch.testing.assert_close(module(x), _vmamba_v0_ss2d(module, x), rtol=1e-4, atol=1e-5)


def test_state_dict_round_trip_into_a_fresh_block():
    torch.manual_seed(0)
    trained, fresh = VSSBlock(32), VSSBlock(32)
    x = torch.randn(1, 8, 8, 32)
    fresh.load_state_dict(trained.state_dict())
    assert torch.equal(trained(x), fresh(x))


def test_3d_block_shapes_and_parameter_count():
    block = VSSBlock(16, spatial_dims=3)
    # in_proj 16*64 + conv3d 32*27+32 + x_proj 6*33*32 + dt_projs 6*32*1+6*32 + A_logs 192*16 + Ds 192
    # + out_norm 64 + out_proj 32*16 + ln_1 32
    assert sum(p.numel() for p in block.parameters()) == 12_512
    assert tuple(block.self_attention.conv3d.weight.shape) == (32, 1, 3, 3, 3)
    assert tuple(block.self_attention.x_proj_weight.shape) == (6, 33, 32)
    x = torch.randn(2, 4, 6, 5, 16, requires_grad=True)
    y = block(x)
    assert y.shape == x.shape
    y.square().mean().backward()
    assert torch.isfinite(x.grad).all()


def test_2d_block_forward_backward_on_cpu():
    block = VSSBlock(32, drop_path=0.1)
    x = torch.randn(2, 8, 12, 32, requires_grad=True)
    block(x).square().mean().backward()
    for name, param in block.named_parameters():
        assert param.grad is not None and torch.isfinite(param.grad).all(), name


@pytest.mark.parametrize("shape", [(1, 8, 8, 16), (1, 8, 8, 8, 32)])
def test_wrong_input_gets_a_clear_error(shape):
    with pytest.raises(
        ValueError, match=r"VSSBlock \(spatial_dims=2\) expects channels-last input \(batch, x, y, channels=32\)"
    ):
        VSSBlock(32)(torch.zeros(shape))


def test_dt_rank_is_ceil_of_channels_over_16():
    assert SS2D(40).dt_rank == math.ceil(40 / 16) == 3

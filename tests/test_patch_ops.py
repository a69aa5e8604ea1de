# Copyright (c) monai-mamba contributors. Licensed under the Apache License, Version 2.0.
import pytest
import torch
from einops import rearrange

from monai_mamba.blocks import FinalPatchExpandX4, PatchEmbed, PatchExpand, PatchMerging


def test_patch_embed_is_strided_conv_then_layernorm_channels_last():
    embed = PatchEmbed(patch_size=4, in_channels=3, embed_dim=96)
    x = torch.randn(2, 3, 32, 48)
    expected = embed.norm(embed.proj(x).permute(0, 2, 3, 1))
    out = embed(x)
    assert out.shape == (2, 8, 12, 96)
    torch.testing.assert_close(out, expected)
    assert tuple(embed.proj.weight.shape) == (96, 3, 4, 4)


def test_patch_embed_3d_shape():
    assert PatchEmbed(2, 1, 48, spatial_dims=3)(torch.randn(1, 1, 8, 4, 6)).shape == (1, 4, 2, 3, 48)


@pytest.mark.parametrize(
    "shape, message",
    [
        ((2, 1, 32, 32), "in_channels=3"),
        ((2, 3, 30, 32), "divisible by 4, got \\(30, 32\\); crop or pad the input to a multiple of patch_size=4"),
    ],
)
def test_patch_embed_bad_input(shape, message):
    with pytest.raises(ValueError, match=message):
        PatchEmbed(4, 3, 96)(torch.randn(shape))


def test_patch_merging_uses_swin_neighbour_order():
    merge = PatchMerging(8)
    x = torch.randn(2, 6, 4, 8)
    parts = [x[:, 0::2, 0::2], x[:, 1::2, 0::2], x[:, 0::2, 1::2], x[:, 1::2, 1::2]]
    expected = merge.reduction(merge.norm(torch.cat(parts, dim=-1)))
    torch.testing.assert_close(merge(x), expected)
    assert tuple(merge.reduction.weight.shape) == (16, 32) and merge.reduction.bias is None


def test_patch_merging_3d_last_axis_fastest_as_monai():
    merge = PatchMerging(4, spatial_dims=3)
    x = torch.randn(1, 4, 2, 6, 4)
    parts = [x[:, i::2, j::2, k::2] for i in (0, 1) for j in (0, 1) for k in (0, 1)]
    torch.testing.assert_close(merge(x), merge.reduction(merge.norm(torch.cat(parts, dim=-1))))
    assert merge(x).shape == (1, 2, 1, 3, 8)


def test_patch_merging_odd_size_is_refused_clearly():
    with pytest.raises(ValueError, match="divisible by 2, got \\(5, 4\\)"):
        PatchMerging(8)(torch.randn(1, 5, 4, 8))


def test_patch_expand_matches_swin_unet_rearrange():
    expand = PatchExpand(16)
    x = torch.randn(2, 3, 5, 16)
    expected = expand.norm(rearrange(expand.expand(x), "b h w (p1 p2 c) -> b (h p1) (w p2) c", p1=2, p2=2))
    torch.testing.assert_close(expand(x), expected)
    assert expand(x).shape == (2, 6, 10, 8)
    assert tuple(expand.expand.weight.shape) == (32, 16)


def test_patch_expand_3d():
    expand = PatchExpand(16, spatial_dims=3)
    x = torch.randn(1, 2, 3, 4, 16)
    expected = expand.norm(
        rearrange(expand.expand(x), "b d h w (p1 p2 p3 c) -> b (d p1) (h p2) (w p3) c", p1=2, p2=2, p3=2)
    )
    torch.testing.assert_close(expand(x), expected)
    assert expand(x).shape == (1, 4, 6, 8, 8)


@pytest.mark.parametrize("spatial_dims", [2, 3])
def test_final_patch_expand_x4(spatial_dims):
    final = FinalPatchExpandX4(8, spatial_dims=spatial_dims)
    x = torch.randn(1, *([2] * spatial_dims), 8)
    if spatial_dims == 2:
        pattern = "b h w (p1 p2 c) -> b (h p1) (w p2) c"
        expected = final.norm(rearrange(final.expand(x), pattern, p1=4, p2=4))
    else:
        pattern = "b d h w (p1 p2 p3 c) -> b (d p1) (h p2) (w p3) c"
        expected = final.norm(rearrange(final.expand(x), pattern, p1=4, p2=4, p3=4))
    torch.testing.assert_close(final(x), expected)
    assert final(x).shape == (1, *([8] * spatial_dims), 8)
    assert tuple(final.expand.weight.shape) == (4**spatial_dims * 8, 8)

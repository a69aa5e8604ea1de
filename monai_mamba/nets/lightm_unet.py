# Copyright (c) monai-mamba contributors. Licensed under the Apache License, Version 2.0.
"""LightM-UNet (Liao et al., "LightM-UNet: Mamba Assists in Lightweight UNet for Medical Image Segmentation",
arXiv:2403.05246, 2024), as in the official code (``MrBlankness/LightM-UNet``, ``nnunetv2/nets/LightMUNet.py``)."""

from __future__ import annotations

import torch
import torch.nn as nn
from monai.networks.blocks import Convolution
from monai.networks.blocks.segresnet_block import get_conv_layer, get_upsample_layer
from monai.networks.layers.factories import Dropout, Pool
from monai.networks.layers.utils import get_act_layer, get_norm_layer

from monai_mamba.blocks import RVMLayer
from monai_mamba.blocks.input_checks import check_channels_first
from monai_mamba.features import ULevels

__all__ = ["LightMUNet"]


def _depthwise_separable_conv(
    spatial_dims: int, in_channels: int, out_channels: int, kernel_size: int = 3, bias: bool = False
) -> nn.Sequential:
    """Depthwise ``kernel_size`` conv (``in -> in``, groups=in) then pointwise 1x1 (``in -> out``)."""
    return nn.Sequential(
        Convolution(
            spatial_dims,
            in_channels,
            in_channels,
            kernel_size=kernel_size,
            groups=in_channels,
            bias=bias,
            conv_only=True,
        ),
        Convolution(spatial_dims, in_channels, out_channels, kernel_size=1, bias=bias, conv_only=True),
    )


class _ResidualRVMBlock(nn.Module):
    """Encoder block: ``x + RVM(act(norm(RVM(act(norm(x))))))`` (``ResMambaBlock`` in the official code)."""

    def __init__(self, spatial_dims: int, channels: int, norm: tuple | str, act: tuple | str, **rvm_kwargs) -> None:
        super().__init__()
        self.norm1 = get_norm_layer(name=norm, spatial_dims=spatial_dims, channels=channels)
        self.norm2 = get_norm_layer(name=norm, spatial_dims=spatial_dims, channels=channels)
        self.act = get_act_layer(act)
        self.conv1 = RVMLayer(channels, channels, **rvm_kwargs)
        self.conv2 = RVMLayer(channels, channels, **rvm_kwargs)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.conv2(self.act(self.norm2(self.conv1(self.act(self.norm1(x))))))


class _ResidualUpBlock(nn.Module):
    """Decoder block: ``act(norm2(dwconv(act(norm1(x))) + s * x))`` with a scalar ``s`` (``ResUpBlock``)."""

    def __init__(self, spatial_dims: int, channels: int, norm: tuple | str, act: tuple | str) -> None:
        super().__init__()
        self.norm1 = get_norm_layer(name=norm, spatial_dims=spatial_dims, channels=channels)
        self.norm2 = get_norm_layer(name=norm, spatial_dims=spatial_dims, channels=channels)
        self.act = get_act_layer(act)
        self.conv = _depthwise_separable_conv(spatial_dims, channels, channels)
        self.skip_scale = nn.Parameter(torch.ones(1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(self.norm2(self.conv(self.act(self.norm1(x))) + self.skip_scale * x))


class LightMUNet(nn.Module):
    """LightM-UNet: a U-Net whose encoder is made of Residual Vision Mamba (RVM) layers, in 2-D or 3-D.

    Structure (official code):

    - input: depthwise k3 + pointwise 1x1 convolution to ``init_filters`` channels (no bias);
    - encoder level ``i`` at ``init_filters * 2**i`` channels: for ``i > 0`` a downsampling RVM layer
      (``C/2 -> C``, the scan runs *before* the 2x max-pool), then ``blocks_down[i]`` residual blocks
      ``x + RVM(act(norm(RVM(act(norm(x))))))``; with the defaults 32@1, 64@1/2, 128@1/4, 256@1/8 and 21 RVM layers;
    - decoder level: 1x1 conv ``C -> C/2`` (no bias), non-trainable 2x linear up-sampling, add the encoder
      feature, then ``blocks_up[i]`` blocks ``act(norm(dwconv(act(norm(x))) + s * x))`` with a scalar ``s``;
    - head: norm, act, depthwise 1x1 + pointwise 1x1 convolution to the classes (with bias).

    Differences between the paper's text and the official code, which this follows: the paper describes the
    decoder's Residual Decoder Block and the RVM layer less precisely (the code applies the *same* LayerNorm
    twice inside the RVM layer, and adds a learnable scalar skip in both RVM and decoder blocks); the paper's
    parameter counts (1.09M 2-D / 1.87M 3-D) come from a FLOP-counting tool that skips the Mamba layers: with
    them, the defaults hold 5,011,765 (2-D, 3 in, 2 out) and 5,015,766 (3-D, 1 in, 3 out) parameters, 4,277,440
    of which in the Mamba layers. The official ``MambaLayer`` (our ``RVMLayer``) upcasts only float16; ours
    computes every RVM layer in float32, also under bf16 autocast. Parameter names follow the official module
    tree, so its state_dicts load.

    Args:
        spatial_dims: 2 or 3.
        in_channels: input channels.
        out_channels: classes.
        init_filters: channels of the first level (32 in the paper; the official class defaults to 8).
        blocks_down: residual RVM blocks per encoder level; its length sets the depth (total stride
            ``2 ** (len(blocks_down) - 1)``).
        blocks_up: decoder blocks per level, ``len(blocks_down) - 1`` entries.
        norm: MONAI norm name/arguments.
        act: MONAI activation name/arguments.
        dropout_prob: dropout after the input convolution (None: none).
        rvm_kwargs: further arguments of every ``RVMLayer`` (``d_state``, ``scan_backend``,
            ``activation_checkpointing``: recompute in the backward, for large 3-D patches, ...).

    Shapes:
        ``(b, in_channels, *spatial)`` -> ``(b, out_channels, *spatial)``; every spatial size must be divisible
        by the total stride (8 by default).
    """

    # the levels of features across the U (monai_mamba.features.default_u_levels)
    u_levels = ULevels(
        ("down_layers.0", "down_layers.1", "down_layers.2"), ("up_layers.2", "up_layers.1", "up_layers.0")
    )

    def __init__(
        self,
        spatial_dims: int,
        in_channels: int,
        out_channels: int,
        init_filters: int = 32,
        blocks_down: tuple[int, ...] = (1, 2, 2, 4),
        blocks_up: tuple[int, ...] = (1, 1, 1),
        norm: tuple | str = ("GROUP", {"num_groups": 8}),
        act: tuple | str = "RELU",
        dropout_prob: float | None = None,
        **rvm_kwargs,
    ) -> None:
        super().__init__()
        if spatial_dims not in (2, 3):
            raise ValueError(f"LightMUNet supports spatial_dims 2 or 3, got {spatial_dims}.")
        if len(blocks_up) != len(blocks_down) - 1:
            raise ValueError(
                f"blocks_up needs len(blocks_down) - 1 = {len(blocks_down) - 1} entries, got {len(blocks_up)}."
            )
        self.spatial_dims, self.in_channels = spatial_dims, in_channels
        self.total_stride = 2 ** (len(blocks_down) - 1)
        self.convInit = _depthwise_separable_conv(spatial_dims, in_channels, init_filters)
        self.dropout = Dropout[Dropout.DROPOUT, spatial_dims](dropout_prob) if dropout_prob else nn.Identity()
        pool = Pool[Pool.MAX, spatial_dims]
        self.down_layers = nn.ModuleList()
        for i, count in enumerate(blocks_down):
            channels = init_filters * 2**i
            downsample = (
                nn.Sequential(RVMLayer(channels // 2, channels, **rvm_kwargs), pool(kernel_size=2, stride=2))
                if i > 0
                else nn.Identity()
            )
            blocks = [_ResidualRVMBlock(spatial_dims, channels, norm, act, **rvm_kwargs) for _ in range(count)]
            self.down_layers.append(nn.Sequential(downsample, *blocks))
        self.up_samples, self.up_layers = nn.ModuleList(), nn.ModuleList()
        for i, count in enumerate(blocks_up):
            channels = init_filters * 2 ** (len(blocks_up) - i)
            self.up_samples.append(
                nn.Sequential(
                    get_conv_layer(spatial_dims, channels, channels // 2, kernel_size=1),
                    get_upsample_layer(spatial_dims, channels // 2, upsample_mode="nontrainable"),
                )
            )
            self.up_layers.append(
                nn.Sequential(*[_ResidualUpBlock(spatial_dims, channels // 2, norm, act) for _ in range(count)])
            )
        self.conv_final = nn.Sequential(
            get_norm_layer(name=norm, spatial_dims=spatial_dims, channels=init_filters),
            get_act_layer(act),
            _depthwise_separable_conv(spatial_dims, init_filters, out_channels, kernel_size=1, bias=True),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_channels_first(
            "LightMUNet",
            x,
            self.in_channels,
            self.spatial_dims,
            self.total_stride,
            f"pad or crop to a multiple of {self.total_stride} (monai.transforms.DivisiblePadd, or a sliding-window "
            "roi_size that is a multiple).",
        )
        x = self.dropout(self.convInit(x))
        skips = []
        for down in self.down_layers:
            x = down(x)
            skips.append(x)
        skips.reverse()
        for i, (up_sample, up_layer) in enumerate(zip(self.up_samples, self.up_layers)):
            x = up_layer(up_sample(x) + skips[i + 1])
        return self.conv_final(x)

# Copyright (c) monai-mamba contributors. Licensed under the Apache License, Version 2.0.
"""MambaClinix (Bian et al., "MambaClinix: Hierarchical Gated Convolution and Mamba-Based U-Net for Enhanced 3D
Medical Image Segmentation", arXiv:2409.12533, 2024), as in the official code (``CYB08/MambaClinix-PyTorch``,
``nnunetv2/nets/MambaClinix_3d.py``), freed from nnU-Net."""

from __future__ import annotations

import math
import re
from collections.abc import Sequence

import torch
import torch.nn as nn
from monai.networks.layers.convutils import same_padding
from monai.networks.layers.factories import Conv, Norm
from monai.networks.nets import DynUNet

from monai_mamba.blocks import (
    ChannelsFirstLayerNorm,
    HGCNBlock,
    NearestUpsampleConv,
    ResidualConvBlock,
    ResidualMambaLayer,
)
from monai_mamba.blocks.input_checks import check_channels_first, per_stage

__all__ = ["MambaClinix"]


# official state_dict name -> ours, applied in order to a name the official network registers once (see
# ``MambaClinix.official_checkpoint_filter``)
_OFFICIAL_NAMES = tuple(
    (re.compile(pattern), replacement)
    for pattern, replacement in (
        (r"^encoder\.stem\.convs\.0\.conv\.", "stem.0."),
        (r"^encoder\.stem\.convs\.0\.norm\.", "stem.1."),
        (r"^encoder\.stages\.(\d+)\.blocks\.0\.", r"encoder_stages.\1."),
        (r"^encoder\.LayerNorm\.gamma$", "encoder_norm.weight"),
        (r"^encoder\.LayerNorm\.beta$", "encoder_norm.bias"),
        (r"^encoder\.encoder_layers\.", "encoder_blocks."),
        (r"^decoder\.Init_Residual\.", "bottleneck."),
        (r"^decoder\.residual_blocks\.", "skip_blocks."),
        (r"^decoder\.stages\.(\d+)\.conv3\.", r"decoder_stages.\1.skip."),
        (r"^decoder\.stages\.", "decoder_stages."),
        (r"^decoder\.upsample_layers\.", "upsamples."),
        (r"^decoder\.seg_layers\.", "seg_heads."),
        # inside nnU-Net's residual blocks (ConvDropoutNormReLU): conv/norm pairs
        (r"\.conv(\d)\.conv\.", r".conv\1."),
        (r"\.conv(\d)\.norm\.", r".norm\1."),
        (r"\.skip\.(\d)\.conv\.", r".skip.\1."),
        # inside the HGCN block
        (r"\.gamma1$", ".gamma"),
        (r"\.hgConvs\.reconv\.", ".gated_conv.projs."),
        (r"\.hgConvs\.", ".gated_conv."),
        (r"\.lynorm(\d)\.gamma$", r".norm\1.weight"),
        (r"\.lynorm(\d)\.beta$", r".norm\1.bias"),
        (r"\.transconv\.conv\.", ".transform."),
    )
)
# registered twice by the official network (the decoder holds the encoder; ConvDropoutNormReLU keeps its conv and
# norm again in ``all_modules``) or never used in its forward (``skip_scale`` of every MambaLayer)
_OFFICIAL_ALIASES = re.compile(r"^decoder\.encoder\.|\.all_modules\.|\.skip_scale$")
_SKIP_NORM = re.compile(r"\.skip\.(\d)\.norm\.")


class MambaClinix(nn.Module):
    """MambaClinix: residual U-Net whose encoder stages end in HGCN blocks (early, high resolution) or residual Mamba
    layers (late, low resolution).

    Encoder: stem ``conv_k -> InstanceNorm -> LeakyReLU(0.01)``; stage ``s`` = one residual block carrying the stride
    (``ResidualConvBlock``, nnU-Net's ``BasicBlockD``), then, for the first ``ceil(n/2)`` stages, an ``HGCNBlock`` of
    order ``s + 2`` (transform width ``c/2``, drop-path ``linspace(0, drop_path_rate, n)[s]``) and, for the others, a
    ``ResidualMambaLayer``; a channels-first LayerNorm (eps 1e-6) sits between the residual block and the HGCN block
    of the last HGCN stage. Decoder: a residual block on the bottleneck, then per level (deepest first) nearest
    upsampling + 1x1 conv to the skip's width, the skip through its own residual block, concatenation, a residual
    block ``2c -> c`` with a 1x1-conv skip, and a 1x1 segmentation head. Convolutions get He initialisation
    (``kaiming_normal_``, a = 1e-2, zero bias) as nnU-Net's ``InitWeights_He``; the Mamba layers' own 1-D convolution
    keeps Mamba's initialisation (as there).

    Differences from the official code: no nnU-Net objects (plans, ``ConvDropoutNormReLU`` wrappers: the module
    names differ; ``official_checkpoint_filter`` maps an official state_dict, e.g. of an nnU-Net results folder, onto
    this one) and no unused ``skip_scale`` parameters (one per Mamba stage); the forward computation is the same.

    Args:
        spatial_dims: 3 (2 works too: nothing in the design needs 3-D).
        in_channels: input channels.
        out_channels: classes.
        features: widths per stage (the 6-stage plan: 32, 64, 128, 256, 320, 320).
        strides: per stage, int or per axis; the first is normally 1 (the finest level is full resolution).
        kernel_sizes: int, or per stage (int or per axis).
        deep_supervision: in training mode return the logits of every decoder level, full resolution first.
        drop_path_rate: of the last stage's HGCN block (0.5).
        mamba_kwargs: ``d_state``, ``d_conv``, ``expand``, ``scan_backend`` of the Mamba layers.

    Shapes:
        ``(b, in_channels, *spatial)`` -> ``(b, out_channels, *spatial)``, or the list of deep-supervision logits at
        every level; each spatial size must be divisible by the product of that axis's strides.
    """

    def __init__(
        self,
        spatial_dims: int = 3,
        in_channels: int = 1,
        out_channels: int = 2,
        features: Sequence[int] = (32, 64, 128, 256, 320, 320),
        strides: Sequence[int | Sequence[int]] = (1, 2, 2, 2, 2, 2),
        kernel_sizes: int | Sequence[int | Sequence[int]] = 3,
        deep_supervision: bool = True,
        drop_path_rate: float = 0.5,
        **mamba_kwargs,
    ) -> None:
        super().__init__()
        n = len(features)
        if n < 2:
            raise ValueError(f"MambaClinix needs at least 2 stages, got features={tuple(features)}.")
        self.spatial_dims, self.in_channels, self.deep_supervision = spatial_dims, in_channels, deep_supervision
        self.strides = per_stage("MambaClinix", strides, n, spatial_dims, "strides")
        kernels = per_stage("MambaClinix", kernel_sizes, n, spatial_dims, "kernel_sizes")
        self.total_stride = tuple(math.prod(s[a] for s in self.strides) for a in range(spatial_dims))
        self.num_hgcn_stages = math.ceil(n / 2)
        rates = torch.linspace(0, drop_path_rate, n).tolist()

        conv = Conv[Conv.CONV, spatial_dims]
        self.stem = nn.Sequential(
            conv(in_channels, features[0], kernels[0], padding=same_padding(kernels[0])),
            Norm[Norm.INSTANCE, spatial_dims](features[0], eps=1e-5, affine=True),
            nn.LeakyReLU(1e-2, inplace=True),
        )
        widths = [features[0], *features]
        self.encoder_stages = nn.ModuleList(
            ResidualConvBlock(spatial_dims, widths[s], widths[s + 1], kernels[s], self.strides[s]) for s in range(n)
        )
        self.encoder_norm = ChannelsFirstLayerNorm(features[self.num_hgcn_stages - 1], eps=1e-6)
        self.encoder_blocks = nn.ModuleList(
            HGCNBlock(
                spatial_dims, features[s], features[s] // 2, order=s + 2, kernel_size=kernels[s], drop_path=rates[s]
            )
            if s < self.num_hgcn_stages
            else ResidualMambaLayer(features[s], **mamba_kwargs)
            for s in range(n)
        )

        self.bottleneck = ResidualConvBlock(spatial_dims, features[-1], features[-1], kernels[-1])
        levels = range(n - 2, -1, -1)  # decoder levels, deepest first
        self.upsamples = nn.ModuleList(
            NearestUpsampleConv(spatial_dims, features[l + 1], features[l], self.strides[l + 1]) for l in levels
        )
        self.skip_blocks = nn.ModuleList(
            ResidualConvBlock(spatial_dims, features[l], features[l], kernels[l]) for l in levels
        )
        self.decoder_stages = nn.ModuleList(
            ResidualConvBlock(spatial_dims, 2 * features[l], features[l], kernels[l], projection="conv") for l in levels
        )
        self.seg_heads = nn.ModuleList(conv(features[l], out_channels, 1) for l in levels)
        self.apply(DynUNet.initialize_weights)  # nnU-Net's He init: kaiming_normal_(a=0.01), zero bias

    @staticmethod
    def official_checkpoint_filter(key: str, tensor: torch.Tensor) -> list[tuple[str, torch.Tensor]]:
        """Where a tensor of the official network's state_dict (``nnUNetTrainerMambaClinix``'s
        ``network_weights``) goes in this one: nothing for the names the official network registers twice
        (``decoder.encoder.*``, ``*.all_modules.*``) and its unused ``skip_scale`` (672 -> 286 entries at the 6-stage
        plan), else the one renamed key."""
        if _OFFICIAL_ALIASES.search(key):
            return []
        # the norm of a residual block's projection follows its conv in our Sequential (pool?, conv, norm)
        key = _SKIP_NORM.sub(lambda m: f".skip.{int(m.group(1)) + 1}.", key)
        for pattern, replacement in _OFFICIAL_NAMES:
            key = pattern.sub(replacement, key)
        return [(key, tensor)]

    def forward(self, x: torch.Tensor) -> torch.Tensor | list[torch.Tensor]:
        check_channels_first(
            "MambaClinix",
            x,
            self.in_channels,
            self.spatial_dims,
            self.total_stride,
            "pad or crop each axis to a multiple of the product of its strides (e.g. monai.transforms.DivisiblePadd).",
        )
        x = self.stem(x)
        skips = []
        for s, (stage, block) in enumerate(zip(self.encoder_stages, self.encoder_blocks)):
            x = stage(x)
            if s == self.num_hgcn_stages - 1:
                x = self.encoder_norm(x)
            x = block(x)
            skips.append(x)
        x = self.bottleneck(skips[-1])
        outputs = []
        for i, (up, skip_block, stage, head) in enumerate(
            zip(self.upsamples, self.skip_blocks, self.decoder_stages, self.seg_heads)
        ):
            x = stage(torch.cat([up(x), skip_block(skips[-(i + 2)])], dim=1))
            if self.deep_supervision and self.training:
                outputs.append(head(x))
        if self.deep_supervision and self.training:
            return outputs[::-1]
        return self.seg_heads[-1](x)

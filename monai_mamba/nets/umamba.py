# Copyright (c) monai-mamba contributors. Licensed under the Apache License, Version 2.0.
"""U-Mamba (Ma, Li and Wang, "U-Mamba: Enhancing Long-range Dependency for Biomedical Image Segmentation",
arXiv:2401.04722, 2024) in its two variants, U-Mamba Bot and U-Mamba Enc, 2-D and 3-D, as in the official code
(``bowang-lab/U-Mamba``, ``umamba/nnunetv2/nets/UMamba{Bot,Enc}_{2,3}d.py``), freed from nnU-Net."""

from __future__ import annotations

import math
import re
from collections.abc import Sequence

import torch
import torch.nn as nn
from monai.networks.layers.factories import Conv
from monai.networks.nets import DynUNet
from monai.utils import ensure_tuple_rep

from monai_mamba.blocks import NearestUpsampleConv, NormMambaLayer, ResidualConvBlock
from monai_mamba.blocks.input_checks import check_channels_first, per_stage

__all__ = ["UMambaBot", "UMambaEnc"]

# official state_dict name -> ours, applied in order (see ``UMambaBot.official_checkpoint_filter``)
_OFFICIAL_NAMES = tuple(
    (re.compile(pattern), replacement)
    for pattern, replacement in (
        (r"^encoder\.stem\.", "stem."),
        (r"^encoder\.stages\.", "encoder_stages."),
        (r"^encoder\.mamba_layers\.", "mamba_layers."),
        (r"^decoder\.stages\.", "decoder_stages."),
        (r"^decoder\.upsample_layers\.", "upsamples."),
        (r"^decoder\.seg_layers\.", "seg_heads."),
        (r"\.conv3\.", ".skip."),  # BasicResBlock's 1x1 conv
        (r"\.conv(\d)\.conv\.", r".conv\1."),  # BasicBlockD's ConvDropoutNormReLU pairs
        (r"\.conv(\d)\.norm\.", r".norm\1."),
    )
)
# registered twice by the official network: the decoder holds the encoder, ConvDropoutNormReLU its conv and norm again
_OFFICIAL_ALIASES = re.compile(r"^decoder\.encoder\.|\.all_modules\.")


class _UMamba(nn.Module):
    """The U-Net both variants share; ``mamba_stages`` says which encoder stages end in a Mamba layer."""

    def __init__(
        self,
        name: str,
        spatial_dims: int,
        in_channels: int,
        out_channels: int,
        features: Sequence[int],
        strides: Sequence[int | Sequence[int]],
        kernel_sizes: int | Sequence[int | Sequence[int]],
        n_conv_per_stage: int | Sequence[int],
        n_conv_per_stage_decoder: int | Sequence[int],
        deep_supervision: bool,
        mamba_stages: Sequence[int],
        channel_token_sizes: dict[int, int],
        mamba_kwargs: dict,
    ) -> None:
        super().__init__()
        n = len(features)
        if n < 2:
            raise ValueError(f"{name} needs at least 2 stages, got features={tuple(features)}.")
        if spatial_dims not in (2, 3):
            raise ValueError(f"{name}: spatial_dims must be 2 or 3, got {spatial_dims}.")
        self.name, self.spatial_dims, self.in_channels = name, spatial_dims, in_channels
        self.deep_supervision = deep_supervision
        self.strides = per_stage(name, strides, n, spatial_dims, "strides")
        kernels = per_stage(name, kernel_sizes, n, spatial_dims, "kernel_sizes")
        self.total_stride = tuple(math.prod(s[a] for s in self.strides) for a in range(spatial_dims))
        blocks = list(ensure_tuple_rep(n_conv_per_stage, n))
        decoder_blocks = list(ensure_tuple_rep(n_conv_per_stage_decoder, n - 1))
        for s in range(math.ceil(n / 2), n):  # the official networks: one block in the deep half of the encoder
            blocks[s] = 1
        for d in range(math.ceil((n - 1) / 2 + 0.5), n - 1):  # and in the fine half of the decoder
            decoder_blocks[d] = 1

        def stage(c_in: int, c_out: int, kernel, stride, count: int) -> nn.Sequential:
            # BasicResBlock (1x1-conv skip carrying the stride), then BasicBlockD with identity skips
            first = ResidualConvBlock(spatial_dims, c_in, c_out, kernel, stride, projection="conv")
            return nn.Sequential(
                first, *(ResidualConvBlock(spatial_dims, c_out, c_out, kernel) for _ in range(count - 1))
            )

        self.stem = stage(in_channels, features[0], kernels[0], 1, blocks[0])
        widths = [features[0], *features]
        self.encoder_stages = nn.ModuleList(
            stage(widths[s], widths[s + 1], kernels[s], self.strides[s], blocks[s]) for s in range(n)
        )
        self.channel_token_sizes = dict(channel_token_sizes)
        self.mamba_layers = nn.ModuleList(
            NormMambaLayer(channel_token_sizes.get(s, features[s]), s in channel_token_sizes, **mamba_kwargs)
            if s in mamba_stages
            else nn.Identity()
            for s in range(n)
        )
        # decoder level d = 0 (deepest) .. n - 2 (finest); in 2-D the finest level takes no skip (official code)
        self.skip_levels = n - 1 if spatial_dims == 3 else n - 2
        self.upsamples, self.decoder_stages, self.seg_heads = nn.ModuleList(), nn.ModuleList(), nn.ModuleList()
        for d in range(n - 1):
            level = n - 2 - d
            self.upsamples.append(
                NearestUpsampleConv(spatial_dims, features[level + 1], features[level], self.strides[level + 1])
            )
            c_in = 2 * features[level] if d < self.skip_levels else features[level]
            self.decoder_stages.append(stage(c_in, features[level], kernels[level], 1, decoder_blocks[d]))
            self.seg_heads.append(Conv[Conv.CONV, spatial_dims](features[level], out_channels, 1))
        self.apply(DynUNet.initialize_weights)  # nnU-Net's He init: kaiming_normal_(a=0.01), zero bias

    def official_checkpoint_filter(self, key: str, tensor: torch.Tensor) -> list[tuple[str, torch.Tensor]]:
        """Where a tensor of the official network's state_dict (``nnUNetTrainerUMambaBot``/``Enc``'s
        ``network_weights``) goes in this one: nothing for the names it registers twice (``decoder.encoder.*``,
        ``*.all_modules.*``), else the one renamed key (U-Mamba Bot's bottleneck ``mamba_layer.*`` is
        ``mamba_layers.<last stage>.*`` here)."""
        if _OFFICIAL_ALIASES.search(key):
            return []
        if key.startswith("mamba_layer."):
            return [(f"mamba_layers.{len(self.mamba_layers) - 1}.{key.removeprefix('mamba_layer.')}", tensor)]
        for pattern, replacement in _OFFICIAL_NAMES:
            key = pattern.sub(replacement, key)
        return [(key, tensor)]

    def forward(self, x: torch.Tensor) -> torch.Tensor | list[torch.Tensor]:
        check_channels_first(
            self.name,
            x,
            self.in_channels,
            self.spatial_dims,
            self.total_stride,
            "pad or crop each axis to a multiple of the product of its strides (e.g. monai.transforms.DivisiblePadd).",
        )
        x = self.stem(x)
        skips = []
        for stage, mamba in zip(self.encoder_stages, self.mamba_layers):
            x = mamba(stage(x))
            skips.append(x)
        x, outputs = skips[-1], []
        training_outputs = self.deep_supervision and self.training
        for d, (up, stage, head) in enumerate(zip(self.upsamples, self.decoder_stages, self.seg_heads)):
            x = up(x)
            if d < self.skip_levels:
                x = torch.cat([x, skips[-(d + 2)]], dim=1)
            x = stage(x)
            if training_outputs:
                outputs.append(head(x))
        return outputs[::-1] if training_outputs else self.seg_heads[-1](x)


_DOC_COMMON = """
    Encoder: a stem of residual blocks (nnU-Net's ``BasicResBlock``: ``conv_k -> IN -> LeakyReLU -> conv_k -> IN``
    plus a biased 1x1 conv, then ``n_conv_per_stage[0] - 1`` ``BasicBlockD`` with identity skips); stage ``s`` = the
    same, the first block carrying the stride in its first conv and its 1x1 skip; the deep half of the stages
    (``s >= ceil(n/2)``) has one block. Decoder, deepest level first: nearest upsampling + 1x1 conv to the skip's
    width, concatenation with the skip (3-D every level; 2-D all but the finest, as the official 2-D code), residual
    blocks as in the encoder (the fine half of the levels, ``d >= ceil(n/2)``, one block), a 1x1 head. Convolutions
    get nnU-Net's He initialisation; the Mamba layers' 1-D convolution keeps Mamba's. The Mamba layers compute in
    float32 also under autocast.

    The names of the modules differ from the official ones (no nnU-Net objects); ``official_checkpoint_filter`` maps an
    official state_dict (e.g. of an nnU-Net results folder) onto this one. The forward computation is the same.

    Args:
        spatial_dims: 2 or 3.
        in_channels: input channels.
        out_channels: classes.
        features: widths per stage (nnU-Net: ``min(32 * 2**s, 320)`` in 3-D, 512 in 2-D).
        strides: per stage, int or per axis; the first is normally 1.
        kernel_sizes: int, or per stage (int or per axis).
        n_conv_per_stage: residual blocks per encoder stage, int or per stage (nnU-Net's plans: 2).
        n_conv_per_stage_decoder: residual blocks per decoder level (deepest first), int or one per level.
        deep_supervision: in training mode return the logits of every decoder level, full resolution first.
"""


class UMambaBot(_UMamba):
    __doc__ = (
        """U-Mamba Bot: a residual U-Net with one Mamba layer (``LayerNorm -> Mamba`` over the voxels, no residual)
    on the bottleneck, the output of the last encoder stage.
"""
        + _DOC_COMMON
        + """        mamba_kwargs: ``d_state``, ``d_conv``, ``expand``, ``scan_backend`` of the Mamba layer.

    Shapes:
        ``(b, in_channels, *spatial)`` -> ``(b, out_channels, *spatial)``, or the list of deep-supervision logits at
        every level; each spatial size must be divisible by the product of that axis's strides.
    """
    )

    def __init__(
        self,
        spatial_dims: int = 3,
        in_channels: int = 1,
        out_channels: int = 2,
        features: Sequence[int] = (32, 64, 128, 256, 320, 320),
        strides: Sequence[int | Sequence[int]] = (1, 2, 2, 2, 2, 2),
        kernel_sizes: int | Sequence[int | Sequence[int]] = 3,
        n_conv_per_stage: int | Sequence[int] = 2,
        n_conv_per_stage_decoder: int | Sequence[int] = 2,
        deep_supervision: bool = True,
        **mamba_kwargs,
    ) -> None:
        n = len(features)
        super().__init__(
            "UMambaBot", spatial_dims, in_channels, out_channels, features, strides, kernel_sizes, n_conv_per_stage,
            n_conv_per_stage_decoder, deep_supervision, (n - 1,), {}, mamba_kwargs,
        )  # fmt: skip


class UMambaEnc(_UMamba):
    __doc__ = (
        """U-Mamba Enc: a residual U-Net whose encoder stages end in a Mamba layer (``LayerNorm -> Mamba``, no
    residual): every stage in 3-D; in 2-D every other stage, the last always (the others: none, as the official 2-D
    code). A stage whose feature map (at ``patch_size``) has no more voxels than channels runs Mamba with the channels
    as tokens, so the network fits the patch size it was built for.
"""
        + _DOC_COMMON
        + """        patch_size: the input's spatial size in training and sliding-window inference (the plan's patch).
        mamba_kwargs: ``d_state``, ``d_conv``, ``expand``, ``scan_backend`` of the Mamba layers.

    Shapes:
        ``(b, in_channels, *spatial)`` -> ``(b, out_channels, *spatial)``, or the list of deep-supervision logits at
        every level; each spatial size must be divisible by the product of that axis's strides, and be ``patch_size``
        where a stage has channel tokens (``channel_token_sizes``).
    """
    )

    def __init__(
        self,
        spatial_dims: int = 3,
        in_channels: int = 1,
        out_channels: int = 2,
        features: Sequence[int] = (32, 64, 128, 256, 320, 320),
        strides: Sequence[int | Sequence[int]] = (1, 2, 2, 2, 2, 2),
        kernel_sizes: int | Sequence[int | Sequence[int]] = 3,
        n_conv_per_stage: int | Sequence[int] = 2,
        n_conv_per_stage_decoder: int | Sequence[int] = 2,
        deep_supervision: bool = True,
        patch_size: Sequence[int] = (128, 128, 128),
        **mamba_kwargs,
    ) -> None:
        n = len(features)
        patch = ensure_tuple_rep(patch_size, spatial_dims)
        stage_strides = per_stage("UMambaEnc", strides, n, spatial_dims, "strides")
        # the official ResidualMambaEncoder: channel tokens where the stage's map has no more voxels than channels
        sizes, size = {}, list(patch)
        for s in range(n):
            size = [i // j for i, j in zip(size, stage_strides[s])]
            if math.prod(size) <= features[s]:
                sizes[s] = math.prod(size)
        mamba_stages = range(n) if spatial_dims == 3 else [s for s in range(n) if (s % 2 == 1) != (n % 2 == 1)]
        super().__init__(
            "UMambaEnc", spatial_dims, in_channels, out_channels, features, strides, kernel_sizes, n_conv_per_stage,
            n_conv_per_stage_decoder, deep_supervision, tuple(mamba_stages), sizes, mamba_kwargs,
        )  # fmt: skip
        self.patch_size = tuple(int(p) for p in patch)

    def forward(self, x: torch.Tensor) -> torch.Tensor | list[torch.Tensor]:
        if self.channel_token_sizes and x.dim() == self.spatial_dims + 2 and tuple(x.shape[2:]) != self.patch_size:
            raise ValueError(
                f"UMambaEnc was built for patch_size={list(self.patch_size)} (its stages "
                f"{sorted(self.channel_token_sizes)} take the channels as tokens, a fixed number of voxels), got "
                f"spatial size {list(x.shape[2:])}; infer with a sliding window of roi_size {list(self.patch_size)}."
            )
        return super().forward(x)

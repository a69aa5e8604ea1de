# Copyright (c) monai-mamba contributors. Licensed under the Apache License, Version 2.0.
"""Mamba-UNet (Wang et al., "Mamba-UNet: UNet-Like Pure Visual Mamba for Medical Image Segmentation",
arXiv:2402.05079, 2024), as in the official code (``ziyangwang007/Mamba-UNet``, ``networks/mamba_sys.py: VSSM``)."""

from __future__ import annotations

import re

import torch
import torch.nn as nn
from monai.networks.layers.factories import Conv

from monai_mamba.blocks import FinalPatchExpandX4, PatchEmbed, PatchExpand, VSSStage
from monai_mamba.blocks.input_checks import check_channels_first
from monai_mamba.blocks.vmamba_encoder import init_vmamba_weights
from monai_mamba.features import ULevels
from monai_mamba.weights import adapt_input_channels

__all__ = ["MambaUNet"]


class MambaUNet(nn.Module):
    """Mamba-UNet: a U-Net made only of VSS blocks (VMamba's SS2D), with patch merging and expanding.

    Structure (official ``VSSM``):

    - encoder: ``PatchEmbed`` (conv k=s=4 + LayerNorm) to ``feature_size`` channels, then ``len(depths)`` stages
      of ``depths[i]`` VSS blocks at ``feature_size * 2**i`` channels, ``PatchMerging`` after every stage but the
      last, LayerNorm after the bottleneck. The skips are the inputs of the stages
      (96@H/4, 192@H/8, 384@H/16, 768@H/32 with the defaults);
    - decoder: ``PatchExpand`` of the bottleneck, then for each level, deepest first: concatenate the skip,
      ``Linear(2C -> C)`` (with bias), ``depths`` VSS blocks, ``PatchExpand`` except at the last level;
      LayerNorm, ``FinalPatchExpandX4`` and a 1x1 convolution (no bias) to the classes. No deep supervision;
    - stochastic depth: ``linspace(0, drop_path_rate, sum(depths))`` over the encoder blocks, the decoder
      stage of each level reusing its encoder stage's rates;
    - initialisation as ``VSSM._init_weights``: every Linear ``trunc_normal(std=0.02)`` with zero bias, every
      LayerNorm (1, 0); convolutions and the SSM parameters keep their own initialisation.

    Module names are the official ones (``patch_embed``, ``layers``, ``layers_up``, ``concat_back_dim``,
    ``norm``, ``norm_up``, ``up``, ``output``), so VMamba ImageNet weights load as the official loader does
    (``vmamba_checkpoint_filter``) and a trained official ``VSSM`` state_dict loads directly.

    Differences from the official code: the official ``MambaUnet`` wrapper always builds a 3-channel patch
    embedding and repeats a 1-channel image to 3 channels; here ``in_channels`` is free (the pretrained loader
    sums the 3-channel kernel for a 1-channel model, which gives exactly the official output for a grey image).
    ``spatial_dims=3`` builds the 3-D variant the paper lists as future work (3-D VSS blocks on the 6-direction
    cross-scan and 3-D patch operations; no pretrained weights exist for it).

    Args:
        spatial_dims: 2, or 3 for the 3-D variant.
        in_channels: input channels.
        out_channels: classes.
        feature_size: channels after the patch embedding (96).
        depths: VSS blocks per stage (the paper: 2, 2, 2, 2).
        d_state: SSM state size.
        drop_path_rate: largest stochastic-depth rate.
        patch_size: of the patch embedding (4).
        ss2d_kwargs: further ``SS2D`` arguments (``scan_backend``, ...).

    Shapes:
        ``(b, in_channels, *spatial)`` -> ``(b, out_channels, *spatial)``; every spatial size must be divisible
        by ``patch_size * 2 ** (len(depths) - 1)`` (32 with the defaults).
    """

    # the levels of features across the U (monai_mamba.features.default_u_levels)
    u_levels = ULevels(
        ("patch_embed", "layers.0", "layers.1"),
        ("concat_back_dim.3", "concat_back_dim.2", "concat_back_dim.1"),
        channels_last=True,
    )

    def __init__(
        self,
        spatial_dims: int = 2,
        in_channels: int = 3,
        out_channels: int = 4,
        feature_size: int = 96,
        depths: tuple[int, ...] = (2, 2, 2, 2),
        d_state: int = 16,
        drop_path_rate: float = 0.2,
        patch_size: int = 4,
        **ss2d_kwargs,
    ) -> None:
        super().__init__()
        if spatial_dims not in (2, 3):
            raise ValueError(f"MambaUNet supports spatial_dims 2 or 3, got {spatial_dims}.")
        if patch_size != 4:
            raise ValueError("MambaUNet's final 4x patch expanding needs patch_size=4.")
        self.spatial_dims, self.in_channels = spatial_dims, in_channels
        levels = len(depths)
        self.total_stride = patch_size * 2 ** (levels - 1)
        dims = [feature_size * 2**i for i in range(levels)]
        rates = torch.linspace(0, drop_path_rate, sum(depths)).tolist()
        stage_rates = [rates[sum(depths[:i]) : sum(depths[: i + 1])] for i in range(levels)]

        self.patch_embed = PatchEmbed(patch_size, in_channels, feature_size, spatial_dims)
        self.layers = nn.ModuleList(
            VSSStage(
                dims[i], stage_rates[i], d_state, spatial_dims, "downsample" if i < levels - 1 else None, **ss2d_kwargs
            )
            for i in range(levels)
        )
        self.norm = nn.LayerNorm(dims[-1])
        self.layers_up = nn.ModuleList([PatchExpand(dims[-1], spatial_dims)])
        self.concat_back_dim = nn.ModuleList([nn.Identity()])
        for i in range(1, levels):
            level = levels - 1 - i
            self.concat_back_dim.append(nn.Linear(2 * dims[level], dims[level]))
            self.layers_up.append(
                VSSStage(
                    dims[level],
                    stage_rates[level],
                    d_state,
                    spatial_dims,
                    "upsample" if i < levels - 1 else None,
                    **ss2d_kwargs,
                )
            )
        self.norm_up = nn.LayerNorm(feature_size)
        self.up = FinalPatchExpandX4(feature_size, spatial_dims)
        self.output = Conv[Conv.CONV, spatial_dims](feature_size, out_channels, kernel_size=1, bias=False)
        self.apply(init_vmamba_weights)

    def vmamba_checkpoint_filter(self, key: str, tensor: torch.Tensor) -> list[tuple[str, torch.Tensor]]:
        """Where the official loader puts a VMamba ImageNet tensor (``monai_mamba.weights.load_vmamba_pretrained``):
        under its own name (patch embedding, the encoder stages, merging layers, final norm; what the model lacks,
        e.g. ``head.*`` and blocks beyond ``depths``, is skipped), and encoder stage ``i`` also into decoder stage
        ``L - 1 - i`` (``L`` stages). A 3-channel patch-embedding kernel is adapted to ``in_channels``
        (``monai_mamba.weights.adapt_input_channels``) where the official wrapper repeats the image to 3 channels.
        """
        if key == "patch_embed.proj.weight" and tensor.shape[1] != self.in_channels:
            tensor = adapt_input_channels(tensor, self.in_channels)
        targets = [(key, tensor)]
        if stage := re.match(r"layers\.(\d+)\.(.+)", key):
            targets.append((f"layers_up.{len(self.layers) - 1 - int(stage[1])}.{stage[2]}", tensor))
        return targets

    def official_checkpoint_filter(self, key: str, tensor: torch.Tensor) -> list[tuple[str, torch.Tensor]]:
        """Where a tensor of a checkpoint of the official training scripts (``train_fully_supervised_2D_VIM.py``:
        ``torch.save(model.state_dict())`` of the ``MambaUnet`` wrapper, whose ``VSSM`` is ``mamba_unet``) goes:
        the same name without the wrapper's prefix; the wrapper's 3-channel patch embedding (it repeats a grey image
        to 3 channels) adapted to ``in_channels`` (``adapt_input_channels``: the same output for a grey image)."""
        key = key.removeprefix("module.").removeprefix("mamba_unet.")
        if key == "patch_embed.proj.weight" and tensor.shape[1] != self.in_channels:
            tensor = adapt_input_channels(tensor, self.in_channels)
        return [(key, tensor)]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_channels_first(
            "MambaUNet",
            x,
            self.in_channels,
            self.spatial_dims,
            self.total_stride,
            f"resize, pad or crop to a multiple of {self.total_stride} (e.g. monai.transforms.Resized to 224).",
        )
        x = self.patch_embed(x)
        skips = []
        for layer in self.layers:
            skips.append(x)
            x = layer(x)
        x = self.norm(x)
        for i, (concat, layer_up) in enumerate(zip(self.concat_back_dim, self.layers_up)):
            if i > 0:
                x = concat(torch.cat([x, skips[-1 - i]], dim=-1))
            x = layer_up(x)
        x = self.up(self.norm_up(x))
        return self.output(x.movedim(-1, 1))

# Copyright (c) monai-mamba contributors. Licensed under the Apache License, Version 2.0.
"""Swin-UMamba (Liu et al., "Swin-UMamba: Mamba-based UNet with ImageNet-based pretraining", MICCAI 2024), as in
the official code (``JiarunLiu/Swin-UMamba``, ``nnunetv2/nets/SwinUMamba.py``)."""

from __future__ import annotations

import torch
import torch.nn as nn
from monai.networks.blocks import UnetOutBlock, UnetrBasicBlock, UnetrUpBlock
from monai.networks.layers.factories import Conv, Norm

from monai_mamba.blocks import VMambaEncoder
from monai_mamba.blocks.input_checks import check_channels_first
from monai_mamba.features import ULevels

__all__ = ["SwinUMamba"]


class SwinUMamba(nn.Module):
    """Swin-UMamba: an ImageNet-pretrainable VMamba encoder with a convolutional UNETR-style decoder.

    Structure (official code):

    - stem: Conv(in -> 48, k7, s2, p3) + affine InstanceNorm, no activation;
    - ``vssm_encoder``: VMamba-Tiny (depths 2, 2, 9, 2; dims 96..768; drop-path 0.2) with a patch size of 2 on the
      48 stem channels, returning [stem 48@H/2, 96@H/4, 192@H/8, 384@H/16, 768@H/32];
    - CNN side from MONAI blocks (instance norm, residual): ``encoder1`` on the raw input (in -> 48 @H), ``encoder2``
      ..``encoder5`` on the encoder features (-> 96, 192, 384, 768), ``UnetrUpBlock`` decoders 768 -> 768 -> 384
      -> 192 -> 96 -> 48 and a final ``UnetrBasicBlock`` 48 -> 48;
    - ``UnetOutBlock`` heads on the decoder outputs at H, H/2, H/4, H/8. With ``deep_supervision`` the network
      returns, in training mode, the list of the four logits maps (full resolution first); in eval mode (and without
      deep supervision) the full-resolution map only.

    Module names are the official ones, so a trained official state_dict loads, and
    ``monai_mamba.weights.load_vmamba_pretrained`` loads VMamba-Tiny ImageNet weights as the official loader does
    (``vmamba_checkpoint_filter``).

    Args:
        spatial_dims: 2 (the official network is 2-D; 3 builds the same design on 3-D blocks, without pretraining).
        in_channels: input channels.
        out_channels: classes.
        deep_supervision: return the four heads' outputs while training.
        feature_size: stem channels (48); the encoder dims are fixed by VMamba-Tiny.
        drop_path_rate: of the VMamba encoder.
        ss2d_kwargs: further ``SS2D`` arguments (``scan_backend``, ...).

    Shapes:
        ``(b, in_channels, *spatial)`` -> ``(b, out_channels, *spatial)`` (or the deep-supervision list at H, H/2,
        H/4, H/8); spatial sizes must be divisible by 32.
    """

    # the levels of features across the U (monai_mamba.features.default_u_levels)
    u_levels = ULevels(("encoder2", "encoder3", "encoder4"), ("decoder3", "decoder4", "decoder5"))
    # what the official loader skips ("patch_embed.norm.weight" is listed twice there, so the bias loads)
    vmamba_skipped = frozenset(
        {
            "norm.weight",
            "norm.bias",
            "head.weight",
            "head.bias",
            "patch_embed.proj.weight",
            "patch_embed.proj.bias",
            "patch_embed.norm.weight",
        }
    )

    def __init__(
        self,
        spatial_dims: int = 2,
        in_channels: int = 1,
        out_channels: int = 14,
        deep_supervision: bool = True,
        feature_size: int = 48,
        drop_path_rate: float = 0.2,
        **ss2d_kwargs,
    ) -> None:
        super().__init__()
        self.spatial_dims, self.in_channels, self.deep_supervision = spatial_dims, in_channels, deep_supervision
        dims = (96, 192, 384, 768)
        feat = (feature_size, *dims)
        self.stem = nn.Sequential(
            Conv[Conv.CONV, spatial_dims](in_channels, feature_size, kernel_size=7, stride=2, padding=3),
            Norm[Norm.INSTANCE, spatial_dims](feature_size, eps=1e-5, affine=True),
        )
        self.vssm_encoder = VMambaEncoder(
            feature_size,
            patch_size=2,
            depths=(2, 2, 9, 2),
            dims=dims,
            drop_path_rate=drop_path_rate,
            spatial_dims=spatial_dims,
            **ss2d_kwargs,
        )

        def basic(cin: int, cout: int) -> UnetrBasicBlock:
            return UnetrBasicBlock(
                spatial_dims, cin, cout, kernel_size=3, stride=1, norm_name="instance", res_block=True
            )

        def up(cin: int, cout: int) -> UnetrUpBlock:
            return UnetrUpBlock(
                spatial_dims, cin, cout, kernel_size=3, upsample_kernel_size=2, norm_name="instance", res_block=True
            )

        self.encoder1 = basic(in_channels, feat[0])
        self.encoder2, self.encoder3 = basic(feat[0], feat[1]), basic(feat[1], feat[2])
        self.encoder4, self.encoder5 = basic(feat[2], feat[3]), basic(feat[3], feat[4])
        self.decoder6, self.decoder5 = up(dims[-1], feat[4]), up(dims[-1], feat[3])
        self.decoder4, self.decoder3, self.decoder2 = up(feat[3], feat[2]), up(feat[2], feat[1]), up(feat[1], feat[0])
        self.decoder1 = basic(feat[0], feat[0])
        self.out_layers = nn.ModuleList(UnetOutBlock(spatial_dims, feat[i], out_channels) for i in range(4))

    def vmamba_checkpoint_filter(self, key: str, tensor: torch.Tensor) -> list[tuple[str, torch.Tensor]]:
        """Where the official loader puts a VMamba ImageNet tensor: into ``vssm_encoder`` (``layers.i.downsample`` ->
        ``downsamples.i``), except ``vmamba_skipped`` (the stem replaces VMamba's patch-embedding input, 205 tensors
        load)."""
        return [] if key in self.vmamba_skipped else [("vssm_encoder." + VMambaEncoder.vmamba_key(key), tensor)]

    def forward(self, x: torch.Tensor) -> torch.Tensor | list[torch.Tensor]:
        check_channels_first(
            "SwinUMamba",
            x,
            self.in_channels,
            self.spatial_dims,
            32,
            "resize, pad or crop to a multiple of 32 (e.g. monai.transforms.DivisiblePadd(k=32)).",
        )
        features = self.vssm_encoder(self.stem(x))  # [stem@H/2, 96@H/4, 192@H/8, 384@H/16, 768@H/32]
        enc1 = self.encoder1(x)
        enc2, enc3 = self.encoder2(features[0]), self.encoder3(features[1])
        enc4, enc5 = self.encoder4(features[2]), self.encoder5(features[3])
        dec4 = self.decoder6(features[4], enc5)
        dec3 = self.decoder5(dec4, enc4)
        dec2 = self.decoder4(dec3, enc3)
        dec1 = self.decoder3(dec2, enc2)
        out = self.decoder1(self.decoder2(dec1, enc1))
        if self.deep_supervision and self.training:
            return [head(f) for head, f in zip(self.out_layers, (out, dec1, dec2, dec3))]
        return self.out_layers[0](out)

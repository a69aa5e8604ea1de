# Copyright (c) monai-mamba contributors. Licensed under the Apache License, Version 2.0.
"""The residual convolution blocks of nnU-Net's residual encoders, as MambaClinix and U-Mamba use them."""

from __future__ import annotations

import torch
import torch.nn as nn
from monai.networks.layers.convutils import same_padding
from monai.networks.layers.factories import Conv, Norm, Pool
from monai.utils import ensure_tuple_rep

__all__ = ["ResidualConvBlock"]


class ResidualConvBlock(nn.Module):
    """``act(conv_norm(act(conv_norm(x))) + skip(x))``, the first convolution carrying the stride.

    Convolutions have a bias; norms are InstanceNorm (affine, eps 1e-5); the activation is LeakyReLU(0.01). The skip
    is the identity when shape and width are kept, otherwise:

    - ``projection="pool_conv_norm"`` (nnU-Net's ``BasicBlockD``): average pooling by the stride, then a 1x1
      convolution without bias and a norm (each only when needed);
    - ``projection="conv"`` (``BasicResBlock`` of MambaClinix's decoder and of U-Mamba): a 1x1 convolution with bias
      carrying the stride, no norm, and always present (also when widths and shape match).

    Args:
        spatial_dims: 2 or 3. in_channels, out_channels: widths.
        kernel_size: int or per axis.
        stride: int or per axis (first convolution).
        projection: the skip, see above.

    Shapes:
        ``(b, in, *spatial)`` -> ``(b, out, *spatial / stride)``.
    """

    def __init__(
        self,
        spatial_dims: int,
        in_channels: int,
        out_channels: int,
        kernel_size: int | tuple[int, ...] = 3,
        stride: int | tuple[int, ...] = 1,
        projection: str = "pool_conv_norm",
    ) -> None:
        super().__init__()
        conv, norm = Conv[Conv.CONV, spatial_dims], Norm[Norm.INSTANCE, spatial_dims]
        kernel, stride = ensure_tuple_rep(kernel_size, spatial_dims), ensure_tuple_rep(stride, spatial_dims)
        padding = same_padding(kernel)
        self.conv1 = conv(in_channels, out_channels, kernel, stride=stride, padding=padding)
        self.norm1 = norm(out_channels, eps=1e-5, affine=True)
        self.conv2 = conv(out_channels, out_channels, kernel, padding=padding)
        self.norm2 = norm(out_channels, eps=1e-5, affine=True)
        self.act = nn.LeakyReLU(1e-2, inplace=True)
        if projection == "conv":
            self.skip = conv(in_channels, out_channels, 1, stride=stride)
        elif projection == "pool_conv_norm":
            skip = []
            if any(s != 1 for s in stride):
                skip.append(Pool[Pool.AVG, spatial_dims](stride, stride))
            if in_channels != out_channels:
                skip += [conv(in_channels, out_channels, 1, bias=False), norm(out_channels, eps=1e-5, affine=True)]
            self.skip = nn.Sequential(*skip)  # empty: identity
        else:
            raise ValueError(f"ResidualConvBlock: projection must be 'pool_conv_norm' or 'conv', got {projection!r}.")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.act(self.norm1(self.conv1(x)))
        return self.act(self.norm2(self.conv2(y)) + self.skip(x))

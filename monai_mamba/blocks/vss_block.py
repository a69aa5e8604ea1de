# Copyright (c) monai-mamba contributors. Licensed under the Apache License, Version 2.0.
"""VSS block of VMamba (v0), as used by Mamba-UNet and Swin-UMamba, in 2-D and 3-D."""

from __future__ import annotations

import torch
import torch.nn as nn
from monai.networks.layers import DropPath

from monai_mamba.blocks.input_checks import check_channels_last
from monai_mamba.blocks.ss2d import SS2D

__all__ = ["VSSBlock"]


class VSSBlock(nn.Module):
    """``x + DropPath(SS2D(LayerNorm(x)))``, channels-last, no MLP (VMamba v0).

    Parameter names follow VMamba (``ln_1``, ``self_attention``): a VMamba checkpoint's
    ``layers.i.blocks.j.*`` keys load after removing that prefix.

    Args:
        hidden_dim: channels ``C``.
        drop_path: stochastic-depth rate.
        attn_drop_rate: dropout inside SS2D after its output projection.
        d_state: SSM state size.
        norm_eps: LayerNorm epsilon (1e-5, as VMamba's VSSM builds it).
        spatial_dims: 2, or 3 for the 3-D block on the 6-direction cross-scan.
        ss2d_kwargs: further arguments of ``SS2D`` (``expand``, ``d_conv``, ``scan_backend``, ...).

    Shapes:
        input ``(b, *spatial, C)`` -> output ``(b, *spatial, C)``.
    """

    def __init__(
        self,
        hidden_dim: int,
        drop_path: float = 0.0,
        attn_drop_rate: float = 0.0,
        d_state: int = 16,
        norm_eps: float = 1e-5,
        spatial_dims: int = 2,
        **ss2d_kwargs,
    ) -> None:
        super().__init__()
        self.ln_1 = nn.LayerNorm(hidden_dim, eps=norm_eps)
        self.self_attention = SS2D(
            d_model=hidden_dim, d_state=d_state, dropout=attn_drop_rate, spatial_dims=spatial_dims, **ss2d_kwargs
        )
        self.drop_path = DropPath(drop_path)
        self.hidden_dim, self.spatial_dims = hidden_dim, spatial_dims

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_channels_last("VSSBlock", x, self.hidden_dim, self.spatial_dims)
        return x + self.drop_path(self.self_attention(self.ln_1(x)))

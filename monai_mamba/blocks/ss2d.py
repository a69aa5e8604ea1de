# Copyright (c) monai-mamba contributors. Licensed under the Apache License, Version 2.0.
"""SS2D, the 2-D selective-scan module of VMamba (Liu et al., "VMamba: Visual State Space Model", 2024),
and its 3-D generalisation."""

from __future__ import annotations

import math

import torch
import torch.nn as nn
import torch.nn.functional as F
from monai.networks.layers.factories import Conv

from monai_mamba.blocks.input_checks import check_channels_last
from monai_mamba.blocks.ssm_init import init_dt_projection, s4d_real_log_a
from monai_mamba.ops import cross_merge, cross_scan, num_scan_directions, selective_scan

__all__ = ["SS2D"]


class SS2D(nn.Module):
    """VMamba's v0 SS2D: depthwise conv, a selective scan along every cross-scan direction, then merge.

    ``in_proj`` splits the tokens into ``x`` and the gate ``z``; ``x`` goes through a depthwise k3 convolution
    + SiLU, is unfolded into ``K = 2 * spatial_dims`` scan orders (``monai_mamba.ops.cross_scan``: 4 in 2-D as
    VMamba, 6 in 3-D), each direction ``k`` has its own ``x_proj``/``dt_proj``/``A``/``D`` and is scanned as
    group ``k`` of one selective scan; the directions are folded back and summed, normalised by ``out_norm``,
    gated by ``silu(z)`` and projected by ``out_proj``.

    Parameter names and shapes are VMamba v0's (``in_proj, conv2d, x_proj_weight (K, R + 2N, 2C),
    dt_projs_weight (K, 2C, R), dt_projs_bias (K, 2C), A_logs (2CK, N), Ds (2CK), out_norm, out_proj``), so
    a VMamba checkpoint's ``self_attention.*`` keys load directly. In 3-D the depthwise conv is registered as
    ``conv3d``.

    Args:
        d_model: channels ``C`` of the tokens.
        d_state: SSM state size ``N``.
        d_conv: kernel size of the depthwise convolution.
        expand: inner width ``2C`` for ``expand=2``.
        dt_rank: rank ``R`` of the ``dt`` projections; ``"auto"`` is ``ceil(C / 16)``.
        dt_min, dt_max, dt_init, dt_scale, dt_init_floor: ``dt`` initialisation, as in mamba_ssm/VMamba.
        dropout: dropout after ``out_proj``.
        conv_bias: bias in the depthwise conv.
        bias: bias in ``in_proj``/``out_proj``.
        spatial_dims: 2 or 3.
        scan_backend: selective-scan backend; None picks per device.

    Shapes:
        input channels-last ``(b, *spatial, C)`` -> output ``(b, *spatial, C)``.
    """

    def __init__(
        self,
        d_model: int,
        d_state: int = 16,
        d_conv: int = 3,
        expand: int = 2,
        dt_rank: int | str = "auto",
        dt_min: float = 0.001,
        dt_max: float = 0.1,
        dt_init: str = "random",
        dt_scale: float = 1.0,
        dt_init_floor: float = 1e-4,
        dropout: float = 0.0,
        conv_bias: bool = True,
        bias: bool = False,
        spatial_dims: int = 2,
        scan_backend: str | None = None,
    ) -> None:
        super().__init__()
        if spatial_dims not in (2, 3):
            raise ValueError(f"SS2D supports spatial_dims 2 or 3, got {spatial_dims}.")
        self.d_model = d_model
        self.d_state = d_state
        self.d_inner = expand * d_model
        self.dt_rank = math.ceil(d_model / 16) if dt_rank == "auto" else int(dt_rank)
        self.spatial_dims = spatial_dims
        self.scan_backend = scan_backend
        directions = num_scan_directions(spatial_dims)
        self.in_proj = nn.Linear(d_model, 2 * self.d_inner, bias=bias)
        self.add_module(
            f"conv{spatial_dims}d",
            Conv[Conv.CONV, spatial_dims](
                self.d_inner,
                self.d_inner,
                kernel_size=d_conv,
                padding=(d_conv - 1) // 2,
                groups=self.d_inner,
                bias=conv_bias,
            ),
        )
        bound = self.d_inner**-0.5  # nn.Linear's default init, as VMamba builds x_proj from Linear layers
        self.x_proj_weight = nn.Parameter(
            torch.empty(directions, self.dt_rank + 2 * d_state, self.d_inner).uniform_(-bound, bound)
        )
        self.dt_projs_weight = nn.Parameter(torch.empty(directions, self.d_inner, self.dt_rank))
        self.dt_projs_bias = nn.Parameter(torch.empty(directions, self.d_inner))
        init_dt_projection(self.dt_projs_weight, self.dt_projs_bias, dt_min, dt_max, dt_init, dt_scale, dt_init_floor)
        self.A_logs = nn.Parameter(s4d_real_log_a(directions * self.d_inner, d_state))
        self.Ds = nn.Parameter(torch.ones(directions * self.d_inner))
        self.A_logs._no_weight_decay = True
        self.Ds._no_weight_decay = True
        self.out_norm = nn.LayerNorm(self.d_inner)
        self.out_proj = nn.Linear(self.d_inner, d_model, bias=bias)
        self.dropout = nn.Dropout(dropout) if dropout > 0 else nn.Identity()

    @property
    def depthwise_conv(self) -> nn.Module:
        """The depthwise convolution, ``conv2d`` or ``conv3d`` by ``spatial_dims``."""
        return getattr(self, f"conv{self.spatial_dims}d")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_channels_last("SS2D", x, self.d_model, self.spatial_dims)
        batch, spatial = x.shape[0], x.shape[1:-1]
        x, z = self.in_proj(x).chunk(2, dim=-1)
        x = F.silu(self.depthwise_conv(x.movedim(-1, 1)))  # (b, d_inner, *spatial)
        xs = cross_scan(x)  # (b, K, d_inner, L)
        directions, length = xs.shape[1], xs.shape[-1]
        x_dbl = torch.einsum("bkdl,kcd->bkcl", xs, self.x_proj_weight)
        dts, Bs, Cs = x_dbl.split([self.dt_rank, self.d_state, self.d_state], dim=2)
        dts = torch.einsum("bkrl,kdr->bkdl", dts, self.dt_projs_weight)
        y = selective_scan(
            xs.reshape(batch, -1, length),
            dts.reshape(batch, -1, length),
            -torch.exp(self.A_logs.float()),
            Bs,
            Cs,
            self.Ds.float(),
            delta_bias=self.dt_projs_bias.float().flatten(),
            delta_softplus=True,
            backend=self.scan_backend,
        )
        y = cross_merge(y.view(batch, directions, self.d_inner, length), spatial)  # (b, d_inner, L)
        y = self.out_norm(y.transpose(1, 2).reshape(batch, *spatial, self.d_inner))
        return self.dropout(self.out_proj(y * F.silu(z)))

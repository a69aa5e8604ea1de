# Copyright (c) monai-mamba contributors. Licensed under the Apache License, Version 2.0.
"""The Mamba block (Gu & Dao, "Mamba: Linear-Time Sequence Modeling with Selective State Spaces", 2023)."""

from __future__ import annotations

import math

import torch
import torch.nn as nn
import torch.nn.functional as F

from monai_mamba.blocks.ssm_init import init_dt_projection, s4d_real_log_a
from monai_mamba.ops import causal_conv1d, selective_scan

__all__ = ["MambaLayer"]


class MambaLayer(nn.Module):
    """Mamba block with the parameter names, shapes and initialisation of ``mamba_ssm.Mamba``.

    ``in_proj`` splits the input into ``x`` and the gate ``z``; ``x`` goes through a causal depthwise
    ``conv1d`` + SiLU, ``x_proj`` makes the input-dependent ``dt, B, C``, ``dt_proj`` lifts ``dt`` to every
    channel, the selective scan (``A = -exp(A_log)``, skip ``D``, gate ``silu(z)``) runs over the sequence, and
    ``out_proj`` maps back. A state_dict of ``mamba_ssm.Mamba`` loads as it is (and back): the same weights
    run with the CUDA kernels on a GPU with mamba-ssm installed, and with the compiled CPU scan elsewhere.

    Args:
        d_model: feature size of the tokens.
        d_state: SSM state size ``n``.
        d_conv: width of the causal depthwise convolution.
        expand: ``d_inner = expand * d_model``.
        dt_rank: rank of the ``dt`` projection; ``"auto"`` is ``ceil(d_model / 16)``.
        dt_min, dt_max, dt_init, dt_scale, dt_init_floor: ``dt`` initialisation, as in mamba_ssm.
        conv_bias: bias in ``conv1d``.
        bias: bias in ``in_proj`` and ``out_proj``.
        scan_backend: backend of the selective scan and the causal conv1d (``monai_mamba.ops.backends``); None picks
            per device.

    Shapes:
        input ``(b, l, d_model)`` -> output ``(b, l, d_model)``.
    """

    def __init__(
        self,
        d_model: int,
        d_state: int = 16,
        d_conv: int = 4,
        expand: int = 2,
        dt_rank: int | str = "auto",
        dt_min: float = 0.001,
        dt_max: float = 0.1,
        dt_init: str = "random",
        dt_scale: float = 1.0,
        dt_init_floor: float = 1e-4,
        conv_bias: bool = True,
        bias: bool = False,
        scan_backend: str | None = None,
    ) -> None:
        super().__init__()
        self.d_model = d_model
        self.d_state = d_state
        self.d_inner = expand * d_model
        self.dt_rank = math.ceil(d_model / 16) if dt_rank == "auto" else int(dt_rank)
        self.scan_backend = scan_backend
        self.in_proj = nn.Linear(d_model, 2 * self.d_inner, bias=bias)
        self.conv1d = nn.Conv1d(
            self.d_inner, self.d_inner, kernel_size=d_conv, groups=self.d_inner, padding=d_conv - 1, bias=conv_bias
        )
        self.x_proj = nn.Linear(self.d_inner, self.dt_rank + 2 * d_state, bias=False)
        self.dt_proj = nn.Linear(self.dt_rank, self.d_inner, bias=True)
        init_dt_projection(self.dt_proj.weight, self.dt_proj.bias, dt_min, dt_max, dt_init, dt_scale, dt_init_floor)
        self.A_log = nn.Parameter(s4d_real_log_a(self.d_inner, d_state))
        self.D = nn.Parameter(torch.ones(self.d_inner))
        self.A_log._no_weight_decay = True  # read by optimiser set-ups that follow mamba_ssm's convention
        self.D._no_weight_decay = True
        self.out_proj = nn.Linear(self.d_inner, d_model, bias=bias)

    def forward(self, hidden_states: torch.Tensor) -> torch.Tensor:
        if hidden_states.dim() != 3 or hidden_states.shape[-1] != self.d_model:
            raise ValueError(
                f"MambaLayer expects tokens (batch, length, d_model={self.d_model}), got shape "
                f"{tuple(hidden_states.shape)}; flatten spatial dimensions into the length first."
            )
        # x and z as two products with the halves of in_proj's weight: each comes out contiguous, and the backward
        # adds two input gradients instead of concatenating (b, l, 2 d_inner) ones (chunk's backward)
        x_weight, z_weight = self.in_proj.weight.chunk(2)
        x_bias, z_bias = (None, None) if self.in_proj.bias is None else self.in_proj.bias.chunk(2)
        x = F.linear(hidden_states, x_weight, x_bias).transpose(1, 2)  # (b, d_inner, l), laid out channels-last
        z = F.linear(hidden_states, z_weight, z_bias).transpose(1, 2)
        x = causal_conv1d(
            x, self.conv1d.weight.squeeze(1), self.conv1d.bias, activation="silu", backend=self.scan_backend
        )
        dt, B, C = self.x_proj(x.transpose(1, 2)).split([self.dt_rank, self.d_state, self.d_state], dim=-1)
        dt = F.linear(dt, self.dt_proj.weight).transpose(1, 2)  # bias enters the scan as delta_bias
        y = selective_scan(
            x,
            dt,
            -torch.exp(self.A_log.float()),
            B.transpose(1, 2),
            C.transpose(1, 2),
            self.D.float(),
            z=z,
            delta_bias=self.dt_proj.bias.float(),
            delta_softplus=True,
            backend=self.scan_backend,
        )
        return self.out_proj(y.transpose(1, 2))

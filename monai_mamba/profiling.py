# Copyright (c) monai-mamba contributors. Licensed under the Apache License, Version 2.0.
"""Parameters and FLOPs of a network, counted the way the Mamba segmentation papers report them.

The papers (VMamba, Swin-UMamba, Mamba-UNet) count with fvcore: multiply-accumulates of matrix products and
convolutions (bias ignored), ``5 x numel`` for an affine LayerNorm/InstanceNorm (``4 x`` without affine),
element-wise activations and additions not counted, and the selective scan as ``9 B L D N`` plus ``B D L`` for each
of the ``D`` and ``z`` terms. This reproduces that with a ``TorchDispatchMode`` over the aten ops and an observer of
``monai_mamba.ops.selective_scan``, so no tracer (fvcore, jit) is needed. The network runs in training mode
without gradients so that deep-supervision heads are counted, as the authors' counts include them.

    python -m monai_mamba.profiling SwinUMamba --input_shape "[1, 1, 320, 320]" --out_channels 14
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn as nn
from monai.networks.utils import train_mode
from torch.utils._python_dispatch import TorchDispatchMode

from monai_mamba.ops import scan_dispatch

__all__ = ["count_params_and_flops"]

_aten = torch.ops.aten


class _MacCounter(TorchDispatchMode):
    def __init__(self) -> None:
        super().__init__()
        self.counts: dict[str, int] = {}

    def _add(self, kind: str, value: int) -> None:
        self.counts[kind] = self.counts.get(kind, 0) + int(value)

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        op = func.overloadpacket
        if op is _aten.mm:
            self._add("matmul", args[0].shape[0] * args[0].shape[1] * args[1].shape[1])
        elif op is _aten.addmm:
            self._add("matmul", args[1].shape[0] * args[1].shape[1] * args[2].shape[1])
        elif op is _aten.bmm:
            a, b = args[0], args[1]
            self._add("matmul", a.shape[0] * a.shape[1] * a.shape[2] * b.shape[2])
        elif op is _aten.convolution:
            x, weight, transposed = args[0], args[1], args[6]
            spatial = x.shape[2:] if transposed else out.shape[2:]
            self._add("conv", x.shape[0] * math.prod(weight.shape) * math.prod(spatial))
        elif op is _aten.native_layer_norm:
            self._add("norm", args[0].numel() * (5 if args[2] is not None else 4))
        elif op in (_aten.native_batch_norm, _aten._native_batch_norm_legit):  # instance norm decomposes to these
            self._add("norm", args[0].numel() * (5 if args[1] is not None else 4))
        elif op in (_aten.upsample_bilinear2d, _aten.upsample_trilinear3d):
            self._add("upsample", out.numel() * 4)
        elif op in (_aten.upsample_nearest2d, _aten.upsample_nearest3d):
            self._add("upsample", out.numel())
        return out


def count_params_and_flops(model: nn.Module, input_shape: Sequence[int]) -> dict[str, float]:
    """Parameters and fvcore-style FLOPs (multiply-accumulates) of ``model`` on a random input of ``input_shape``.

    Returns:
        ``{"params": ..., "flops": ..., "matmul": ..., "conv": ..., "norm": ..., "scan": ..., ...}`` (counts).
    """
    scans = []

    def observe_scan(u: torch.Tensor, A: torch.Tensor, D: torch.Tensor | None, z: torch.Tensor | None) -> None:
        batch, dim, length = u.shape
        scans.append(9 * batch * length * dim * A.shape[1] + batch * dim * length * ((D is not None) + (z is not None)))

    parameter = next(model.parameters())
    x = torch.randn(*input_shape, device=parameter.device, dtype=parameter.dtype)
    scan_dispatch.scan_observers.append(observe_scan)
    try:
        with train_mode(model), torch.no_grad(), _MacCounter() as counter:
            model(x)
    finally:
        scan_dispatch.scan_observers.remove(observe_scan)
    counts = dict(counter.counts, scan=sum(scans))
    return {"params": sum(p.numel() for p in model.parameters()), "flops": sum(counts.values()), **counts}


def main(net: str, input_shape: Sequence[int], **network_kwargs) -> None:
    """Print parameters and GFLOPs of ``monai_mamba.nets.<net>(**network_kwargs)`` on ``input_shape``."""
    from monai_mamba import nets

    result = count_params_and_flops(getattr(nets, net)(**network_kwargs), list(input_shape))
    print(f"{net}: {result['params']:,} parameters, {result['flops'] / 1e9:.1f} GFLOPs on {list(input_shape)}")


if __name__ == "__main__":
    import fire

    fire.Fire(main)

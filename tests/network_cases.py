# Copyright (c) monai-mamba contributors. Licensed under the Apache License, Version 2.0.
"""Every network and Mamba block of the library in a small configuration, with an input it takes: for the export,
compile, autocast, kernel-contract and GPU tests."""

from __future__ import annotations

import copy
import functools

import torch
from gradient_checks import run_forward_backward

from monai_mamba.blocks import HGCNBlock, MambaLayer, ResidualMambaLayer, RVMLayer, VSSBlock
from monai_mamba.nets import LightMUNet, MambaClinix, MambaUNet, SwinUMamba, SwinUMambaD, UMambaBot, UMambaEnc

SMALL_NETWORKS = {
    "MambaClinix": (lambda: MambaClinix(3, 2, 3, features=(8, 16, 32), strides=(1, 2, 2)), (1, 2, 16, 16, 16)),
    "LightMUNet": (lambda: LightMUNet(2, 1, 2, init_filters=8), (1, 1, 32, 32)),
    "LightMUNet3d": (lambda: LightMUNet(3, 1, 2, init_filters=8), (1, 1, 16, 16, 16)),
    "MambaUNet": (lambda: MambaUNet(2, 1, 2, feature_size=16), (1, 1, 64, 64)),
    "SwinUMamba": (lambda: SwinUMamba(2, 1, 2), (1, 1, 64, 64)),
    "SwinUMambaD": (lambda: SwinUMambaD(2, 1, 2), (1, 1, 64, 64)),
    "UMambaBot": (
        lambda: UMambaBot(3, 1, 2, features=(8, 16, 32), strides=(1, 2, 2), deep_supervision=False),
        (1, 1, 16, 16, 16),
    ),
    "UMambaEnc": (
        lambda: UMambaEnc(
            2, 1, 2, features=(8, 16, 32), strides=(1, 2, 2), deep_supervision=False, patch_size=(32, 32)
        ),
        (1, 1, 32, 32),
    ),
}

# every block with a Mamba layer or VMamba's SS2D, and the HGCN block, with an input: kernel-contract and GPU tests
BLOCKS = {
    "MambaLayer": (lambda: MambaLayer(16), (2, 37, 16)),
    "MambaLayer-d_inner-20": (lambda: MambaLayer(10), (2, 37, 10)),  # channels-last x with 20 channels: made contiguous
    "VSSBlock-2d": (lambda: VSSBlock(16, d_state=4), (2, 6, 5, 16)),
    "VSSBlock-3d": (lambda: VSSBlock(8, d_state=4, spatial_dims=3), (1, 4, 3, 5, 8)),
    "RVMLayer": (lambda: RVMLayer(8, 16, d_state=4), (2, 8, 6, 7)),
    "ResidualMambaLayer": (lambda: ResidualMambaLayer(8, d_state=4), (1, 8, 4, 4, 3)),
    "HGCNBlock": (lambda: HGCNBlock(3, 16), (1, 16, 5, 6, 4)),
}

# small inputs for the tests that run the reference scan step by step in Python (the kernel contract), every network
# under autocast, or ONNX export (its time grows with the unrolled scan): the smallest each network takes, but
# MambaClinix's 16^3 (at 8^3 its last InstanceNorms see 2^3 voxels, and bfloat16 rounding there blows the gradients
# up to 1e36)
FAST_INPUTS = {
    "MambaClinix": (1, 2, 16, 16, 16),
    "LightMUNet": (1, 1, 16, 16),
    "LightMUNet3d": (1, 1, 8, 8, 8),
    "MambaUNet": (1, 1, 32, 32),
    "SwinUMamba": (1, 1, 32, 32),
    "SwinUMambaD": (1, 1, 32, 32),
    "UMambaBot": (1, 1, 16, 16, 16),
    "UMambaEnc": (1, 1, 32, 32),
}

# How far each network under CPU autocast may be from float64 (gradient_checks.relative_error: the output; the input
# gradient and all parameter gradients, each taken together) at FAST_INPUTS: about twice the larger of the numba and
# torch backends' errors that benchmarks/autocast_accuracy.py measures (its table is in the README). The networks
# amplify rounding in their backward at initialisation, and bfloat16 (8 significant bits) and float16 (11) scale that
# up; the outputs stay close. LightM-UNet's gradients under half precision are mostly rounding at initialisation
# (0.6-2.2 of their norm): there the test shows finite gradients of the right scale, not accurate ones.
AUTOCAST_TOLERANCE = {
    "MambaClinix": {torch.bfloat16: dict(output=0.06, gradients=0.6), torch.float16: dict(output=0.01, gradients=0.2)},
    "LightMUNet": {torch.bfloat16: dict(output=0.08, gradients=2.0), torch.float16: dict(output=0.01, gradients=1.2)},
    "LightMUNet3d": {torch.bfloat16: dict(output=0.2, gradients=4.5), torch.float16: dict(output=0.04, gradients=2.0)},
    "MambaUNet": {
        torch.bfloat16: dict(output=0.02, gradients=0.04),
        torch.float16: dict(output=0.003, gradients=0.005),
    },
    "SwinUMamba": {
        torch.bfloat16: dict(output=0.03, gradients=0.55),
        torch.float16: dict(output=0.004, gradients=0.15),
    },
    "SwinUMambaD": {
        torch.bfloat16: dict(output=0.04, gradients=0.06),
        torch.float16: dict(output=0.004, gradients=0.008),
    },
    "UMambaBot": {torch.bfloat16: dict(output=0.03, gradients=0.55), torch.float16: dict(output=0.004, gradients=0.2)},
    "UMambaEnc": {torch.bfloat16: dict(output=0.16, gradients=0.85), torch.float16: dict(output=0.02, gradients=0.3)},
}


@functools.cache
def network_and_float64_truth(name: str) -> tuple[torch.nn.Module, torch.Tensor, dict]:
    """The network ``name`` (seeded, training mode, float32), its input at ``FAST_INPUTS`` and its float64 output and
    gradients on the numba backend, made once per session; callers must not change the network (the runs of
    ``gradient_checks.run_forward_backward`` work on copies)."""
    torch.manual_seed(0)
    network, inputs = SMALL_NETWORKS[name][0]().train(), torch.randn(FAST_INPUTS[name])
    return network, inputs, run_forward_backward(copy.deepcopy(network).double(), inputs, "cpu")

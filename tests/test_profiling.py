# Copyright (c) monai-mamba contributors. Licensed under the Apache License, Version 2.0.
import pytest
import torch

from monai_mamba.nets import SwinUMamba, SwinUMambaD
from monai_mamba.ops import scan_dispatch
from monai_mamba.profiling import count_params_and_flops


@pytest.mark.parametrize("network, params, gflops", [(SwinUMamba, 59_889_368, 68.0), (SwinUMambaD, 27_497_720, 18.9)])
def test_swin_umamba_flops_as_the_authors_count_them(network, params, gflops):
    """The paper's figures at 1x1x320x320 (fvcore-style, scan as 9 BLDN + BDL, deep-supervision heads included)."""
    result = count_params_and_flops(network(in_channels=1, out_channels=14), [1, 1, 320, 320])
    assert result["params"] == params
    assert round(result["flops"] / 1e9, 1) == gflops
    assert result["scan"] > 0 and not scan_dispatch.scan_observers


def test_counts_a_linear_layer_exactly():
    result = count_params_and_flops(torch.nn.Sequential(torch.nn.Linear(8, 4), torch.nn.LayerNorm(4)), [3, 8])
    assert result["matmul"] == 3 * 8 * 4 and result["norm"] == 3 * 4 * 5 and result["params"] == 8 * 4 + 4 + 8

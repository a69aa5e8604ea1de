# Copyright (c) monai-mamba contributors. Licensed under the Apache License, Version 2.0.
"""bfloat16 autocast on a CPU around any MONAI inferer: training forwards, validation, inference and MONAI Label.

MONAI's engines autocast to CUDA only (``amp: true`` on a CPU warns and runs float32). On a CPU with native bfloat16
(AVX512-BF16 or AMX) the convolutions and matrix products run about twice as fast in bfloat16. ``CPUBF16Inferer``
wraps the inferer a bundle already has (``SimpleInferer`` for the training forward, the sliding-window or slice
inferer of validation and inference) and calls the network under ``torch.autocast("cpu", dtype=torch.bfloat16)``:

- autocast's CPU rules decide what runs in bfloat16 (convolutions, linear layers, matrix products); the selective
  scan and the causal convolution keep their state and sums in float32 (``monai_mamba.ops``); torch's CPU kernels
  for the norms (instance, group, batch, layer) accumulate their statistics in float32 and round the output once;
- every floating output of the network is returned in float32, so a sliding window sums its tiles, and the loss
  (Dice, cross-entropy) is computed, in float32, and the gradient flows back through the cast;
- on a CUDA device the inferer is the wrapped one: mixed precision there is the engine's ``amp``;
- on a CPU without native bfloat16 it says so once (a warning) and runs float32: emulated bfloat16 is slower.
"""

from __future__ import annotations

import functools
import warnings
from typing import Any

import torch
from monai.inferers import Inferer

__all__ = ["CPUBF16Inferer", "cpu_has_native_bf16"]


@functools.cache
def cpu_has_native_bf16() -> bool:
    """Whether this CPU computes bfloat16 matrix products natively (oneDNN's check: AVX512-BF16, or AMX)."""
    try:
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):  # a torch build without oneDNN
        return False


@functools.cache
def _warn_no_native_bf16() -> None:
    warnings.warn(
        "cpu_bf16: this CPU has no native bfloat16 (AVX512-BF16 or AMX), where emulated bfloat16 is slower than "
        "float32; running float32. Set cpu_bf16 to false to silence this.",
        stacklevel=3,
    )


def _to_float32(output: Any) -> Any:
    """Floating tensors of a network's output (a tensor, or a list/tuple/dict of them, as deep supervision returns)
    in float32."""
    if isinstance(output, torch.Tensor):
        return output.float() if output.is_floating_point() and output.dtype != torch.float64 else output
    if isinstance(output, (list, tuple)):
        return type(output)(_to_float32(o) for o in output)
    if isinstance(output, dict):
        return {k: _to_float32(v) for k, v in output.items()}
    return output


class _BF16Network:
    """``network`` called under CPU bfloat16 autocast, its floating outputs returned in float32."""

    def __init__(self, network):
        self.network = network

    def __call__(self, *args, **kwargs):
        with torch.autocast("cpu", dtype=torch.bfloat16):
            output = self.network(*args, **kwargs)
        return _to_float32(output)


class CPUBF16Inferer(Inferer):
    """Run ``inferer`` with the network under CPU bfloat16 autocast (see the module docstring).

    Args:
        inferer: the MONAI inferer to wrap (``SimpleInferer``, ``SlidingWindowInferer``, ``SliceInferer``, ...).
        enabled: autocast to bfloat16 (a bundle's ``cpu_bf16``); False: exactly ``inferer``.

    Inputs on a CUDA device, or on a CPU without native bfloat16 (warned once), run as ``inferer`` alone.
    """

    def __init__(self, inferer: Inferer, enabled: bool = True) -> None:
        super().__init__()
        self.inferer = inferer
        self.enabled = bool(enabled)

    def active_for(self, inputs: torch.Tensor) -> bool:
        """Whether a call with ``inputs`` autocasts: enabled, a CPU tensor, a CPU with native bfloat16."""
        if not self.enabled or inputs.device.type != "cpu":
            return False
        if not cpu_has_native_bf16():
            _warn_no_native_bf16()
            return False
        return True

    def __call__(self, inputs: torch.Tensor, network, *args: Any, **kwargs: Any) -> Any:
        """``inferer(inputs, network, *args, **kwargs)``, the network under bfloat16 autocast when active; floating
        outputs in float32 then."""
        if not self.active_for(inputs):
            return self.inferer(inputs, network, *args, **kwargs)
        return self.inferer(inputs, _BF16Network(network), *args, **kwargs)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.inferer!r}, enabled={self.enabled})"

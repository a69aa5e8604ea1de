# Copyright (c) monai-mamba contributors. Licensed under the Apache License, Version 2.0.
"""How far each network is from float64 under CPU autocast: the measurement behind the tolerances of
``tests/network_cases.py`` (``AUTOCAST_TOLERANCE``) and the README's mixed-precision table.

    python benchmarks/autocast_accuracy.py

For every network of the tests (``SMALL_NETWORKS`` at ``FAST_INPUTS``), backend (numba ``cpu``, ``torch``) and
precision (float32, bfloat16 and float16 autocast): the relative error (Euclidean norm of the difference over the norm
of the float64 result) of the output, the input gradient and all parameter gradients taken together, against the same
network in float64 on the numba backend, with the tests' loss (``tests/gradient_checks.py``).
"""

from __future__ import annotations

import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from gradient_checks import relative_error, run_forward_backward  # noqa: E402
from network_cases import FAST_INPUTS, SMALL_NETWORKS, network_and_float64_truth  # noqa: E402


def main() -> None:
    print(f"torch={torch.__version__} threads={torch.get_num_threads()}")
    print("\n| network | input | backend | precision | output | input gradient | parameter gradients |")
    print("|---|---|---|---|---|---|---|")
    for name in SMALL_NETWORKS:
        network, inputs, truth = network_and_float64_truth(name)
        parameters = [k for k in truth if k not in ("output", "input gradient")]
        shape = "x".join(map(str, FAST_INPUTS[name][2:]))
        for backend in ("cpu", "torch"):
            for dtype in (None, torch.bfloat16, torch.float16):
                result = run_forward_backward(network, inputs, backend, autocast=dtype)
                errors = [relative_error(result, truth, keys) for keys in (["output"], ["input gradient"], parameters)]
                cells = " | ".join(f"{e:.1e}" for e in errors)
                precision = "float32" if dtype is None else str(dtype).replace("torch.", "")
                print(f"| {name} | {shape} | {backend} | {precision} | {cells} |", flush=True)


if __name__ == "__main__":
    main()

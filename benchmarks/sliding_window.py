# Copyright (c) monai-mamba contributors. Licensed under the Apache License, Version 2.0.
"""Sliding-window settings of the bundles' inference, measured: time and what each setting changes in the output.

    python benchmarks/sliding_window.py                                  # every network of benchmarks/networks.py
    python benchmarks/sliding_window.py --cases=mambaclinix --precision=bfloat16

For each network (built as ``benchmarks/networks.py`` builds it, at its bundle's window, in eval mode, seeded) and one
image of ``networks.py``'s inference size (512x512 in 2-D, 192x192x160 in 3-D), MONAI's ``SlidingWindowInferer`` runs
with the bundle's setting (``Case.window``, Gaussian blending as ``shared/run.yaml``) and with each variation: the
number of windows per network call (``sw_batch_size`` 1 and 4), a smaller tile overlap (0.25), and constant against
reflect padding of an image smaller than the window. Each row gives the windows the image is cut into, the median
time of ``--repeats`` runs after one warm-up run, and the output's difference from the bundle setting's: the largest
absolute logit difference over the largest absolute logit, and the share of voxels whose label (argmax) changes.
A setting that changes nothing beyond float rounding (labels equal, relative difference near 1e-6) can be a
default; one that changes the output is an option for the user to weigh.
"""

from __future__ import annotations

import statistics
import time

import fire
import torch
from monai.data.utils import dense_patch_slices
from monai.inferers import SlidingWindowInferer
from networks import CASES, build

from monai_mamba.inferers import CPUBF16Inferer


def _windows(image_size, roi_size, overlap) -> int:
    scan_interval = [max(int(r * (1 - overlap)), 1) if r < s else 1 for r, s in zip(roi_size, image_size)]
    return len(dense_patch_slices(image_size, roi_size, scan_interval))


def _variations(window: dict) -> list[tuple[str, dict]]:
    """(label, settings) rows: the bundle's, then each change from it."""
    rows = [("bundle", {})]
    rows += [(f"sw_batch_size {b}", dict(sw_batch_size=b)) for b in (1, 4) if b != window["sw_batch_size"]]
    if window["overlap"] > 0.25:
        rows.append(("overlap 0.25", dict(overlap=0.25)))
    return rows


def _run(inferer, image, network, repeats: int) -> tuple[torch.Tensor, float]:
    output = inferer(image, network)  # warm-up
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        output = inferer(image, network)
        times.append(time.perf_counter() - start)
    return output, statistics.median(times)


def measure(case_name: str, precision: str, repeats: int) -> None:
    case = CASES[case_name]
    roi = case.window["roi_size"]
    torch.manual_seed(0)
    network = build(case_name, case, roi).eval()
    size = (512, 512) if case.spatial_dims == 2 else (192, 192, 160)
    image = torch.randn(1, case.in_channels, *size)
    small = torch.randn(1, case.in_channels, *(r * 3 // 4 for r in roi))  # smaller than one window: padded
    enabled = precision == "bfloat16"
    reference = None
    with torch.no_grad():
        for label, change in _variations(case.window):
            settings = dict(case.window, mode="gaussian", **change)
            inferer = CPUBF16Inferer(SlidingWindowInferer(**settings), enabled=enabled)
            output, seconds = _run(inferer, image, network, repeats)
            reference = output if reference is None else reference
            windows = _windows(size, roi, settings["overlap"])
            _print_row(case_name, precision, label, windows, seconds, output, reference)
        padded = {}
        for mode in ("constant", "reflect"):
            inferer = CPUBF16Inferer(SlidingWindowInferer(**case.window, mode="gaussian", padding_mode=mode), enabled)
            padded[mode], seconds = _run(inferer, small, network, repeats)
            label = f"padding {mode} (small image)"
            _print_row(case_name, precision, label, 1, seconds, padded[mode], padded["constant"])


def _print_row(case_name, precision, label, windows, seconds, output, reference) -> None:
    difference = ((output - reference).abs().max() / reference.abs().max()).item()
    changed = (output.argmax(1) != reference.argmax(1)).float().mean().item()
    cells = f"{windows} | {seconds:.2f} | {difference:.1e} | {100 * changed:.3f} %"
    print(f"| {case_name} | {precision} | {label} | {cells} |", flush=True)


def main(cases: str = ",".join(CASES), precision: str = "float32", repeats: int = 1) -> None:
    """Print one markdown table, a row per (network, setting)."""
    names = cases.split(",") if isinstance(cases, str) else list(cases)
    print(f"torch={torch.__version__} threads={torch.get_num_threads()} repeats={repeats}")
    print("| network | precision | setting | windows | time (s) | max logit difference | labels changed |")
    print("|---|---|---|---|---|---|---|")
    for name in names:
        measure(name, precision, repeats)


if __name__ == "__main__":
    fire.Fire(main)

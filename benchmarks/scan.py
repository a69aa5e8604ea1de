# Copyright (c) monai-mamba contributors. Licensed under the Apache License, Version 2.0.
"""Selective-scan benchmark: median forward and forward+backward time and peak extra memory per backend.

    python benchmarks/scan.py                      # every backend available here, all five shapes
    python benchmarks/scan.py --shapes=1,3 --repeats=3 --methods=cpu,pscan

Shapes (VMamba groups the 4 scan directions of a 2-D map):
  1: b=1, d=768 in 4 groups, n=16, l=3136    (VMamba stage 1 at 224x224)
  2: b=1, d=1536 in 4 groups, n=16, l=196    (VMamba stage 3 at 224x224)
  3: b=1, d=128, n=16, l=32768
  4: b=1, d=64, n=16, l=262144               (a 64^3 volume scanned as one sequence)
  5: b=1, d=384 in 4 groups, n=16, l=4096    (Swin-UMamba/Mamba-UNet's SS2D at 64x64, channels-first)

Methods: the library's backends available on the device (``cuda``, ``cpu``, ``torch``; ``ref`` is for tests
only and far too slow here) and, when mambapy is installed (``pip install "monai-mamba[bench]"``), its
``pscan`` as a reference point. Every method computes the same Mamba-1 scan with softplus'ed dt, a delta
bias and D, at Mamba's initialisation (A = -(1..16), dt in [0.001, 0.1]).

Each (method, shape) runs in a fresh subprocess. Peak extra memory is the highest resident-set size seen
during one forward+backward minus the size just before it (inputs allocated, warm-up done), sampled every
0.2 ms, with glibc's malloc set to return large blocks to the system; on CUDA it is
``torch.cuda.max_memory_allocated`` over the same interval.
"""

from __future__ import annotations

import json
import math
import os
import statistics
import time

import fire
import torch
import torch.nn.functional as F
from measure import MEMORY_ENV, PeakRSS, as_list, measure_in_subprocess, rss_bytes

SHAPES = {
    1: dict(batch=1, dim=768, groups=4, nstate=16, length=3136),
    2: dict(batch=1, dim=1536, groups=4, nstate=16, length=196),
    3: dict(batch=1, dim=128, groups=1, nstate=16, length=32768),
    4: dict(batch=1, dim=64, groups=1, nstate=16, length=262144),
    5: dict(batch=1, dim=384, groups=4, nstate=16, length=4096),
}


def make_inputs(batch, dim, groups, nstate, length, device):
    gen = torch.Generator().manual_seed(0)
    dt0 = torch.exp(torch.rand(dim, generator=gen) * (math.log(0.1) - math.log(0.001)) + math.log(0.001))
    inputs = dict(
        u=torch.randn(batch, dim, length, generator=gen),
        delta=torch.randn(batch, dim, length, generator=gen) * 0.1,
        A=-torch.arange(1, nstate + 1, dtype=torch.float32).repeat(dim, 1),
        B=torch.randn(batch, groups, nstate, length, generator=gen),
        C=torch.randn(batch, groups, nstate, length, generator=gen),
        D=torch.ones(dim),
        delta_bias=dt0 + torch.log(-torch.expm1(-dt0)),
    )
    return {k: v.to(device).requires_grad_() for k, v in inputs.items()}


def pscan_selective_scan(u, delta, A, B, C, D, delta_bias):
    """The same scan through mambapy's Blelloch pscan, as mambapy's own selective_scan does it."""
    from mambapy.pscan import pscan

    dt = F.softplus(delta + delta_bias[:, None])  # (b, d, l)
    per_group = u.shape[1] // B.shape[1]
    B = B.repeat_interleave(per_group, dim=1).permute(0, 3, 1, 2)  # (b, l, d, n)
    C = C.repeat_interleave(per_group, dim=1).permute(0, 3, 1, 2)
    decay = torch.exp(dt.transpose(1, 2).unsqueeze(-1) * A)  # (b, l, d, n)
    inject = (dt * u).transpose(1, 2).unsqueeze(-1) * B
    states = pscan(decay, inject)
    return ((states * C).sum(-1) + u.transpose(1, 2) * D).transpose(1, 2)


def _scan_fn(method):
    if method == "pscan":
        return pscan_selective_scan
    from monai_mamba.ops import selective_scan

    return lambda **kw: selective_scan(**kw, delta_softplus=True, backend=method)


def _sync(device):
    if device == "cuda":
        torch.cuda.synchronize()


def measure(method: str, shape: int, repeats: int, device: str, what: str) -> dict:
    """Run in the current process after a warm-up: ``what="time"`` gives median times, ``"memory"`` the peak
    extra memory of one forward+backward."""
    inputs = make_inputs(**SHAPES[shape], device=device)
    scan = _scan_fn(method)

    def forward_backward():
        scan(**inputs).sum().backward()
        for v in inputs.values():
            v.grad = None
        _sync(device)

    forward_backward()  # compile / load caches
    if what == "memory":
        if device == "cuda":
            torch.cuda.reset_peak_memory_stats()
            base = torch.cuda.memory_allocated()
            forward_backward()
            return dict(peak_extra_mb=(torch.cuda.max_memory_allocated() - base) / 2**20)
        base = rss_bytes()
        with PeakRSS() as rss:
            forward_backward()
        return dict(peak_extra_mb=(rss.peak - base) / 2**20)
    total_times, forward_times = [], []
    for _ in range(repeats):
        start = time.perf_counter()
        forward_backward()
        total_times.append(time.perf_counter() - start)
    with torch.no_grad():  # forward alone, without building the graph
        for _ in range(repeats):
            start = time.perf_counter()
            scan(**inputs)
            _sync(device)
            forward_times.append(time.perf_counter() - start)
    return dict(forward_s=statistics.median(forward_times), forward_backward_s=statistics.median(total_times))


def _methods(device: str) -> list[str]:
    from monai_mamba.ops import available_scan_backends

    methods = [m for m in available_scan_backends(device) if m != "ref"]
    try:
        import mambapy  # noqa: F401

        methods.append("pscan")
    except ImportError:
        pass
    return methods


def main(shapes: str = "1,2,3,4,5", methods: str = "", repeats: int = 5, device: str = "", _child: str = ""):
    """Print a markdown table; each (method, shape) measured in a fresh subprocess."""
    device = device or ("cuda" if torch.cuda.is_available() else "cpu")
    if _child:
        method, shape, what = _child.split(":")
        print(json.dumps(measure(method, int(shape), repeats, device, what)))
        return
    shape_ids = [int(s) for s in as_list(shapes)]
    method_names = [str(m) for m in as_list(methods)] or _methods(device)
    memory_env = dict(os.environ, **MEMORY_ENV)
    print(f"device={device} torch={torch.__version__} threads={torch.get_num_threads()} repeats={repeats}")
    print("| method | shape | forward (s) | forward+backward (s) | peak extra f+b (MB) | peak / (b·d·l·4 bytes) |")
    print("|---|---|---|---|---|---|")
    for shape in shape_ids:
        size = SHAPES[shape]
        bdl_mb = size["batch"] * size["dim"] * size["length"] * 4 / 2**20
        for method in method_names:
            result = {}
            for what, env in (("time", None), ("memory", memory_env)):
                arguments = [f"--_child={method}:{shape}:{what}", f"--repeats={repeats}", f"--device={device}"]
                result.update(measure_in_subprocess(__file__, arguments, env))
                if "error" in result:
                    break
            if "error" in result:
                print(f"| {method} | {shape} | failed: {result['error']} | | | |", flush=True)
                continue
            print(
                f"| {method} | {shape} | {result['forward_s']:.4f} | {result['forward_backward_s']:.4f} "
                f"| {result['peak_extra_mb']:.0f} | {result['peak_extra_mb'] / bdl_mb:.1f} |",
                flush=True,
            )


if __name__ == "__main__":
    fire.Fire(main)

# Copyright (c) monai-mamba contributors. Licensed under the Apache License, Version 2.0.
"""Whole-network benchmark: one training step per network against MONAI's networks at the same input, where the
time goes, and sliding-window inference of one image or volume.

    python benchmarks/networks.py                                   # demo and single-image inputs, all networks
    python benchmarks/networks.py --inputs=paper --cases=lightm_unet_2d --repeats=2
    python benchmarks/networks.py --profile                         # + the share of the step per kind of operation
    python benchmarks/networks.py --inference --profile --inputs=none   # inference only, with its profile
    python benchmarks/networks.py --inference                       # + sliding-window inference of one image/volume
    python benchmarks/networks.py --library=/tmp/old-checkout       # the same, for another checkout of the library
    python benchmarks/networks.py --device=cuda --precisions=float32,bfloat16,float16   # on a GPU, with AMP
    python benchmarks/networks.py --precisions=float32,bfloat16 --inference > run.md   # CPU bfloat16 (cpu_bf16)
    python benchmarks/networks.py --compare=run.md      # that run's float32 and bfloat16 side by side, speed-ups
    python benchmarks/networks.py --inference --inputs=none --backends=default,compiled --precisions=float32,bfloat16

A training step is ``zero_grad``, forward, MONAI's ``DiceCELoss`` against random labels, backward and an AdamW
step, at the input (batch, channels, patch) of each bundle's demo (``demo``), of the paper's recipe (``paper``:
heavy on a CPU), of one image (``single``: batch 1, the 2-D sizes the first whole-step measurements used, 64^3 in 3-D)
or, for the 3-D networks, one 128^3 patch (``memory``: the memory check on a 24 GiB machine). Networks
are built with the bundles' settings, without deep-supervision heads (they cost little and MONAI's peers have none
here). Every (network, input, scan backend) runs in a fresh subprocess: a warm-up step (numba loads its cache,
PyTorch allocates), then ``--repeats`` timed steps, of which the table gives the median, also as a ratio to MONAI's
``SegResNet`` with the same layout as LightM-UNet at the same input, measured in the same run. The peak
resident-set size (model, optimizer and PyTorch included) over the warm-up and one more step is measured in a
second subprocess, with glibc set to return freed memory (``measure.MEMORY_ENV``) so that the resident size follows
live memory; those settings slow every step down and are not used for the timings.

``--profile`` runs ``torch.profiler`` over one step and sums each operator's self time into: the selective scan
(the compiled kernel and its backward; measured for the ``default`` backend only), convolutions (the Mamba layers'
causal conv1d included), normalisations, matrix products (linear layers), layout copies (``copy_``, ``clone``,
``contiguous``, ``cat``, ...), the optimizer, and the rest (activations, element-wise arithmetic, the loss, ...).
With ``--inference`` it also profiles one batch of ``sw_batch_size`` windows through each of the library's networks.

``--device=cuda`` runs the steps on the GPU (timed with ``torch.cuda.synchronize``; the peak is PyTorch's
``max_memory_allocated``), ``--precisions`` adds AMP rows: autocast to bfloat16 or float16 (with a GradScaler)
around the forward and the loss, as a bundle's ``amp: true`` does (on a CPU, bfloat16 is ``cpu_bf16: true``); with
``--inference`` the float32 and bfloat16 ones add CPU inference rows (bfloat16 through ``CPUBF16Inferer``), of the
``default``, ``compiled``, ``reuse`` and ``compiled-reuse`` backends among ``--backends`` (the network eager; through
``torch.compile`` as a bundle's ``compile: true`` runs it, the warm-up that compiles not timed and named in the row;
eager with glibc keeping freed memory for reuse, as a bundle's ``reuse_freed_memory: true`` sets it,
``monai_mamba.allocator``: its peak RSS is then measured with that setting, freed memory held included; both).

Scan backends (``--backends``): ``default`` (the library's choice: the compiled numba kernel on CPU, mamba-ssm on
CUDA), ``torch`` (the pure-PyTorch scan, ``MONAI_MAMBA_SCAN_BACKEND=torch``; the causal conv1d keeps its default
path), ``compiled`` (``default`` with the network through ``torch.compile``, what a bundle's ``--compile true``
does), ``reuse`` (``default`` with freed memory kept for reuse, a bundle's ``--reuse_freed_memory true``; adds a
SegResNet row with it) and ``compiled-reuse`` (both). mambapy's ``pscan`` is not in this table: it is a scan, not a
layer, and plugging it into the networks would measure a hybrid nobody runs; ``benchmarks/scan.py`` compares the scans
themselves.
"""

from __future__ import annotations

import json
import math
import os
import statistics
import time
from dataclasses import dataclass

import fire
import torch
from measure import MEMORY_ENV, PeakRSS, as_list, measure_in_subprocess

SEGRESNET = "SegResNet"


@dataclass(frozen=True)
class Case:
    """A network as its bundle builds it, the inputs it trains on, its peers and its sliding-window setting."""

    spatial_dims: int
    in_channels: int
    classes: int
    inputs: dict  # input name -> (batch, patch)
    peers: tuple[str, ...]
    window: dict  # roi_size, sw_batch_size, overlap of the bundle's inference


# the 3-D bundles' inputs: demo, one 64^3 image, the papers' 2 x 128^3 and one 128^3 patch (memory)
INPUTS_3D = {"demo": (2, (32,) * 3), "single": (1, (64,) * 3), "paper": (2, (128,) * 3), "memory": (1, (128,) * 3)}

CASES = {
    "lightm_unet_2d": Case(
        2,
        1,
        2,
        {"demo": (4, (64, 64)), "single": (1, (256, 256)), "paper": (4, (512, 512))},
        (SEGRESNET,),
        dict(roi_size=(512, 512), sw_batch_size=2, overlap=0.5),
    ),
    "lightm_unet_3d": Case(
        3,
        1,
        3,
        INPUTS_3D,
        (SEGRESNET,),
        dict(roi_size=(128, 128, 128), sw_batch_size=2, overlap=0.5),
    ),
    "mamba_unet": Case(
        2,
        1,
        4,
        {"demo": (4, (64, 64)), "single": (1, (224, 224)), "paper": (24, (224, 224))},
        (SEGRESNET, "UNet", "SwinUNETR"),
        dict(roi_size=(224, 224), sw_batch_size=8, overlap=0.0),
    ),
    "swin_umamba": Case(
        2,
        1,
        14,
        {"demo": (4, (64, 64)), "single": (1, (320, 320)), "paper": (4, (320, 320))},
        (SEGRESNET, "UNet", "SwinUNETR"),
        dict(roi_size=(320, 320), sw_batch_size=2, overlap=0.5),
    ),
    "swin_umamba_d": Case(
        2,
        1,
        14,
        {"demo": (4, (64, 64)), "single": (1, (320, 320)), "paper": (4, (320, 320))},
        (SEGRESNET, "UNet", "SwinUNETR"),
        dict(roi_size=(320, 320), sw_batch_size=2, overlap=0.5),
    ),
    "mambaclinix": Case(
        3,
        4,
        4,
        INPUTS_3D,
        (SEGRESNET, "DynUNet"),
        dict(roi_size=(128, 128, 128), sw_batch_size=2, overlap=0.5),
    ),
    "umamba_bot_3d": Case(
        3,
        1,
        14,
        INPUTS_3D,
        (SEGRESNET, "DynUNet"),
        dict(roi_size=(128, 128, 128), sw_batch_size=2, overlap=0.5),
    ),
}


def _nnunet_plan(patch) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """nnU-Net's topology for an isotropic patch, what MambaClinix's and U-Mamba's planners give 1 mm isotropic data:
    halve while the map keeps at least 4 voxels (at most 5 times), 32 features doubling up to 320. 128^3: six stages;
    32^3: four."""
    poolings = min(5, int(math.log2(min(patch) // 4)))
    return tuple(min(32 * 2**i, 320) for i in range(poolings + 1)), (1,) + (2,) * poolings


def build(name: str, case: Case, patch) -> torch.nn.Module:
    """The network ``name`` (a case or a MONAI peer) for ``case`` at ``patch``."""
    import monai.networks.nets as monai_nets

    import monai_mamba.nets as nets

    dims, cin, cout = case.spatial_dims, case.in_channels, case.classes
    if name.startswith("lightm_unet"):  # the 3-D task (lits_3d.yaml) recomputes the RVM layers in the backward
        return nets.LightMUNet(
            dims,
            cin,
            cout,
            init_filters=32,
            blocks_down=(1, 2, 2, 4),
            blocks_up=(1, 1, 1),
            activation_checkpointing=dims == 3,
        )
    if name == "mamba_unet":
        return nets.MambaUNet(dims, cin, cout, feature_size=96, depths=(2, 2, 2, 2), drop_path_rate=0.2)
    if name == "swin_umamba":
        return nets.SwinUMamba(dims, cin, cout, deep_supervision=False)
    if name == "swin_umamba_d":
        return nets.SwinUMambaD(dims, cin, cout, deep_supervision=False)
    if name == "mambaclinix":
        features, strides = _nnunet_plan(patch)
        return nets.MambaClinix(dims, cin, cout, features=features, strides=strides, deep_supervision=False)
    if name == "umamba_bot_3d":  # nnU-Net's topology, as the bundle's plan gives it
        features, strides = _nnunet_plan(patch)
        return nets.UMambaBot(dims, cin, cout, features=features, strides=strides, deep_supervision=False)
    if name == SEGRESNET:  # LightM-UNet's layout: the network it was derived from
        return monai_nets.SegResNet(dims, 32, cin, cout, blocks_down=(1, 2, 2, 4), blocks_up=(1, 1, 1))
    if name == "UNet":
        return monai_nets.UNet(dims, cin, cout, channels=(16, 32, 64, 128, 256), strides=(2, 2, 2, 2), num_res_units=2)
    if name == "SwinUNETR":
        return monai_nets.SwinUNETR(in_channels=cin, out_channels=cout, spatial_dims=dims, feature_size=48)
    if name == "DynUNet":  # MambaClinix's plan as a plain residual U-Net
        features, strides = _nnunet_plan(patch)
        return monai_nets.DynUNet(
            dims,
            cin,
            cout,
            kernel_size=[3] * len(strides),
            strides=strides,
            upsample_kernel_size=strides[1:],
            filters=features,
            res_block=True,
        )
    raise ValueError(f"unknown network {name!r}")


CATEGORIES = ("scan", "conv", "norm", "matmul", "copies", "optimizer", "rest")


def category(op: str) -> str:
    """The kind of operation an operator (profiler event name) belongs to."""
    name = op.lower()
    if "selective_scan" in name or "chunkedscan" in name:
        return "scan"
    if "conv" in name:
        return "conv"
    if "norm" in name:
        return "norm"
    if any(k in name for k in ("aten::mm", "aten::addmm", "aten::bmm", "aten::matmul", "aten::linear")):
        return "matmul"
    if any(k in name for k in ("copy_", "clone", "contiguous", "aten::cat", "_to_copy", "aten::stack", "pad")):
        return "copies"
    if "optimizer" in name or "_foreach" in name or "adam" in name:
        return "optimizer"
    return "rest"


def run_case(
    name: str,
    input_name: str,
    repeats: int,
    profile: bool,
    memory: bool,
    compiled: bool = False,
    device: str = "cpu",
    precision: str = "float32",
) -> dict:
    """One (network, input) in this process: median step time, optionally the profile shares, or (``memory``) the
    peak RSS over the warm-up and one more step; ``compiled``: the network through ``torch.compile`` (the warm-up
    step compiles; its time is not counted). On CUDA the peak is PyTorch's allocated memory, measured with the times;
    ``precision`` other than float32 autocasts the forward and the loss to it."""
    from monai.losses import DiceCELoss

    case_name, _, network = name.partition(":")
    case = CASES[case_name]
    batch, patch = case.inputs[input_name]
    torch.manual_seed(0)
    net = build(network or case_name, case, patch).to(device)
    optimizer = torch.optim.AdamW(net.parameters(), lr=1e-4)
    loss_fn = DiceCELoss(to_onehot_y=True, softmax=True)
    image = torch.randn(batch, case.in_channels, *patch, device=device)
    label = torch.randint(0, case.classes, (batch, 1, *patch), device=device)
    cuda = torch.device(device).type == "cuda"
    dtype = getattr(torch, precision)
    scaler = torch.amp.GradScaler(torch.device(device).type, enabled=dtype == torch.float16)

    model = torch.compile(net) if compiled else net

    def step():
        optimizer.zero_grad(set_to_none=True)
        with torch.autocast(torch.device(device).type, dtype=dtype, enabled=dtype != torch.float32):
            loss = loss_fn(model(image), label)
        scaler.scale(loss).backward()
        scaler.step(optimizer)
        scaler.update()
        if cuda:
            torch.cuda.synchronize()

    if memory:
        with PeakRSS(interval=0.005) as rss:
            step()  # warm-up
            step()
        return dict(peak_gb=rss.peak / 2**30)
    step()  # warm-up
    if cuda:
        torch.cuda.reset_peak_memory_stats()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        step()
        times.append(time.perf_counter() - start)
    result = dict(step_s=statistics.median(times))
    if cuda:
        result["peak_gb"] = torch.cuda.max_memory_allocated() / 2**30
    if profile:
        result["profile"] = _profile_shares(step)
    return result


def _profile_shares(run) -> dict:
    """The share of ``run()``'s operator self time per kind of operation (``CATEGORIES``), from ``torch.profiler``."""
    with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU]) as prof:
        run()
    shares = dict.fromkeys(CATEGORIES, 0.0)
    for event in prof.key_averages():
        shares[category(event.key)] += event.self_cpu_time_total
    total = sum(shares.values()) or 1.0
    return {k: v / total for k, v in shares.items()}


def run_inference(
    name: str,
    repeats: int,
    memory: bool,
    precision: str = "float32",
    profile: bool = False,
    compiled: bool = False,
) -> dict:
    """Sliding-window inference of one 512x512 image (2-D) or 192x192x160 volume (3-D) with the bundle's window:
    the median time, or (``memory``) the peak RSS over one inference; ``precision="bfloat16"`` runs it as a bundle's
    ``cpu_bf16: true`` does (``CPUBF16Inferer``), ``compiled`` with the network through ``torch.compile`` as a
    bundle's ``compile: true`` does (the warm-up compiles; ``warmup_s`` is its time). ``profile``: also the profile
    shares of one batch of ``sw_batch_size`` windows (the network's part of the inference)."""
    from monai.inferers import SimpleInferer, SlidingWindowInferer

    from monai_mamba.inferers import CPUBF16Inferer

    case_name, _, network = name.partition(":")
    case = CASES[case_name]
    roi = case.window["roi_size"]
    torch.manual_seed(0)
    net = build(network or case_name, case, roi).eval()
    if compiled:
        net = torch.compile(net)
    image = torch.randn(1, case.in_channels, *((512, 512) if case.spatial_dims == 2 else (192, 192, 160)))
    window = SlidingWindowInferer(**case.window, mode="gaussian")  # the bundles' blending (shared/run.yaml)
    inferer = CPUBF16Inferer(window, enabled=precision == "bfloat16")
    one_batch = CPUBF16Inferer(SimpleInferer(), enabled=precision == "bfloat16")
    windows = torch.randn(case.window["sw_batch_size"], case.in_channels, *roi)
    with torch.no_grad():
        # warm-up in the precision measured, with a full batch of windows and a single one (a last, partial batch):
        # numba compiles (or loads from its cache) a kernel per dtype and memory layout, and a batch of one is
        # typed as a contiguous layout; torch.compile compiles a graph for each
        start = time.perf_counter()
        one_batch(windows, net)
        one_batch(windows[:1], net)
        warmup_s = time.perf_counter() - start
        if memory:
            with PeakRSS(interval=0.005) as rss:
                inferer(image, net)
            return dict(peak_gb=rss.peak / 2**30)
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            inferer(image, net)
            times.append(time.perf_counter() - start)
        result = dict(step_s=statistics.median(times), warmup_s=warmup_s)
        if profile:
            result["profile"] = _profile_shares(lambda: one_batch(windows, net))
    return result


@dataclass(frozen=True)
class NetworkRun:
    """How a backend of the training step or the inference runs the network: through ``torch.compile`` or eager,
    with freed memory kept for reuse or not; ``label`` names it in the inference table."""

    compiled: bool
    reuse: bool
    label: str


NETWORK_RUNS = {
    "default": NetworkRun(False, False, "eager"),
    "compiled": NetworkRun(True, False, "compiled"),
    "reuse": NetworkRun(False, True, "eager, freed memory reused"),
    "compiled-reuse": NetworkRun(True, True, "compiled, freed memory reused"),
}


def run_child(spec: str, repeats: int, profile: bool, memory: bool) -> dict:
    """One measurement in this (child) process; ``reuse`` runs have glibc keep freed memory for reuse first, as a
    bundle's ``reuse_freed_memory: true`` does in its setup."""
    from monai_mamba.allocator import reuse_freed_memory

    kind, name, input_name, device, precision = (spec.split("|") + ["cpu", "float32"])[:5]
    kind, _, run_name = kind.partition("-")  # step-<NETWORK_RUNS key> or inference-<key>
    run = NETWORK_RUNS[run_name]
    if run.reuse and not reuse_freed_memory():
        raise RuntimeError("reuse: this system's malloc is not glibc's")
    if kind == "inference":
        return run_inference(name, repeats, memory, precision, profile, run.compiled)
    return run_case(name, input_name, repeats, profile, memory, run.compiled, device, precision)


def _in_subprocess(spec: str, repeats: int, profile: bool, backend: str, library: str) -> dict:
    """Time (and profile) in one fresh process with the default allocator, then the peak RSS in another with
    ``MEMORY_ENV`` and the sampling thread: those make every block above 64 KiB an mmap and took SegResNet's step from
    0.33 to 0.7 s, more for networks allocating more, so they stay out of the timing."""
    env = dict(os.environ)
    if backend != "default":
        env["MONAI_MAMBA_SCAN_BACKEND"] = backend
    if library:
        env["PYTHONPATH"] = os.pathsep.join(p for p in (library, env.get("PYTHONPATH", "")) if p)
    arguments = [f"--_child={spec}", f"--repeats={repeats}"]
    result = measure_in_subprocess(__file__, arguments + [f"--profile={profile}"], env)
    if "error" not in result and "peak_gb" not in result:  # CUDA measured its peak with the times
        result.update(measure_in_subprocess(__file__, arguments + ["--_memory=True"], dict(env, **MEMORY_ENV)))
    return result


def _print_steps(case_names, input_names, backend_names, repeats, profile, library, device, precisions, peers) -> list:
    """The training-step table; returns the profiles measured on the way."""
    peak = "peak RSS (GiB)" if device == "cpu" else "peak allocated (GiB)"
    print(f"\n| network | input | batch x patch | precision | scan backend | step (s) | / SegResNet | {peak} |")
    print("|---|---|---|---|---|---|---|---|")
    profiles = []
    for case_name in case_names:
        case = CASES[case_name]
        for input_name in (i for i in input_names if i in case.inputs):
            batch, patch = case.inputs[input_name]
            shape = f"{batch} x {'x'.join(map(str, patch))}"
            for precision in precisions:
                where = f"{device}|{precision}"
                spec = f"step-default|{case_name}:{SEGRESNET}|{input_name}|{where}"
                reference = _in_subprocess(spec, repeats, False, "default", "")
                rows = [(case_name, backend) for backend in backend_names]
                rows += [(f"{case_name}:{peer}", "-") for peer in case.peers if peers or peer == SEGRESNET]
                if any(NETWORK_RUNS[b].reuse for b in backend_names if b in NETWORK_RUNS):
                    rows.append((f"{case_name}:{SEGRESNET}", "reuse"))  # the setting speeds up every network
                for name, backend in rows:
                    label = name.partition(":")[2] or name
                    if label == SEGRESNET and backend == "-":
                        result = reference
                    elif label == SEGRESNET or backend == "-":  # a MONAI network: the library is not involved
                        run_name = "default" if backend == "-" else backend
                        spec = f"step-{run_name}|{name}|{input_name}|{where}"
                        result = _in_subprocess(spec, repeats, False, "default", "")
                    else:  # a network run of NETWORK_RUNS with the default scan, or a scan backend eager
                        run_name, scan_backend = (
                            (backend, "default") if backend in NETWORK_RUNS else ("default", backend)
                        )
                        with_profile = profile and backend == "default"
                        spec = f"step-{run_name}|{name}|{input_name}|{where}"
                        result = _in_subprocess(spec, repeats, with_profile, scan_backend, library)
                    cells = _result_cells(result, reference, digits=3)
                    print(f"| {label} | {input_name} | {shape} | {precision} | {backend} | {cells} |", flush=True)
                    if "profile" in result:
                        profiles.append((label, f"{input_name}, {precision}", backend, result["profile"]))
    return profiles


def _print_profiles(profiles) -> None:
    print("\n| network | input | scan backend | " + " | ".join(CATEGORIES) + " |")
    print("|---|---|---|" + "---|" * len(CATEGORIES))
    for label, input_name, backend, shares in profiles:
        cells = " | ".join(f"{100 * shares[k]:.0f} %" for k in CATEGORIES)
        print(f"| {label} | {input_name} | {backend} | {cells} |", flush=True)


def _print_inference(case_names, backend_names, library, precisions, peers, profile) -> list:
    """The inference table (the library's networks eager for the ``default`` backend, through ``torch.compile`` for
    ``compiled``, with the warm-up that compiled in the backend cell, eager with freed memory kept for ``reuse``;
    MONAI's networks eager); returns the profiles (of the library's networks) measured on the way."""
    profiles = []
    print("\n| network | image | window | precision | network run | time (s) | / SegResNet | peak RSS (GiB) |")
    print("|---|---|---|---|---|---|---|---|")
    for case_name in case_names:
        case = CASES[case_name]
        image = "512x512" if case.spatial_dims == 2 else "192x192x160"
        window = f"{'x'.join(map(str, case.window['roi_size']))}, overlap {case.window['overlap']}"
        for precision in precisions:
            spec = f"|-|cpu|{precision}"
            reference = _in_subprocess(f"inference-default|{case_name}:{SEGRESNET}{spec}", 1, False, "default", "")
            rows = []
            for backend in backend_names:
                run = NETWORK_RUNS[backend]
                result = _in_subprocess(f"inference-{backend}|{case_name}{spec}", 1, profile, "default", library)
                if "profile" in result:
                    profiles.append((case_name, f"inference, {precision}", backend, result["profile"]))
                warmup = f" (warm-up {result.get('warmup_s', math.nan):.0f} s)" if run.compiled else ""
                rows.append((case_name, run.label + warmup, result))
            rows.append((SEGRESNET, "eager", reference))
            if any(NETWORK_RUNS[b].reuse for b in backend_names):  # the setting speeds up every network
                reused = _in_subprocess(f"inference-reuse|{case_name}:{SEGRESNET}{spec}", 1, False, "default", "")
                rows.append((SEGRESNET, NETWORK_RUNS["reuse"].label, reused))
            for peer in (p for p in case.peers if peers and p != SEGRESNET):
                peer_result = _in_subprocess(f"inference-default|{case_name}:{peer}{spec}", 1, False, "default", "")
                rows.append((peer, "eager", peer_result))
            for label, run_label, row in rows:
                cells = _result_cells(row, reference, digits=2)
                print(f"| {label} | {image} | {window} | {precision} | {run_label} | {cells} |", flush=True)
    return profiles


def compare_precisions(lines) -> None:
    """From the markdown rows a run printed (training steps and inference, each network in float32 and bfloat16),
    print one table per kind: float32 and bfloat16 side by side, the speed-up and the peak RSS of each."""
    peers = {peer for case in CASES.values() for peer in case.peers}
    rows, case_name = {}, ""
    for line in lines:
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) != 8 or cells[3] not in ("float32", "bfloat16"):
            continue
        kind = "inference" if "overlap" in cells[2] else "step"
        case_name = case_name if cells[0] in peers else cells[0]
        label = cells[0] if cells[0] in peers else case_name
        where = cells[1] if kind == "step" else f"{cells[1]}, window {cells[2]}"
        run = cells[4].partition(" (")[0]  # scan backend, or eager / compiled: without the warm-up
        key = (kind, case_name, label, where, run)
        rows.setdefault(key, {})[cells[3]] = (cells[5], cells[7])
    for kind in ("step", "inference"):
        title = "training step" if kind == "step" else "sliding-window inference"
        columns = "input | run | float32 (s) | bfloat16 (s) | speed-up | peak RSS float32 / bfloat16 (GiB)"
        print(f"\n| network ({title}) | {columns} |")
        print("|---|---|---|---|---|---|---|")
        for (row_kind, case_name, label, where, run), by_precision in rows.items():
            if row_kind != kind or len(by_precision) < 2:
                continue
            (t32, p32), (t16, p16) = by_precision["float32"], by_precision["bfloat16"]
            try:
                speedup = f"{float(t32) / float(t16):.2f}x"
            except ValueError:  # a failed row
                speedup = "-"
            name = label if label == case_name else f"{label} (at {case_name})"
            print(f"| {name} | {where} | {run} | {t32} | {t16} | {speedup} | {p32} / {p16} |")


def _result_cells(result: dict, reference: dict, digits: int) -> str:
    """``time | ratio to the reference | peak RSS`` table cells, or the failure."""
    if "error" in result:
        return f"failed: {result['error']} | |"
    ratio = result["step_s"] / reference["step_s"] if "step_s" in reference else float("nan")
    return f"{result['step_s']:.{digits}f} | {ratio:.2f} | {result['peak_gb']:.2f}"


def main(
    cases: str = ",".join(CASES),
    inputs: str = "demo,single",
    backends: str = "default,torch",
    repeats: int = 3,
    profile: bool = False,
    inference: bool = False,
    library: str = "",
    device: str = "cpu",
    precisions: str = "float32",
    peers: bool = True,
    compare: str = "",
    _child: str = "",
    _memory: bool = False,
):
    """Print markdown tables: training steps (with ratios to SegResNet), profile shares, inference. ``peers=False``
    leaves out MONAI's other networks (UNet, SwinUNETR, DynUNet): SegResNet, the ratios' reference, stays."""
    if _child:
        print(json.dumps(run_child(_child, repeats, profile, _memory)))
        return
    if compare:  # the float32/bfloat16 comparison of a run's saved output
        with open(compare) as log:
            compare_precisions(log)
        return
    import monai

    case_names = as_list(cases)
    print(
        f"torch={torch.__version__} monai={monai.__version__} threads={torch.get_num_threads()} "
        f"cpus={os.cpu_count()} repeats={repeats} library={library or 'this checkout'}"
    )
    if device != "cpu":
        name = torch.cuda.get_device_name(device) if torch.device(device).type == "cuda" else device
        print(f"device={device} ({name})")
    profiles = _print_steps(
        case_names, as_list(inputs), as_list(backends), repeats, profile, library, device, as_list(precisions), peers
    )
    if profiles:
        _print_profiles(profiles)
    if inference:
        precisions = [p for p in as_list(precisions) if p in ("float32", "bfloat16")]
        inference_backends = [b for b in as_list(backends) if b in NETWORK_RUNS]
        profiles = _print_inference(case_names, inference_backends, library, precisions, peers, profile)
        if profiles:
            _print_profiles(profiles)


if __name__ == "__main__":
    fire.Fire(main)

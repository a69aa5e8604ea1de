# Copyright (c) monai-mamba contributors. Licensed under the Apache License, Version 2.0.
"""Interrupted training loses nothing; AMP trains without NaN; a fixed seed gives the same losses."""

from __future__ import annotations

import re
import signal
import subprocess
import sys
import time

import pytest
import torch
from bundle_helpers import config_paths, run_bundle, tiny_dataset
from monai.data import load_decathlon_datalist
from monai.losses import DiceCELoss
from monai.transforms import LoadImaged

from monai_mamba.data import make_demo_dataset
from monai_mamba.handlers import find_checkpoints
from monai_mamba.nets import LightMUNet, MambaUNet

TINY = {"patch_size": [16, 16], "batch_size": 1, "network_def#init_filters": 8}


def test_training_killed_mid_epoch_resumes_to_the_same_final_epoch(tmp_path):
    data = make_demo_dataset(tmp_path / "data", size=16, num_training=24, num_validation=1, num_testing=0)
    args = [
        f"--bundle_root={tmp_path / 'bundle'}",
        f"--dataset_dir={data}",
        "--max_epochs=4",
        "--patch_size=[16,16]",
        "--batch_size=1",
        "--network_def#init_filters=8",
    ]
    cmd = [
        sys.executable,
        "-m",
        "monai.bundle",
        "run",
        "--config_file",
        config_paths("lightm_unet", "train.yaml")[0],
        *args,
    ]
    models = tmp_path / "bundle" / "models"
    first = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 300
    while not (models / "checkpoint_epoch=1.pt").exists() and time.time() < deadline and first.poll() is None:
        time.sleep(0.05)
    time.sleep(0.5)  # well into epoch 2 (24 iterations of about 0.1 s)
    first.send_signal(signal.SIGKILL)
    first.wait()
    assert first.returncode == -signal.SIGKILL
    done_before = find_checkpoints(str(models))[0][0]
    assert done_before < 4  # killed before the end

    second = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert second.returncode == 0, second.stdout[-2000:] + second.stderr[-2000:]
    log = second.stdout + second.stderr
    assert f"continuing after epoch {done_before}" in log
    epochs_run = sorted({int(e) for e in re.findall(r"Epoch\[(\d+)\] Metrics -- train_mean_dice", log)})
    assert epochs_run == list(range(done_before + 1, 5))  # nothing redone, nothing skipped
    final = torch.load(models / "checkpoint_epoch=4.pt", weights_only=True)
    assert final["trainer"]["iteration"] == 4 * final["trainer"]["epoch_length"]
    assert final["lr_scheduler"]["last_epoch"] == 4


@pytest.mark.parametrize("network", ["lightm_unet", "mamba_unet"])
def test_bf16_autocast_training_on_demo_data_stays_finite(network, tmp_path):
    """MONAI's trainers only autocast on CUDA; this runs the same step under CPU bf16 autocast. The Mamba
    layers compute in float32 inside (the scan always; LightM-UNet's RVM layers entirely)."""
    torch.manual_seed(0)
    net = (
        LightMUNet(2, 1, 2, init_filters=8)
        if network == "lightm_unet"
        else MambaUNet(in_channels=1, out_channels=2, feature_size=16)
    )
    data = make_demo_dataset(tmp_path, size=32, num_training=4, num_validation=0, num_testing=0)
    cases = load_decathlon_datalist(f"{data}/datalist.json", data_list_key="training", base_dir=data)
    batch = LoadImaged(["image", "label"], image_only=True, ensure_channel_first=True)
    images = torch.stack([batch(c)["image"] for c in cases])
    labels = torch.stack([batch(c)["label"] for c in cases])
    loss_fn = DiceCELoss(to_onehot_y=True, softmax=True)
    optimizer = torch.optim.Adam(net.parameters(), lr=1e-3)
    losses = []
    for _ in range(6):
        optimizer.zero_grad()
        with torch.autocast("cpu", dtype=torch.bfloat16):
            loss = loss_fn(net(images).float(), labels)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
        assert all(torch.isfinite(p.grad).all() for p in net.parameters() if p.grad is not None)
    assert all(torch.isfinite(torch.tensor(losses))) and losses[-1] < losses[0]


def _logged_losses(log_dir) -> list[float]:
    """The per-iteration train_loss scalars TensorBoardStatsHandler wrote."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    events = EventAccumulator(str(log_dir))
    events.Reload()
    return [event.value for event in events.Scalars("train_loss")]


def test_same_seed_same_losses_on_cpu(tmp_path):
    """Two CPU runs with the same seed: identical losses for every iteration (tolerance 0, bit for bit)."""
    data = tiny_dataset(tmp_path, 2, 2, 16)
    runs = []
    for run in range(2):
        run_bundle(
            "lightm_unet",
            ["train.yaml"],
            bundle_root=str(tmp_path / f"bundle{run}"),
            dataset_dir=data,
            max_epochs=2,
            **TINY,
        )
        runs.append(_logged_losses(tmp_path / f"bundle{run}" / "logs"))
    assert len(runs[0]) == 4 and runs[0] == runs[1]

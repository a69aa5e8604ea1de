# Copyright (c) monai-mamba contributors. Licensed under the Apache License, Version 2.0.
"""MONAI Label for real: a released bundle (packed, its weights beside it, as the zoo delivers it) served by
``monailabel start_server`` with MONAI Label's own monaibundle app on 127.0.0.1, for a 2-D (LightM-UNet) and
two 3-D (MambaClinix, U-Mamba) bundles: ``/info``, ``/infer/<model>`` on a study image (the returned label map has the
image's shape and the bundle's labels), then a 1-epoch ``/train/<model>`` run to completion from the studies' labels.

Slow, and skipped without monailabel (``pip install -e ".[label]"`` after a torch/torchvision pair that match, see the
README). The monaibundle app is MONAI Label's sample app as its package installs it (``<prefix>/monailabel/
sample-apps/monaibundle``), copied to a temporary folder."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
import zipfile
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest
import torch
from bundle_helpers import copy_bundle, run_bundle, tiny_dataset
from monai.bundle import ConfigWorkflow

from monai_mamba.bundles import pack_bundle

pytestmark = pytest.mark.slow

CASES = {
    # bundle: (spatial dims, channels, classes, demo-data size, tiny training overrides: long enough, at a high enough
    # learning rate, that the released model finds the blobs, so that an all-background answer fails the test)
    "lightm_unet": (2, 1, 2, 32, {"patch_size": [32, 32], "batch_size": 2, "max_epochs": 20, "learning_rate": 0.01}),
    "mambaclinix": (
        3,
        4,
        4,
        16,
        {"iterations_per_epoch": 1, "num_regions_per_axis": [2, 2, 2], "max_epochs": 20, "learning_rate": 0.01},
    ),
    "umamba": (3, 1, 3, 16, {"iterations_per_epoch": 1, "max_epochs": 20, "learning_rate": 0.01}),
}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _request(url: str, data: bytes | None = None, content_type: str | None = None, timeout: float = 600):
    request = urllib.request.Request(url, data=data, method="POST" if data is not None else "GET")
    if content_type:
        request.add_header("Content-Type", content_type)
    with urllib.request.urlopen(request, timeout=timeout) as response:
        return response.read()


def _deploy(name: str, tmp_path: Path, data: str, overrides: dict) -> Path:
    """Train the bundle on ``data`` and evaluate it, release it (pack, unzip into the app's model/ folder, weights
    beside)."""
    settings = dict(bundle_root=str(tmp_path / "trained"), dataset_dir=data, **overrides)
    run_bundle(name, ["train.yaml"], **settings)
    run_bundle(name, ["train.yaml", "evaluate.yaml"], **settings)
    source = copy_bundle(name, tmp_path / "src")
    shutil.copytree(
        tmp_path / "trained" / "models",
        source / "models",
        ignore=shutil.ignore_patterns("checkpoint_*", "previous_runs", ".run.lock"),
    )
    shutil.copytree(tmp_path / "trained" / "eval", source / "eval")  # the evaluation pack states in the metadata
    archive = pack_bundle(
        name, str(tmp_path / "dist"), weights_url="https://example.org/{file}", bundles_dir=tmp_path / "src"
    )
    app = tmp_path / "app"
    shutil.copytree(Path(sys.prefix) / "monailabel" / "sample-apps" / "monaibundle", app)
    with zipfile.ZipFile(archive) as z:
        z.extractall(app / "model")
    (app / "model" / name / "models").mkdir(exist_ok=True)
    shutil.copy2(source / "models" / "model.pt", app / "model" / name / "models" / "model.pt")  # download_large_files
    return app


@pytest.mark.parametrize("name", list(CASES))
def test_monai_label_server_infers_and_trains_a_released_bundle(name, tmp_path):
    pytest.importorskip("monailabel")
    if not (Path(sys.prefix) / "monailabel" / "sample-apps" / "monaibundle").is_dir():
        pytest.skip("MONAI Label's monaibundle sample app is not installed")
    dims, channels, classes, size, overrides = CASES[name]
    data = tiny_dataset(tmp_path, dims, classes, size, num_validation=1, num_channels=channels)
    app = _deploy(name, tmp_path, data, overrides)
    studies = tmp_path / "studies"
    (studies / "labels" / "final").mkdir(parents=True)
    datalist = json.loads((Path(data) / "datalist.json").read_text())
    for index, case in enumerate(datalist["training"] + datalist["validation"]):
        shutil.copy2(Path(data) / case["image"], studies / f"case{index}.nii.gz")
        shutil.copy2(Path(data) / case["label"], studies / "labels" / "final" / f"case{index}.nii.gz")
    shutil.copy2(Path(data) / datalist["testing"][0]["image"], studies / "unlabelled.nii.gz")

    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    command = [
        str(Path(sys.executable).parent / "monailabel"),
        "start_server",
        "--app",
        str(app),
        "--studies",
        str(studies),
        "--conf",
        "models",
        name,
        "--conf",
        "zoo_source",
        "github",
        "--conf",
        "sam2",
        "false",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
    ]
    log = open(tmp_path / "server.log", "w")  # noqa: SIM115 - the server writes to it until it is stopped
    server = subprocess.Popen(
        command,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
        env={
            **os.environ,
            "MONAI_LABEL_DATASTORE_AUTO_RELOAD": "false",  # its script runs `python`
            "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
        },
    )
    try:
        deadline = time.time() + 300
        info = None
        while time.time() < deadline and server.poll() is None:
            try:
                info = json.loads(_request(f"{url}/info/", timeout=5))
                break
            except OSError:
                time.sleep(2)
        assert info is not None, (tmp_path / "server.log").read_text()[-3000:]
        assert name in info["models"] and name in info["trainers"]
        labels = json.loads((app / "model" / name / "configs" / "metadata.json").read_text())
        channel_def = labels["network_data_format"]["outputs"]["pred"]["channel_def"]
        expected = {v: int(k) for k, v in channel_def.items() if k != "0"}
        assert info["models"][name]["labels"] == expected

        body = _request(
            f"{url}/infer/{name}?image=unlabelled&output=image",
            data=b"params=%7B%7D",
            content_type="application/x-www-form-urlencoded",
        )
        (tmp_path / "label.nii.gz").write_bytes(body)
        label = np.asanyarray(nib.load(tmp_path / "label.nii.gz").dataobj)
        if dims == 2:  # MONAI Label's Restored keeps the channel axis of 2-D results: (1, H, W)
            label = label[0]
        image = nib.load(studies / "unlabelled.nii.gz")
        assert label.shape[:dims] == image.shape[:dims], (label.shape, image.shape)
        values = set(np.unique(label).astype(int).tolist())
        allowed = {0, *(1, 2, 4)} if name == "mambaclinix" else set(range(classes))  # BraTS label 4 for class 3
        assert values <= allowed and len(values) > 1, values  # the bundle's labels, not all background
        # parity with the bundle's own inference (python -m monai.bundle run ... inference.json) on the same image
        released = app / "model" / name
        workflow = ConfigWorkflow(
            config_file=str(released / "configs" / "inference.json"),
            logging_file=False,
            workflow_type=None,
            bundle_root=str(released),
            dataset_dir=data,
        )
        workflow.initialize()
        workflow.run()
        (ours,) = (released / "predictions").glob("*_seg.nii.gz")
        agreement = float((np.asanyarray(nib.load(ours).dataobj).reshape(label.shape) == label).mean())
        print(f"{name}: MONAI Label's /infer label equals the bundle's inference on {agreement:.2%} of the voxels")
        assert agreement >= 0.995

        before = set((app / "model" / name / "models").glob("checkpoint_epoch=*.pt"))
        _request(
            f"{url}/train/{name}?run_sync=true",
            data=json.dumps({"max_epochs": 1, "val_split": 0.5}).encode(),
            content_type="application/json",
            timeout=1200,
        )
        trained = set((app / "model" / name / "models").glob("checkpoint_epoch=*.pt")) - before
        assert trained, (tmp_path / "server.log").read_text()[-3000:]
        state = torch.load(next(iter(trained)), weights_only=True)
        assert state["trainer"]["iteration"] >= 1 and "Training Finished" in (tmp_path / "server.log").read_text()
    finally:
        if server.poll() is None:  # stopped by its process group: the server and the workers it started
            os.killpg(server.pid, signal.SIGTERM)
            try:
                server.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(server.pid, signal.SIGKILL)
        log.close()

# Copyright (c) monai-mamba contributors. Licensed under the Apache License, Version 2.0.
"""SaveFinalWeights: written when a run completes, never when it fails."""

from __future__ import annotations

import pytest
import torch
from ignite.engine import Engine

from monai_mamba.handlers import SaveFinalWeights


def _run(tmp_path, fail_at=None):
    network = torch.nn.Linear(2, 1)

    def step(engine, batch):
        if engine.state.iteration == fail_at:
            raise FloatingPointError("loss is nan")
        with torch.no_grad():
            network.weight += 1

    engine = Engine(step)
    SaveFinalWeights(str(tmp_path / "out" / "final.pt"), network).attach(engine)
    engine.run([0, 1, 2], max_epochs=2)
    return network


def test_completed_run_writes_the_final_state_dict(tmp_path):
    network = _run(tmp_path)
    saved = torch.load(tmp_path / "out" / "final.pt", weights_only=True)
    assert torch.equal(saved["weight"], network.weight)


def test_failed_run_writes_nothing(tmp_path):
    with pytest.raises(FloatingPointError):
        _run(tmp_path, fail_at=4)
    assert not (tmp_path / "out" / "final.pt").exists()

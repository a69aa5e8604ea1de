# Copyright (c) monai-mamba contributors. Licensed under the Apache License, Version 2.0.
import pytest
import torch
from ignite.engine import Engine

from monai_mamba.handlers import NonFiniteLossError, ResumableCheckpoint, StopOnNonFiniteLoss, find_checkpoints


def test_nan_loss_fails_the_run_and_keeps_the_last_good_checkpoint(tmp_path):
    model = torch.nn.Linear(2, 1)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)

    def step(engine, batch):
        optimizer.zero_grad()
        loss = model(batch).mean() * (float("nan") if engine.state.iteration == 5 else 1.0)
        loss.backward()
        optimizer.step()
        return [{"loss": loss.item()}]

    trainer = Engine(step)
    ResumableCheckpoint(str(tmp_path), {"model": model, "optimizer": optimizer}).attach(trainer)
    StopOnNonFiniteLoss().attach(trainer)
    with pytest.raises(NonFiniteLossError, match=r"loss is nan at epoch 3, iteration 5: this epoch was not saved"):
        trainer.run([torch.ones(1, 2)] * 2, max_epochs=4)
    (epoch, newest), *_ = find_checkpoints(str(tmp_path))
    assert epoch == 2  # epoch 3 never completed: not saved
    saved = torch.load(newest, weights_only=True)["model"]
    assert all(torch.isfinite(v).all() for v in saved.values())


def test_finite_losses_pass():
    engine = Engine(lambda e, b: [{"loss": 0.5}])
    StopOnNonFiniteLoss().attach(engine)
    engine.run([0, 1], max_epochs=1)
    assert engine.state.iteration == 2

# Copyright (c) monai-mamba contributors. Licensed under the Apache License, Version 2.0.
import logging

import torch
from ignite.engine import Engine, Events

from monai_mamba.handlers import ResumableCheckpoint, find_checkpoints


def _trainer(model, optimizer):
    def step(engine, batch):
        optimizer.zero_grad()
        loss = model(batch).square().mean()
        loss.backward()
        optimizer.step()
        return loss.item()

    return Engine(step)


def _run(checkpoint_dir, max_epochs):
    torch.manual_seed(0)
    model = torch.nn.Linear(3, 1)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    trainer = _trainer(model, optimizer)
    ResumableCheckpoint(str(checkpoint_dir), {"model": model, "optimizer": optimizer}).attach(trainer)
    epochs_run = []
    trainer.add_event_handler(Events.EPOCH_COMPLETED, lambda e: epochs_run.append(e.state.epoch))
    trainer.run([torch.ones(2, 3)] * 2, max_epochs=max_epochs)
    return model, epochs_run


def test_restart_continues_where_training_stopped(tmp_path):
    _, first = _run(tmp_path, 2)
    model, second = _run(tmp_path, 4)
    assert first == [1, 2] and second == [3, 4]  # nothing redone
    uninterrupted, _ = _run(tmp_path / "fresh", 4)
    torch.testing.assert_close(model.weight, uninterrupted.weight)  # same result as one uninterrupted run
    assert [epoch for epoch, _ in find_checkpoints(str(tmp_path))] == [4, 3]  # the newest two kept


def test_unreadable_newest_checkpoint_falls_back_to_the_previous(tmp_path, caplog):
    _run(tmp_path, 2)
    newest = find_checkpoints(str(tmp_path))[0][1]
    with open(newest, "r+b") as f:
        f.truncate(100)
    with caplog.at_level(logging.WARNING):
        _, epochs = _run(tmp_path, 3)
    assert "cannot resume from" in caplog.text
    assert epochs == [2, 3]


def test_no_checkpoint_starts_fresh(tmp_path):
    _, epochs = _run(tmp_path / "empty", 1)
    assert epochs == [1]

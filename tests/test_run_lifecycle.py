# Copyright (c) monai-mamba contributors. Licensed under the Apache License, Version 2.0.
"""A run resumes only into itself: run identity, horizon changes, best model kept, NaN one step late, the lock."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from ignite.engine import Engine, Events

from monai_mamba.handlers import (
    BestModelSaver,
    NonFiniteLossError,
    ResumableCheckpoint,
    RunIdentity,
    RunLock,
    RunMismatchError,
    StopOnNonFiniteLoss,
    find_checkpoints,
)

DATA = {"training": [{"image": "/data/a.nii.gz", "label": "/data/a_seg.nii.gz"}], "validation": []}


def _identity(model, horizon=4, data=DATA, **settings):
    return RunIdentity(data, model, {"learning_rate": 0.1, **settings}, horizon=horizon, data_root="/data")


def test_identity_names_every_difference_and_ignores_where_the_data_set_lies():
    model = torch.nn.Linear(3, 1)
    saved = _identity(model).state_dict()
    moved = {"training": [{"image": "/elsewhere/a.nii.gz", "label": "/elsewhere/a_seg.nii.gz"}], "validation": []}
    same = RunIdentity(moved, model, {"learning_rate": 0.1}, horizon=4, data_root="/elsewhere").compare(saved)
    assert same.same_run and not same.horizon_changed
    assert _identity(model, horizon=8).compare(saved).horizon_changed
    other = {"training": DATA["training"] * 2, "validation": []}
    differences = _identity(torch.nn.Linear(4, 1), data=other, learning_rate=0.01).compare(saved).differences
    assert differences == [
        "training data: 2 case(s) here, 1 case(s) in the checkpoint",
        "network settings: Linear tensor 'weight' has shape [1, 4] here, [1, 3] in the checkpoint",
        "learning_rate: 0.01 here, 0.1 in the checkpoint",
    ]
    demo = RunIdentity(DATA, model, {"learning_rate": 0.1}, horizon=4, data_root="/data", demo=True)
    assert "generated demo data" in demo.compare(saved).differences[0]


def _run(folder, max_epochs, identity_of=None, resume="auto", scheduler="poly", log=None):
    """Train a linear model ``max_epochs`` epochs of 2 iterations with a checkpoint in ``folder``; returns the model,
    the epochs run and the learning rate of each."""
    torch.manual_seed(0)
    model = torch.nn.Linear(3, 1)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    if scheduler == "poly":
        lr_scheduler = torch.optim.lr_scheduler.PolynomialLR(optimizer, total_iters=max_epochs, power=0.9)
    else:
        lr_scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=max_epochs, eta_min=1e-3)

    def step(engine, batch):
        optimizer.zero_grad()
        loss = model(batch).square().mean()
        loss.backward()
        optimizer.step()
        return loss.item()

    trainer = Engine(step)
    identity = (identity_of or (lambda m, h: _identity(m, h)))(model, max_epochs)
    ResumableCheckpoint(
        str(folder),
        {"model": model, "optimizer": optimizer, "lr_scheduler": lr_scheduler},
        identity=identity,
        resume=resume,
    ).attach(trainer)
    record = log if log is not None else []
    trainer.add_event_handler(
        Events.EPOCH_STARTED, lambda e: record.append((e.state.epoch, optimizer.param_groups[0]["lr"]))
    )
    trainer.add_event_handler(Events.EPOCH_COMPLETED, lambda e: lr_scheduler.step())
    trainer.run([torch.ones(2, 3)] * 2, max_epochs=max_epochs)
    return model, record


@pytest.mark.parametrize("scheduler", ["poly", "cosine"])
def test_training_longer_resumes_with_the_schedule_rebuilt_for_the_new_horizon(scheduler, tmp_path):
    _, first = _run(tmp_path, 2, scheduler=scheduler)
    model, second = _run(tmp_path, 4, scheduler=scheduler)
    assert [e for e, _ in first] == [1, 2] and [e for e, _ in second] == [3, 4]  # resumed, nothing redone
    optimizer = torch.optim.SGD(torch.nn.Linear(3, 1).parameters(), lr=0.1)
    planned = (
        torch.optim.lr_scheduler.PolynomialLR(optimizer, total_iters=4, power=0.9)
        if scheduler == "poly"
        else torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=4, eta_min=1e-3)
    )
    expected = []
    for _ in range(4):
        expected.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        planned.step()
    # epochs 3 and 4 run at the learning rate a 4-epoch schedule has there (not 0, the 2-epoch schedule's end)
    assert [lr for _, lr in second] == pytest.approx(expected[2:]) and min(lr for _, lr in second) > 0
    assert not torch.equal(model.weight, _run(tmp_path / "two", 2, scheduler=scheduler)[0].weight)  # it trained on


def test_a_horizon_below_the_epochs_done_is_refused(tmp_path):
    _run(tmp_path, 3)
    with pytest.raises(RunMismatchError, match="already trained 3 epochs, more than max_epochs=2"):
        _run(tmp_path, 2)


def test_another_run_is_refused_then_started_fresh_or_resumed_on_request(tmp_path):
    _run(tmp_path, 2)
    newest = find_checkpoints(str(tmp_path))[0][1]
    before = Path(newest).read_bytes()
    other = lambda m, h: _identity(m, h, learning_rate=0.5)  # noqa: E731
    with pytest.raises(RunMismatchError) as error:
        _run(tmp_path, 2, identity_of=other)
    message = str(error.value)
    assert "learning_rate: 0.5 here, 0.1 in the checkpoint" in message
    assert "--bundle_root" in message and "--resume fresh" in message and "--resume force" in message
    assert Path(newest).read_bytes() == before  # nothing changed

    log = []
    _run(tmp_path, 3, identity_of=other, resume="force", log=log)
    assert [e for e, _ in log] == [3]  # resumed anyway

    log = []
    third = lambda m, h: _identity(m, h, learning_rate=0.7)  # noqa: E731
    _run(tmp_path, 2, identity_of=third, resume="fresh", log=log)
    assert [e for e, _ in log] == [1, 2]  # started over
    kept = list((tmp_path / "previous_runs").glob("*/checkpoint_epoch=*.pt"))
    assert sorted(p.name for p in kept) == ["checkpoint_epoch=2.pt", "checkpoint_epoch=3.pt"]  # the old run, moved


class _Evaluator(Engine):
    """An evaluator whose key metric is whatever the test says."""

    def __init__(self, metric):
        super().__init__(lambda engine, batch: None)
        self.metric = metric
        self.state.best_metric, self.state.best_metric_epoch = -1, -1
        self.state.key_metric_name = "dice"

        @self.on(Events.EPOCH_COMPLETED)
        def _(engine):
            engine.state.metrics["dice"] = engine.metric
            if engine.metric > engine.state.best_metric:
                engine.state.best_metric, engine.state.best_metric_epoch = engine.metric, engine.state.epoch


def test_the_best_model_is_never_replaced_by_a_worse_one_after_a_restart(tmp_path):
    network = torch.nn.Linear(3, 1)
    evaluator = _Evaluator(0.8)
    saver = BestModelSaver(str(tmp_path), {"model": network})
    saver.attach(evaluator)
    evaluator.run([0], max_epochs=1)
    best = (tmp_path / "model.pt").read_bytes()
    state = saver.state_dict()  # what the training checkpoint keeps
    assert state["best_metric"] == 0.8

    # a restarted process: new network weights, new saver and evaluator, the state restored from the checkpoint
    torch.nn.init.constant_(network.weight, 3.0)
    evaluator = _Evaluator(0.5)
    restarted = BestModelSaver(str(tmp_path), {"model": network})
    restarted.attach(evaluator)
    restarted.load_state_dict(state)
    assert evaluator.state.best_metric == 0.8
    evaluator.run([0], max_epochs=1)
    assert (tmp_path / "model.pt").read_bytes() == best  # 0.5 < 0.8: kept
    evaluator.metric = 0.9
    evaluator.run([0], max_epochs=2)
    assert torch.equal(torch.load(tmp_path / "model.pt", weights_only=True)["weight"], network.weight)
    assert not list(tmp_path.glob("tmp*"))  # written atomically, no temporary file left


def test_weights_ruined_by_the_last_step_of_an_epoch_are_never_saved(tmp_path):
    model = torch.nn.Linear(3, 1)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)

    def step(engine, batch):
        loss = model(batch).square().mean()  # finite
        if engine.state.epoch == 2 and engine.state.iteration % engine.state.epoch_length == 0:
            with torch.no_grad():
                model.weight.fill_(float("nan"))  # the last step of epoch 2 ruins the weights
        return {"loss": loss}

    trainer = Engine(step)
    trainer.network = model
    ResumableCheckpoint(str(tmp_path), {"model": model, "optimizer": optimizer}).attach(trainer)
    StopOnNonFiniteLoss(output_transform=lambda output: output["loss"]).attach(trainer)
    with pytest.raises(NonFiniteLossError, match="weights are NaN/Inf after the last step of epoch 2"):
        trainer.run([torch.ones(2, 3)] * 3, max_epochs=3)
    assert [epoch for epoch, _ in find_checkpoints(str(tmp_path))] == [1]  # the newest checkpoint is the good one
    saved = torch.load(find_checkpoints(str(tmp_path))[0][1], weights_only=True)["model"]
    assert torch.isfinite(saved["weight"]).all()


def test_a_checkpoint_whose_weights_give_nan_at_once_is_set_aside_and_the_restart_resumes_before_it(tmp_path):
    """The outside re-run's case: the last step of an epoch leaves the weights finite but exploded (|w| ~ 1e30), the
    epoch is saved, and the next epoch's first loss is inf. That checkpoint must not be what a restart resumes."""

    def run(explode_after_epoch=None):
        torch.manual_seed(0)
        model = torch.nn.Linear(3, 1)
        optimizer = torch.optim.SGD(model.parameters(), lr=0.01)

        def step(engine, batch):
            optimizer.zero_grad()
            loss = model(batch).square().mean()
            loss.backward()
            optimizer.step()
            if engine.state.epoch == explode_after_epoch and engine.state.iteration % engine.state.epoch_length == 0:
                with torch.no_grad():
                    model.weight.mul_(1e30)  # finite, and the next loss overflows
            return {"loss": loss}

        trainer = Engine(step)
        trainer.network = model
        folder = str(tmp_path)
        ResumableCheckpoint(folder, {"model": model, "optimizer": optimizer}, identity=_identity(model)).attach(trainer)
        StopOnNonFiniteLoss(output_transform=lambda output: output["loss"], checkpoint_dir=folder).attach(trainer)
        started = []
        trainer.add_event_handler(Events.STARTED, lambda e: started.append(e.state.epoch))
        trainer.run([torch.ones(2, 3)] * 2, max_epochs=4)
        return trainer, model, started

    with pytest.raises(NonFiniteLossError) as error:
        run(explode_after_epoch=2)
    message = str(error.value)
    assert "loss is inf at epoch 3, iteration 5" in message and "checkpoint_epoch=2.pt.non-finite" in message
    assert "a restart resumes from checkpoint_epoch=1.pt" in message
    assert [epoch for epoch, _ in find_checkpoints(str(tmp_path))] == [1]
    assert (tmp_path / "checkpoint_epoch=2.pt.non-finite").is_file()  # kept for a look, out of the resume path
    trainer, model, started = run()  # the restart, with the cause gone
    assert started == [1] and trainer.state.epoch == 4  # resumed after epoch 1, not from the exploded epoch 2
    assert model.weight.abs().max() < 10 and [e for e, _ in find_checkpoints(str(tmp_path))] == [4, 3]


def test_a_second_run_in_the_same_folder_fails_fast_naming_the_first(tmp_path):
    lock = RunLock(str(tmp_path))
    lock.acquire()
    try:
        code = f"from monai_mamba.handlers import RunLock; RunLock({str(tmp_path)!r}).acquire()"
        result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
        assert result.returncode != 0
        assert f"another training run is using {tmp_path} (pid {os.getpid()}" in result.stderr
        assert "--bundle_root" in result.stderr
    finally:
        lock.release()
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr  # free again once released


def test_a_half_written_checkpoint_is_cleaned_on_the_next_start(tmp_path):
    _run(tmp_path, 1)
    (tmp_path / "tmpab12cd_3").write_bytes(b"\0" * 100)  # what a killed atomic write leaves
    (tmp_path / "notes.txt").write_text("mine")
    _, log = _run(tmp_path, 2)
    assert [e for e, _ in log] == [2]
    assert not (tmp_path / "tmpab12cd_3").exists() and (tmp_path / "notes.txt").read_text() == "mine"


def test_ranks_other_than_0_write_no_checkpoint_and_no_best_model(tmp_path, monkeypatch):
    """Under DDP every rank runs the checkpoint handlers (each resumes from the files); only rank 0 writes."""
    import ignite.distributed as idist

    monkeypatch.setattr(idist, "get_rank", lambda: 1)
    network = torch.nn.Linear(3, 1)
    evaluator = _Evaluator(0.8)
    BestModelSaver(str(tmp_path), {"model": network}).attach(evaluator)
    evaluator.run([0], max_epochs=1)
    _run(tmp_path, 2)
    assert not list(tmp_path.glob("*.pt"))

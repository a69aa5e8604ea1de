# Copyright (c) monai-mamba contributors. Licensed under the Apache License, Version 2.0.
"""ClipGradNorm: the gradient norm is clipped between backward and the optimizer step of MONAI's trainer."""

from __future__ import annotations

import torch
from monai.engines import SupervisedTrainer

from monai_mamba.handlers import ClipGradNorm


def _trainer(max_norm=None):
    torch.manual_seed(0)
    network = torch.nn.Linear(4, 1)
    optimizer = torch.optim.SGD(network.parameters(), lr=1.0)
    data = [{"image": torch.randn(2, 4) * 100, "label": torch.randn(2, 1)}]
    handlers = [ClipGradNorm(max_norm)] if max_norm else []
    trainer = SupervisedTrainer(
        device=torch.device("cpu"),
        max_epochs=1,
        train_data_loader=data,
        network=network,
        optimizer=optimizer,
        loss_function=torch.nn.MSELoss(),
        train_handlers=handlers,
        decollate=False,
    )
    return trainer, network


def test_step_follows_the_clipped_gradient():
    free, free_net = _trainer()
    before = free_net.weight.detach().clone()
    free.run()
    unclipped_step = (free_net.weight - before).norm()
    clipped, clipped_net = _trainer(max_norm=0.5)
    clipped.run()
    assert unclipped_step > 10  # the raw gradient is large
    total = torch.cat([p.grad.flatten() for p in clipped_net.parameters()]).norm()
    assert total.item() <= 0.5 + 1e-5  # what the optimizer stepped with (lr 1)
    assert (clipped_net.weight - before).norm() <= 0.5 + 1e-5

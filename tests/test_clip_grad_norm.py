# Copyright (c) monai-mamba contributors. Licensed under the Apache License, Version 2.0.
"""ClipGradNorm: the gradient norm is clipped between backward and the optimizer step of MONAI's trainer."""

from __future__ import annotations

import torch
from monai.engines import SupervisedTrainer

from monai_mamba.handlers import ClipGradNorm


class _Autocast(torch.nn.Module):
    """A module whose forward runs under CPU autocast (MONAI's trainers autocast to CUDA only)."""

    def __init__(self, module: torch.nn.Module) -> None:
        super().__init__()
        self.module = module

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        with torch.autocast("cpu", dtype=torch.bfloat16):
            return self.module(x).float()


def _trainer(max_norm=None, amp=False):
    torch.manual_seed(0)
    network = _Autocast(torch.nn.Linear(4, 1)) if amp else torch.nn.Linear(4, 1)
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
        amp=amp,
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


def test_under_amp_the_true_gradient_is_clipped_not_the_scaled_one(monkeypatch):
    """With a GradScaler (loss scaled by 1024) and autocast, the handler unscales before clipping: the step is the
    clipped true gradient (norm 0.5 at lr 1). Clipping the scaled gradients instead would leave a step 1024x smaller
    after the scaler's own unscaling."""
    # MONAI's trainer makes a CUDA GradScaler at run(), disabled on a CPU: a CPU one scales the loss as on a GPU
    monkeypatch.setattr(torch.cuda.amp, "GradScaler", lambda: torch.amp.GradScaler("cpu", init_scale=2.0**10))
    trainer, network = _trainer(max_norm=0.5, amp=True)
    before = network.module.weight.detach().clone()
    trainer.run()
    assert trainer.scaler.is_enabled() and trainer.scaler.get_scale() == 2.0**10  # no step skipped
    step = (network.module.weight - before).norm().item()
    assert 0.45 <= step <= 0.5 + 1e-4, step

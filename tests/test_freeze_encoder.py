# Copyright (c) monai-mamba contributors. Licensed under the Apache License, Version 2.0.
import torch
import torch.nn as nn
from ignite.engine import Engine, Events

from monai_mamba.handlers import FreezeEncoder


class _Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.encoder = nn.ModuleDict({"patch_embed": nn.Linear(3, 3), "layers": nn.Linear(3, 3)})
        self.head = nn.Linear(3, 1)

    def forward(self, x):
        return self.head(self.encoder["layers"](self.encoder["patch_embed"](x)))


def test_frozen_for_n_epochs_then_trained_by_the_same_optimizer():
    torch.manual_seed(0)
    net = _Net()
    optimizer = torch.optim.AdamW(net.parameters(), lr=0.1, weight_decay=0.05)  # built over every parameter

    def step(engine, batch):
        optimizer.zero_grad()
        net(batch).square().mean().backward()
        optimizer.step()

    trainer = Engine(step)
    FreezeEncoder(net.encoder, frozen_epochs=2).attach(trainer)
    snapshots = []
    trainer.add_event_handler(
        Events.EPOCH_COMPLETED, lambda e: snapshots.append({k: v.clone() for k, v in net.state_dict().items()})
    )
    start = {k: v.clone() for k, v in net.state_dict().items()}
    trainer.run([torch.randn(4, 3)] * 3, max_epochs=4)

    def changed(a, b, key):
        return not torch.equal(a[key], b[key])

    for epoch in (0, 1):  # epochs 1 and 2: frozen layers untouched (not even weight decay), the rest trains
        before = start if epoch == 0 else snapshots[epoch - 1]
        assert not changed(before, snapshots[epoch], "encoder.layers.weight")
        assert changed(before, snapshots[epoch], "encoder.patch_embed.weight")
        assert changed(before, snapshots[epoch], "head.weight")
    assert changed(snapshots[1], snapshots[2], "encoder.layers.weight")  # epoch 3: unfrozen and updated
    assert all(p.requires_grad for p in net.parameters())

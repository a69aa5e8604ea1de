# Copyright (c) monai-mamba contributors. Licensed under the Apache License, Version 2.0.
"""ReSeg-UNet losses: stage-1 reconstruction loss, stage-2 segmentation + alignment loss against a frozen network."""

from __future__ import annotations

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F
from monai.losses import DiceCELoss

from monai_mamba.features import ULevels
from monai_mamba.losses import ReconstructionAlignmentLoss, ReconstructionLoss

LEVELS = ULevels(encoder=("enc1", "enc2", "enc3"), decoder=("dec1", "dec2", "dec3"))


class TinyU(nn.Module):
    """A 3-level U-net that also returns its features explicitly, as the reference for the hooks."""

    def __init__(self, in_channels: int, out_channels: int, dec1_channels: int = 4):
        super().__init__()

        def block(cin, cout, stride=1):
            return nn.Sequential(nn.Conv2d(cin, cout, 3, stride, 1), nn.BatchNorm2d(cout), nn.ReLU())

        self.enc1, self.enc2, self.enc3 = block(in_channels, 4, 2), block(4, 8, 2), block(8, 16, 2)
        self.dec3 = block(16, 16)
        self.dec2, self.dec1 = block(16 + 8, 8), block(8 + 4, dec1_channels)
        self.head = nn.Conv2d(dec1_channels, out_channels, 1)

    def forward(self, x, features=False):
        up = lambda t: F.interpolate(t, scale_factor=2.0)  # noqa: E731
        e1 = self.enc1(x)
        e2 = self.enc2(e1)
        e3 = self.enc3(e2)
        d3 = self.dec3(e3)
        d2 = self.dec2(torch.cat([up(d3), e2], 1))
        d1 = self.dec1(torch.cat([up(d2), e1], 1))
        out = self.head(up(d1))
        return (out, dict(enc1=e1, enc2=e2, enc3=e3, dec1=d1, dec2=d2, dec3=d3)) if features else out


def _pair(num_classes=3, dec1_channels=4):
    torch.manual_seed(0)
    segmentation, reconstruction = TinyU(1, num_classes, dec1_channels), TinyU(1, 1, dec1_channels)
    return segmentation, reconstruction


def _batch(num_classes=3):
    torch.manual_seed(1)
    return torch.randn(2, 1, 16, 16), torch.randint(0, num_classes, (2, 1, 16, 16))


def test_reconstruction_loss_is_the_weighted_mse_plus_l1():
    prediction, image = torch.rand(2, 1, 8, 8), torch.rand(2, 1, 8, 8)
    expected = 0.6 * ((prediction - image) ** 2).mean() + 0.4 * (prediction - image).abs().mean()
    torch.testing.assert_close(ReconstructionLoss()(prediction, image), expected)
    assert ReconstructionLoss()(image, image) == 0
    with pytest.raises(ValueError, match="out_channels equal to the image channels"):
        ReconstructionLoss()(torch.rand(2, 3, 8, 8), image)
    with pytest.raises(TypeError, match="deep_supervision=False"):
        ReconstructionLoss()([prediction], image)


def test_total_loss_equals_the_paper_formula():
    segmentation, reconstruction = _pair()
    segmentation_loss = DiceCELoss(to_onehot_y=True, softmax=True, lambda_dice=0.5, lambda_ce=0.5)
    loss = ReconstructionAlignmentLoss(segmentation_loss, segmentation, reconstruction, in_channels=1, levels=LEVELS)
    image, label = _batch()
    segmentation.train()
    prediction = segmentation(image)
    total = loss(prediction, label)

    reconstruction.eval()
    with torch.no_grad():
        _, seg = segmentation(image, features=True)
        _, rec = reconstruction(label.float(), features=True)  # the label map cast to float is the input
    terms = [F.mse_loss(seg[f"enc{l}"], rec[f"dec{l}"]) + F.mse_loss(seg[f"dec{l}"], rec[f"enc{l}"]) for l in (1, 2, 3)]
    alignment = (sum(terms) + F.mse_loss(seg["dec3"], rec["dec3"])) / 3
    ce = F.cross_entropy(prediction, label[:, 0])
    probabilities, one_hot = prediction.softmax(1), F.one_hot(label[:, 0], 3).movedim(-1, 1).float()
    dice = (
        1
        - (
            (2 * (probabilities * one_hot).sum((2, 3)) + 1e-5)
            / (probabilities.sum((2, 3)) + one_hot.sum((2, 3)) + 1e-5)
        ).mean()
    )
    torch.testing.assert_close(total, 0.5 * ce + 0.5 * dice + 0.035 * alignment)
    assert loss.last_terms["alignment"] == pytest.approx(float(alignment), rel=1e-5)
    assert len(loss.pairs) == 7


def test_reconstruction_network_stays_frozen_and_in_eval_mode_through_a_step():
    segmentation, reconstruction = _pair()
    reconstruction.train()  # BatchNorm would update its statistics in training mode
    loss = ReconstructionAlignmentLoss(
        DiceCELoss(to_onehot_y=True, softmax=True), segmentation, reconstruction, in_channels=1, levels=LEVELS
    )
    before = {k: v.clone() for k, v in reconstruction.state_dict().items()}
    optimizer = torch.optim.SGD(segmentation.parameters(), lr=0.1)
    seg_before = segmentation.enc1[0].weight.detach().clone()
    for _ in range(2):
        loss.train()  # whatever a trainer does to the loss module
        image, label = _batch()
        total = loss(segmentation(image), label)
        optimizer.zero_grad()
        total.backward()
        optimizer.step()
    assert not reconstruction.training and not any(m.training for m in reconstruction.modules())
    assert not any(p.requires_grad for p in reconstruction.parameters())
    for key, value in reconstruction.state_dict().items():
        assert torch.equal(value, before[key]), key  # weights and BatchNorm running statistics
    assert not torch.equal(segmentation.enc1[0].weight, seg_before)


def test_alignment_needs_a_training_forward_pass_and_matching_shapes():
    segmentation, reconstruction = _pair()
    loss = ReconstructionAlignmentLoss(
        DiceCELoss(to_onehot_y=True, softmax=True), segmentation, reconstruction, 1, levels=LEVELS
    )
    image, label = _batch()
    segmentation.eval()  # validation: nothing recorded, nothing kept
    with pytest.raises(RuntimeError, match="no segmentation features recorded"):
        loss(segmentation(image), label)

    segmentation, reconstruction = _pair(dec1_channels=6)
    loss = ReconstructionAlignmentLoss(
        DiceCELoss(to_onehot_y=True, softmax=True), segmentation, reconstruction, 1, levels=LEVELS
    )
    with pytest.raises(
        ValueError, match=r"'enc1' \(2, 4, 8, 8\) vs reconstruction 'dec1' \(2, 6, 8, 8\).*project=True"
    ):
        loss(segmentation.train()(image), label)


def test_optional_projection_learns_where_channel_counts_differ():
    segmentation, reconstruction = _pair(dec1_channels=6)
    with pytest.raises(ValueError, match="probe_shape"):
        ReconstructionAlignmentLoss(
            DiceCELoss(to_onehot_y=True, softmax=True), segmentation, reconstruction, 1, levels=LEVELS, project=True
        )
    loss = ReconstructionAlignmentLoss(
        DiceCELoss(to_onehot_y=True, softmax=True),
        segmentation,
        reconstruction,
        1,
        levels=LEVELS,
        project=True,
        probe_shape=(1, 1, 16, 16),
    )
    assert sorted(loss.projections) == ["0", "3"]  # enc1 -> rec dec1 (4 -> 6) and dec1 -> rec enc1 (6 -> 4)
    assert (loss.projections["0"].in_features, loss.projections["0"].out_features) == (4, 6)
    image, label = _batch()
    loss(segmentation.train()(image), label).backward()
    assert loss.projections["0"].weight.grad.abs().sum() > 0

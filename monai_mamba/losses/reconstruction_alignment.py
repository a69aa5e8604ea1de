# Copyright (c) monai-mamba contributors. Licensed under the Apache License, Version 2.0.
"""ReSeg-UNet's stage-2 loss: segmentation loss plus alignment of the segmentation network's features with those of
a frozen label -> image reconstruction network, across the U."""

from __future__ import annotations

import torch
import torch.distributed as dist
import torch.nn as nn
import torch.nn.functional as F
from monai.networks.utils import train_mode

from monai_mamba.data.reconstruction import label_as_reconstruction_input
from monai_mamba.features import FeatureRecorder, ULevels, default_u_levels

__all__ = ["ReconstructionAlignmentLoss"]


class ReconstructionAlignmentLoss(nn.Module):
    """``segmentation_loss(pred, label) + lambda_align * L_align`` (ReSeg-UNet, Li et al., MICCAI 2025).

    The reconstruction network was trained in stage 1 to map label maps to images; here it is frozen, kept in eval
    mode (its BatchNorm statistics and dropout fixed: the official code leaves it in training mode, so its BatchNorm
    statistics drift - not reproduced) and run on the batch's label map at every call. With ``levels`` giving the
    encoder/decoder modules of levels ``1..n`` (finest first) and the middle (deepest decoder) module::

        L_align = ( sum_l MSE(seg.encoder_l, rec.decoder_l) + MSE(seg.decoder_l, rec.encoder_l)
                    + MSE(seg.middle, rec.middle) ) / n

    i.e. for the paper's three levels 7 terms divided by 3. The reconstruction features carry no gradient. The
    segmentation network's features are recorded by forward hooks during the trainer's own forward pass (in training
    mode only), so any trainer, AMP and DDP work unchanged; the loss must be called after that forward pass.

    Args:
        segmentation_loss: the loss of the predictions (the paper: ``DiceCELoss(lambda_dice=0.5, lambda_ce=0.5)``).
        segmentation_network: the network being trained (unwrapped, not its DDP wrapper).
        reconstruction_network: the stage-1 network with its trained weights, same architecture (its output head
            may differ); frozen here.
        in_channels: input channels of the reconstruction network (the label map is repeated to them).
        levels: the modules to align; default ``default_u_levels(segmentation_network)``.
        lambda_align: weight of ``L_align`` (0.035).
        project: learn a linear 1x1 projection of the segmentation feature wherever a pair's channel counts differ
            (for networks whose mirrored levels differ in width); off by default, as the paper's networks match.
            Its parameters are ``self.projections``: give them to the optimizer. Not for DDP (they would not be
            synchronised).
        probe_shape: input shape ``(b, c, *spatial)`` of one dry run that finds the channel counts, needed with
            ``project``.

    Attributes:
        last_terms: ``{"segmentation": float, "alignment": float}`` of the latest call, for logging.
    """

    def __init__(
        self,
        segmentation_loss: nn.Module,
        segmentation_network: nn.Module,
        reconstruction_network: nn.Module,
        in_channels: int,
        levels: ULevels | None = None,
        lambda_align: float = 0.035,
        project: bool = False,
        probe_shape: tuple[int, ...] | list[int] | None = None,
    ) -> None:
        super().__init__()
        self.segmentation_loss, self.in_channels, self.lambda_align = segmentation_loss, in_channels, lambda_align
        self.levels = levels or default_u_levels(segmentation_network)
        self.reconstruction_network = reconstruction_network.requires_grad_(False).eval()
        self._seg_features = FeatureRecorder(segmentation_network, self.levels.names, training_only=True)
        self._rec_features = FeatureRecorder(reconstruction_network, self.levels.names)
        self.pairs = [(e, d) for e, d in zip(self.levels.encoder, self.levels.decoder)]
        self.pairs += [(d, e) for e, d in zip(self.levels.encoder, self.levels.decoder)]
        self.pairs.append((self.levels.middle, self.levels.middle))
        self.projections = nn.ModuleDict()
        if project:
            if probe_shape is None:
                raise ValueError("project=True needs probe_shape, the (b, c, *spatial) shape of one training input.")
            if dist.is_available() and dist.is_initialized():
                raise ValueError("project=True is not supported under DDP: the projections would not be synchronised.")
            self._build_projections(segmentation_network, tuple(probe_shape))
        self.last_terms: dict[str, float] = {}

    @property
    def _channel_dim(self) -> int:
        return -1 if self.levels.channels_last else 1

    def _build_projections(self, segmentation_network: nn.Module, probe_shape: tuple[int, ...]) -> None:
        device = next(segmentation_network.parameters()).device
        with train_mode(segmentation_network), torch.no_grad():  # the recorder only records in training mode
            segmentation_network(torch.zeros(probe_shape, device=device))
        with torch.no_grad():
            self.reconstruction_network(torch.zeros(probe_shape, device=device))
        seg, rec = self._seg_features.pop(), self._rec_features.pop()
        for index, (seg_name, rec_name) in enumerate(self.pairs):
            source, target = seg[seg_name].shape[self._channel_dim], rec[rec_name].shape[self._channel_dim]
            if source != target:
                self.projections[str(index)] = nn.Linear(source, target).to(device)

    def train(self, mode: bool = True) -> ReconstructionAlignmentLoss:
        """Switch the segmentation loss's mode; the reconstruction network always stays in eval mode."""
        super().train(mode)
        self.reconstruction_network.eval()
        return self

    def alignment(self, label: torch.Tensor) -> torch.Tensor:
        """``L_align`` between the features of the latest training forward pass and the reconstruction network's
        features of ``label`` (``(b, 1, *spatial)`` class indices)."""
        seg = self._seg_features.pop()
        if not seg:
            raise RuntimeError(
                "no segmentation features recorded: call the loss after a forward pass of the "
                "segmentation network in training mode."
            )
        with torch.no_grad():
            self.reconstruction_network(label_as_reconstruction_input(label, self.in_channels))
        rec = self._rec_features.pop()
        total = 0.0
        for index, (seg_name, rec_name) in enumerate(self.pairs):
            source, target = seg[seg_name], rec[rec_name]
            if str(index) in self.projections:
                source = self.projections[str(index)](source.movedim(self._channel_dim, -1)).movedim(
                    -1, self._channel_dim
                )
            if source.shape != target.shape:
                raise ValueError(
                    f"alignment pair segmentation {seg_name!r} {tuple(source.shape)} vs reconstruction {rec_name!r} "
                    f"{tuple(target.shape)}: the features must have the same shape (channel counts only differ: "
                    "project=True learns a 1x1 projection)."
                )
            total = total + F.mse_loss(source.float(), target.float())
        return total / len(self.levels.encoder)

    def forward(self, input: torch.Tensor | list[torch.Tensor], target: torch.Tensor) -> torch.Tensor:
        """``input``: the segmentation network's output; ``target``: ``(b, 1, *spatial)`` label map."""
        segmentation = self.segmentation_loss(input, target)
        alignment = self.alignment(target)
        self.last_terms = {"segmentation": float(segmentation.detach()), "alignment": float(alignment.detach())}
        return segmentation + self.lambda_align * alignment

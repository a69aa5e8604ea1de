# Copyright (c) monai-mamba contributors. Licensed under the Apache License, Version 2.0.
"""Which modules of a U-shaped network are its encoder and decoder levels, for training schemes that read features
across the U (ReSeg-UNet's reconstruction alignment) without changing the networks' code. A network of this library
declares its own levels (a ``u_levels`` class attribute, as timm's ``feature_info``); MONAI's ``UNet`` and
``BasicUNet`` are known here."""

from __future__ import annotations

from dataclasses import dataclass

import torch.nn as nn
from monai.networks.nets import BasicUNet, UNet

__all__ = ["ULevels", "default_u_levels"]


@dataclass(frozen=True)
class ULevels:
    """Named modules whose outputs are a U-shaped network's features, finest level first.

    ``encoder[l]`` and ``decoder[l]`` produce features of the same shape (the skip connection's level); ``middle``
    is the deepest decoder level, where the paper's "up1" term is taken.

    Attributes:
        encoder: module names (as in ``named_modules()``) of the encoder levels, finest first.
        decoder: module names of the decoder levels, finest first, as many as ``encoder``.
        middle: module name of the middle term (by default the deepest of ``decoder``).
        channels_last: the features are ``(b, *spatial, c)`` (the VMamba-based networks) rather than ``(b, c, ...)``.
    """

    encoder: tuple[str, ...]
    decoder: tuple[str, ...]
    middle: str = ""
    channels_last: bool = False

    def __post_init__(self) -> None:
        if not self.encoder or len(self.encoder) != len(self.decoder):
            raise ValueError(
                f"ULevels needs as many decoder as encoder levels (at least one), got {len(self.encoder)} "
                f"encoder and {len(self.decoder)} decoder module names."
            )
        if not self.middle:
            object.__setattr__(self, "middle", self.decoder[-1])

    @property
    def names(self) -> tuple[str, ...]:
        """Every module read, without repeats."""
        return tuple(dict.fromkeys((*self.encoder, *self.decoder, self.middle)))

    def check_modules(self, network: nn.Module) -> None:
        """Raise a ``ValueError`` naming the module names that ``network`` does not have."""
        modules = dict(network.named_modules())
        missing = [name for name in self.names if name not in modules]
        if missing:
            raise ValueError(
                f"{type(network).__name__} has no module(s) {missing}; give ULevels with names from "
                "network.named_modules()."
            )


def _unet_levels(network: UNet, levels: int) -> ULevels:
    # MONAI UNet nests level l+1 in ``.1.submodule`` of level l: encoder l = <prefix l>.0 (downsampling, output at
    # H/2^l), decoder l = <prefix l+1>.2 (upsampling from level l+1 to H/2^l, with the channels of encoder l).
    if len(network.strides) < levels + 1:
        raise ValueError(
            f"UNet needs at least {levels + 1} strides for {levels} alignment levels, "
            f"got strides={tuple(network.strides)}."
        )
    prefix = ["model" + ".1.submodule" * depth for depth in range(levels + 1)]
    return ULevels(
        encoder=tuple(f"{prefix[l]}.0" for l in range(levels)),
        decoder=tuple(f"{prefix[l + 1]}.2" for l in range(levels)),
    )


_BASIC_UNET = ULevels(("down_1", "down_2", "down_3"), ("upcat_2", "upcat_3", "upcat_4"))


def default_u_levels(network: nn.Module, levels: int = 3) -> ULevels:
    """The ``levels`` finest levels at which both the encoder and the decoder of ``network`` have features.

    Known: the networks that declare ``u_levels`` (``LightMUNet``: H, H/2, H/4; ``MambaUNet``: H/4, H/8, H/16, the
    fused skip of each decoder level; ``SwinUMamba``: H/2, H/4, H/8; ``SwinUMambaD``: H/4, H/8, H/16), MONAI ``UNet``
    (H/2, H/4, H/8: its first layer already downsamples) and ``BasicUNet`` (H/2, H/4, H/8, the paper's U-Net levels).
    For other networks build a ``ULevels`` with the module names yourself.

    Args:
        network: the (unwrapped) network.
        levels: how many levels, finest first; at most as many as declared (``UNet``: as deep as its strides).

    Raises:
        TypeError: no levels known for this network class.
        ValueError: the network has fewer levels.
    """
    if isinstance(network, UNet):
        return _unet_levels(network, levels)
    full = _BASIC_UNET if isinstance(network, BasicUNet) else getattr(type(network), "u_levels", None)
    if not isinstance(full, ULevels):
        raise TypeError(
            f"no default U levels for {type(network).__name__}; pass ULevels(encoder=..., decoder=...) "
            "with its module names (see network.named_modules())."
        )
    if not 1 <= levels <= len(full.encoder):
        raise ValueError(f"{type(network).__name__} has {len(full.encoder)} alignment levels, asked for {levels}.")
    return ULevels(full.encoder[:levels], full.decoder[:levels], channels_last=full.channels_last)

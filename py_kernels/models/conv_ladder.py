"""The convolutional Gamma-model (Rasmus et al. 2015): a ladder on the Conv-Small encoder whose only decoder layer and
denoising cost are at the top (CuriousAI `--denoising-cost-x 0,0,0,0,0,0,1`, shared/design.md).

Encoder: the "conv" column (columns/conv.py), clean and corrupted paths as in the fc ladder (`ladder.LadderBase`):
Gaussian noise of `noise_std` on the input and on every normalised pre-activation of the corrupted path, labeled and
unlabeled examples normalised with their own batch statistics (per channel), the running statistics taken from the
clean unlabeled batch.
Decoder, top layer only: u = BN(softmax(corrupted logits of the unlabeled batch)), z_hat = g(z_tilde(top), u) with the
vanilla combinator (`ladder.DecoderLayer`).
Cost: cross-entropy of the corrupted output on the labeled examples + denoising_weight * mean squared error between
BN_clean(z_hat) and the clean top z(top) (10 units).

A run exports the clean encoder (`output_column`): a conv column that a progressive network takes as a source.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Sequence, Tuple

import torch
import torch.nn as nn

from ._api import ColumnDecl, register_model, seeded_generator
from .columns.conv import ConvColumn, ConvColumnConfig
from .columns.fc import BN_EPS
from .ladder import DecoderLayer, LadderBase


@dataclass(frozen=True)
class ConvLadderConfig:
    channels: Tuple[int, ...]     # the conv column's six layers' channels, classes last
    noise_std: float              # of the corrupted path's Gaussian noise
    denoising_weight: float       # lambda of the top layer's denoising cost (the only one)

    def __post_init__(self) -> None:
        object.__setattr__(self, "channels", tuple(int(c) for c in self.channels))
        object.__setattr__(self, "noise_std", float(self.noise_std))
        object.__setattr__(self, "denoising_weight", float(self.denoising_weight))
        self.column  # noqa: B018  checks the channels (KernelInputError naming them)

    @property
    def column(self) -> ConvColumnConfig:
        return ConvColumnConfig(self.channels)

    @property
    def columns(self) -> Tuple[ColumnDecl, ...]:
        return (ColumnDecl("encoder", "conv", self.column),)

    @property
    def denoising_weights(self) -> Tuple[float, ...]:
        """lambda_0 (input) .. lambda_L, as `LadderBase.costs` reads them: 0 below the top."""
        return (0.0,) * (len(self.channels)) + (self.denoising_weight,)


class ConvLadder(LadderBase):
    """The conv encoder (clean and corrupted paths) and its one decoder layer at the top."""

    def __init__(self, config: ConvLadderConfig, generator: Optional[torch.Generator] = None):
        super().__init__()
        self.config = config
        self.encoder = ConvColumn(config.column, generator)
        top, classes = self.encoder.depth, config.channels[-1]
        self.decoder = nn.ModuleDict({str(top): DecoderLayer(classes, None, BN_EPS, generator)})


@register_model("conv_ladder", objective="ladder", config=ConvLadderConfig)
def build_conv_ladder(*, channels: Sequence[int], noise_std: float, denoising_weight: float,
                      seed: Optional[int] = None) -> ConvLadder:
    return ConvLadder(ConvLadderConfig(tuple(channels), noise_std, denoising_weight), seeded_generator(seed))

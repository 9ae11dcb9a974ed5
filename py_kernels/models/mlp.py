"""The supervised MLP: the paper's supervised source network and target baseline.

Exactly the ladder's clean encoder (the "fc" column: z = BN(W h) without affine, h = ReLU(z + beta),
logits = gamma * (z + beta)), trained with cross-entropy only, no noise. Being an `FCColumn`, its layers serve as a
progressive column unchanged, and its state dict has the same keys as a ladder's exported column, so a ladder's
encoder loads into it (the "pre-trained" transfer approach).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, List, Optional, Sequence, Tuple

import torch
import torch.nn.functional as F

from ._api import ColumnDecl, register_model, seeded_generator
from .columns.fc import FCColumn, FCColumnConfig


@dataclass(frozen=True)
class MLPConfig:
    widths: Tuple[int, ...]    # input width first, classes last

    def __post_init__(self) -> None:
        object.__setattr__(self, "widths", tuple(int(w) for w in self.widths))

    @property
    def column(self) -> FCColumnConfig:
        return FCColumnConfig(self.widths)

    @property
    def columns(self) -> Tuple[ColumnDecl, ...]:
        return (ColumnDecl("mlp", "fc", self.column),)


class MLP(FCColumn):
    """x (B, widths[0]) -> logits (B, widths[-1]); `activations(x)` gives every layer's output."""

    def __init__(self, config: MLPConfig, generator: Optional[torch.Generator] = None):
        super().__init__(config.column, generator)

    @property
    def output_column(self) -> FCColumn:
        return self

    def forward_clean(self, x: torch.Tensor) -> torch.Tensor:
        return self(x)

    def encoder_activations(self, x: torch.Tensor) -> List[torch.Tensor]:
        return self.activations(x)

    def costs(self, x: torch.Tensor, y: torch.Tensor) -> Dict[str, torch.Tensor]:
        """x (B, widths[0]), y (B,) int64 -> {"total": (), "supervised": ()} (the same cross-entropy)."""
        loss = F.cross_entropy(self(x), y)
        return {"total": loss, "supervised": loss}


@register_model("mlp", objective="supervised", config=MLPConfig)
def build_mlp(*, widths: Sequence[int], seed: Optional[int] = None) -> MLP:
    return MLP(MLPConfig(tuple(widths)), seeded_generator(seed))

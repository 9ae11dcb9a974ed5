"""The supervised MLP: the paper's supervised source network and target baseline.

Exactly the ladder's clean encoder (784-1000-500-250-250-250-10, z = BN(W h) without affine, h = ReLU(z + beta),
logits = gamma * (z + beta)), trained with cross-entropy only, no noise. Being an `EncoderColumn`, its layers serve
as a progressive column unchanged, and its state dict has the same keys as a ladder's `source_column_state`, so a
ladder's encoder loads into it (the "pre-trained" transfer approach).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, Optional, Sequence, Tuple

import torch
import torch.nn.functional as F

from .column import ColumnConfig, EncoderColumn, check_widths


@dataclass(frozen=True)
class MLPConfig:
    widths: Tuple[int, ...] = (784, 1000, 500, 250, 250, 250, 10)
    bn_eps: float = 1e-10
    bn_momentum: float = 0.1

    def __post_init__(self) -> None:
        check_widths(self.widths)

    @property
    def column(self) -> ColumnConfig:
        return ColumnConfig(self.widths, self.bn_eps, self.bn_momentum)


class MLP(EncoderColumn):
    """x (B, 784) -> logits (B, 10); `activations(x)` gives every layer's output."""

    def __init__(self, config: MLPConfig = MLPConfig(), generator: Optional[torch.Generator] = None):
        super().__init__(config.column, generator)
        self.mlp_config = config

    def forward_clean(self, x: torch.Tensor) -> torch.Tensor:
        return self(x)

    def encoder_activations(self, x: torch.Tensor):
        return self.activations(x)

    def costs(self, x: torch.Tensor, y: torch.Tensor) -> Dict[str, torch.Tensor]:
        """x (B, 784), y (B,) int64 -> {"total": (), "supervised": ()} (the same cross-entropy)."""
        loss = F.cross_entropy(self(x), y)
        return {"total": loss, "supervised": loss}


def build_mlp(*, widths: Sequence[int] = MLPConfig.widths, bn_eps: float = MLPConfig.bn_eps,
              bn_momentum: float = MLPConfig.bn_momentum, seed: Optional[int] = None) -> MLP:
    generator = None if seed is None else torch.Generator().manual_seed(int(seed))
    return MLP(MLPConfig(tuple(int(w) for w in widths), float(bn_eps), float(bn_momentum)), generator)

"""The fully-connected column ("fc"): the ladder's clean encoder, the supervised MLP, a progressive column.

One layer (layer.py, shared with the conv column): z = BN(W h) without affine parameters, a = z + beta, h = ReLU(a),
the top layer's logits gamma * a; batch statistics while training, running averages at test time.

`batch_norm=False` (the paper's author's progressive target column): z = W h, no normalisation and no running
statistics (no buffers), so the column computes the same in training and eval mode.

Progressive laterals enter a layer in one of two places (`forward_layer`): "pre_norm" inputs are added to W h before
the normalisation (which rescales the sum), "post_norm" inputs to a = z + beta after it (Rusu et al.). Without
batch norm the two coincide.

The state dict of an `FCColumn` is also the encoder part of a ladder's (`encoder.` prefix stripped) and an MLP's
whole state dict, so a trained column moves between them with `load_state_dict`.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, Optional, Sequence, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F

from ...errors import KernelInputError
from .._api import register_column, seeded_generator
from ..column_api import Shape
from .layer import BN_EPS, BN_MOMENTUM, LayerStack, NormalisedLayer, gaussian_init

__all__ = ["BN_EPS", "BN_MOMENTUM", "FCColumn", "FCColumnConfig", "FCLayer", "build_fc_column", "gaussian_init"]

@dataclass(frozen=True)
class FCColumnConfig:
    widths: Tuple[int, ...]    # input width first, classes last, e.g. (784, 1000, 500, 250, 250, 250, 10)
    batch_norm: bool = True    # False: z = W h, no normalisation (a progressive target column of the author's)

    def __post_init__(self) -> None:
        object.__setattr__(self, "widths", tuple(int(w) for w in self.widths))
        if not isinstance(self.batch_norm, bool):
            raise KernelInputError(f"an fc column's batch_norm must be true or false, got {self.batch_norm!r}")

    @property
    def layer_shapes(self) -> Tuple[Shape, ...]:
        return tuple((w,) for w in self.widths)


class FCLayer(NormalisedLayer):
    """z = BN(W h) (no affine; z = W h without batch norm); h = ReLU(z + beta), or logits = gamma * (z + beta) on
    the top layer (layer.py)."""

    def __init__(self, fan_in: int, width: int, top: bool, generator: Optional[torch.Generator] = None,
                 batch_norm: bool = True):
        super().__init__(gaussian_init(width, fan_in, generator), top, batch_norm)  # weight (width, fan_in)

    def linear(self, h: torch.Tensor, weight_deltas: Sequence[torch.Tensor] = ()) -> torch.Tensor:
        """W h: (B, fan_in) -> (B, width); weight_deltas (width, fan_in) are added to W first (folded laterals)."""
        weight = self.weight
        for delta in weight_deltas:
            weight = weight + delta
        return F.linear(h, weight)


class FCColumn(LayerStack):
    """x (B, widths[0]) -> ... -> logits (B, widths[-1])."""

    input_view = "flat784"  # 28x28 grayscale, flattened
    foldable = True

    def __init__(self, config: FCColumnConfig, generator: Optional[torch.Generator] = None):
        super().__init__()
        self.config = config
        w = config.widths
        self.layers = nn.ModuleList(
            FCLayer(w[i - 1], w[i], top=(i == len(w) - 1), generator=generator, batch_norm=config.batch_norm)
            for i in range(1, len(w)))
        self.frozen = False

    @classmethod
    def from_state(cls, state: Dict[str, torch.Tensor]) -> "FCColumn":
        """A plain FCColumn (also for an MLP's state); widths are read from the weights: layers.{i}.weight is
        (widths[i+1], widths[i]); batch_norm from the running statistics, present or not."""
        n = 0
        while f"layers.{n}.weight" in state:
            n += 1
        if n == 0:
            raise KernelInputError(f"an fc column state has 'layers.0.weight', this one has keys {sorted(state)[:8]}")
        widths = [int(state["layers.0.weight"].shape[1])] + [int(state[f"layers.{i}.weight"].shape[0])
                                                             for i in range(n)]
        batch_norm = "layers.0.running_mean" in state
        # draws from the global RNG, as it always has: runs record it
        column = FCColumn(FCColumnConfig(tuple(widths), batch_norm))
        column.load_state_dict(state)
        return column.to(state["layers.0.weight"].device)


@register_column("fc", module=FCColumn, config=FCColumnConfig)
def build_fc_column(*, widths: Sequence[int], batch_norm: bool = True, seed: Optional[int] = None) -> FCColumn:
    return FCColumn(FCColumnConfig(tuple(widths), batch_norm), seeded_generator(seed))

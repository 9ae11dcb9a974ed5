"""The fully-connected column ("fc"): the ladder's clean encoder, the supervised MLP, a progressive column.

One layer (Rasmus et al. 2015, CuriousAI `ladder.py`):
    z = BN(W h)                 batch norm without affine parameters
    a = z + beta
    h = ReLU(a)                 hidden layers
    logits = gamma * a          top layer (softmax is applied by the loss / the caller)

Batch statistics while training, running averages at test time. The running averages use the unbiased batch
variance and an exponential moving average, `running = (1 - momentum) * running + momentum * batch`
(momentum 0.1 = CuriousAI's running average with its counter capped at 10).

`batch_norm=False` (the paper's author's progressive target column): z = W h, no normalisation and no running
statistics (no buffers), so the column computes the same in training and eval mode.

Progressive laterals enter a layer in one of two places (`forward_layer`): "pre_norm" inputs are added to W h before
the normalisation (which rescales the sum), "post_norm" inputs to a = z + beta after it (Rusu et al.). Without
batch norm the two coincide.

The state dict of an `FCColumn` is also the encoder part of a ladder's (`encoder.` prefix stripped) and an MLP's
whole state dict, so a trained column moves between them with `load_state_dict`.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Dict, List, Optional, Sequence, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F

from ...errors import KernelInputError
from .._api import register_column, seeded_generator
from ..column_api import Column, Shape

# Constants of the column, not settings: CuriousAI's batch-norm epsilon and the running averages' momentum.
BN_EPS = 1e-10
BN_MOMENTUM = 0.1


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


def gaussian_init(fan_out: int, fan_in: int, generator: Optional[torch.Generator]) -> torch.Tensor:
    """N(0, 1) / sqrt(fan_in), stored (fan_out, fan_in) for F.linear."""
    return torch.randn(fan_out, fan_in, generator=generator) / math.sqrt(fan_in)


class FCLayer(nn.Module):
    """z = BN(W h) (no affine; z = W h without batch norm); h = ReLU(z + beta), or logits = gamma * (z + beta) on
    the top layer."""

    def __init__(self, fan_in: int, width: int, top: bool, generator: Optional[torch.Generator] = None,
                 batch_norm: bool = True):
        super().__init__()
        self.top, self.eps, self.momentum, self.batch_norm = top, BN_EPS, BN_MOMENTUM, batch_norm
        self.weight = nn.Parameter(gaussian_init(width, fan_in, generator))  # (width, fan_in)
        self.beta = nn.Parameter(torch.zeros(width))
        if top:
            self.gamma = nn.Parameter(torch.ones(width))
        else:
            self.register_parameter("gamma", None)
        if batch_norm:  # without it there are no statistics to keep: the state dict says which kind a column is
            self.register_buffer("running_mean", torch.zeros(width))
            self.register_buffer("running_var", torch.ones(width))

    def linear(self, h: torch.Tensor) -> torch.Tensor:
        """W h: (B, fan_in) -> (B, width), the pre-activation (what the ladder's paths normalise and corrupt)."""
        return F.linear(h, self.weight)

    def normalise(self, z_pre: torch.Tensor) -> torch.Tensor:
        """(B, width) -> (B, width): batch statistics in training mode (and the running averages updated),
        running averages in eval mode; the identity without batch norm."""
        if not self.batch_norm:
            return z_pre
        if self.training:
            var, mean = torch.var_mean(z_pre, dim=0, correction=0)  # (width,), (width,)
            self.update_running(mean, var, z_pre.shape[0])
        else:
            mean, var = self.running_mean, self.running_var
        return (z_pre - mean) * torch.rsqrt(var + self.eps)

    @torch.no_grad()
    def update_running(self, mean: torch.Tensor, var_biased: torch.Tensor, n: int) -> None:
        m = self.momentum
        unbiased = var_biased * (n / max(n - 1, 1))
        self.running_mean.mul_(1.0 - m).add_(mean.detach(), alpha=m)
        self.running_var.mul_(1.0 - m).add_(unbiased.detach(), alpha=m)

    def activate(self, z: torch.Tensor, post: Sequence[torch.Tensor] = ()) -> torch.Tensor:
        """normalised z (B, width) -> h (B, width): a = z + beta + each of `post` (B, width) in order, then ReLU(a),
        or the top layer's logits gamma * a."""
        a = z + self.beta                            # a fresh tensor: safe to overwrite in place below
        for p in post:
            a = a + p
        if self.top:
            return self.gamma * a
        return F.relu(a, inplace=True)

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        return self.activate(self.normalise(self.linear(h)))

    def forward_with(self, h: torch.Tensor, extra: Sequence[torch.Tensor] = (),
                     weight_deltas: Sequence[torch.Tensor] = (), post: Sequence[torch.Tensor] = ()) -> torch.Tensor:
        """h (B, fan_in) -> (B, width) with a progressive network's laterals (`Column.forward_layer`): weight_deltas
        (width, fan_in) added to W, extra (B, width) to W h (before the normalisation), post (B, width) to z + beta
        (after it), each in order."""
        weight = self.weight
        for delta in weight_deltas:
            weight = weight + delta
        z_pre = F.linear(h, weight)                                   # (B, width)
        for e in extra:
            z_pre = z_pre + e
        return self.activate(self.normalise(z_pre), post)


class FCColumn(Column):
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

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x (B, widths[0]) -> logits (B, widths[-1])."""
        h = x
        for layer in self.layers:
            h = layer(h)
        return h

    def activations(self, x: torch.Tensor) -> List[torch.Tensor]:
        """x (B, widths[0]) -> [h_1 (B, widths[1]), ..., h_L = logits (B, widths[-1])]: post-ReLU hidden outputs
        and the top layer's logits (pre-softmax)."""
        out = []
        h = x
        for layer in self.layers:
            h = layer(h)
            out.append(h)
        return out

    def forward_layer(self, l: int, h: torch.Tensor, extra: Sequence[torch.Tensor] = (),
                      weight_deltas: Sequence[torch.Tensor] = (), post: Sequence[torch.Tensor] = ()) -> torch.Tensor:
        """h_{l-1} (B, widths[l-1]) -> h_l (B, widths[l]); weight_deltas (widths[l], widths[l-1]) are added to W,
        extra (B, widths[l]) to W h (before the normalisation), post (B, widths[l]) to z + beta (after it), each in
        order."""
        return self.layers[l - 1].forward_with(h, extra, weight_deltas, post)

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

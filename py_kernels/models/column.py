"""The clean batch-normalised encoder: the ladder's clean path, the supervised MLP, and a progressive column.

One layer (Rasmus et al. 2015, CuriousAI `ladder.py`):
    z = BN(W h)                 batch norm without affine parameters
    h = ReLU(z + beta)          hidden layers
    logits = gamma * (z + beta) top layer (softmax is applied by the loss / the caller)

Batch statistics while training, running averages at test time. The running averages use the unbiased batch
variance and an exponential moving average, `running = (1 - momentum) * running + momentum * batch`
(momentum 0.1 = CuriousAI's running average with its counter capped at 10). `recompute_statistics` replaces them
by an exact pass over given data (CuriousAI's "final test" statistics) for callers that want it.

The state dict of an `EncoderColumn` is also the encoder part of a ladder's (`encoder.` prefix stripped) and an
MLP's whole state dict, so a trained column moves between them with `load_state_dict`.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import List, Optional, Sequence, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F

from ..errors import KernelInputError


@dataclass(frozen=True)
class ColumnConfig:
    widths: Tuple[int, ...] = (784, 1000, 500, 250, 250, 250, 10)
    bn_eps: float = 1e-10       # as in the CuriousAI implementation
    bn_momentum: float = 0.1    # running averages for test time

    def __post_init__(self) -> None:
        check_widths(self.widths)


def check_widths(widths: Sequence[int]) -> None:
    if len(widths) < 2 or any(int(w) != w or w < 1 for w in widths):
        raise KernelInputError(
            f"widths must list at least two positive integers (input width first, classes last), got {tuple(widths)!r}")


def gaussian_init(fan_out: int, fan_in: int, generator: Optional[torch.Generator]) -> torch.Tensor:
    """N(0, 1) / sqrt(fan_in), stored (fan_out, fan_in) for F.linear."""
    return torch.randn(fan_out, fan_in, generator=generator) / math.sqrt(fan_in)


class EncoderLayer(nn.Module):
    """z = BN(W h) (no affine); h = ReLU(z + beta), or logits = gamma * (z + beta) on the top layer."""

    def __init__(self, fan_in: int, width: int, top: bool, eps: float, momentum: float,
                 generator: Optional[torch.Generator] = None):
        super().__init__()
        self.top, self.eps, self.momentum = top, eps, momentum
        self.weight = nn.Parameter(gaussian_init(width, fan_in, generator))  # (width, fan_in)
        self.beta = nn.Parameter(torch.zeros(width))
        if top:
            self.gamma = nn.Parameter(torch.ones(width))
        else:
            self.register_parameter("gamma", None)
        self.register_buffer("running_mean", torch.zeros(width))
        self.register_buffer("running_var", torch.ones(width))

    def normalise(self, z_pre: torch.Tensor) -> torch.Tensor:
        """(B, width) -> (B, width): batch statistics in training mode (and the running averages updated),
        running averages in eval mode."""
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

    def activate(self, z: torch.Tensor) -> torch.Tensor:
        """normalised z (B, width) -> h (B, width): ReLU(z + beta), or the top layer's logits gamma * (z + beta)."""
        if self.top:
            return self.gamma * (z + self.beta)
        return F.relu(z + self.beta, inplace=True)  # z + beta is a fresh tensor

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        return self.activate(self.normalise(F.linear(h, self.weight)))


class EncoderColumn(nn.Module):
    """widths[0] -> ... -> widths[-1]; `forward` gives logits, `activations` every layer's output."""

    def __init__(self, config: ColumnConfig = ColumnConfig(), generator: Optional[torch.Generator] = None):
        super().__init__()
        self.config = config
        w = config.widths
        self.layers = nn.ModuleList(
            EncoderLayer(w[i - 1], w[i], top=(i == len(w) - 1), eps=config.bn_eps, momentum=config.bn_momentum,
                         generator=generator)
            for i in range(1, len(w)))
        self.frozen = False

    def freeze(self) -> "EncoderColumn":
        """A frozen progressive column: no gradients, and eval mode (running BN statistics) that a parent's
        `.train()` does not undo."""
        self.frozen = True
        self.requires_grad_(False)
        return self.train(False)

    def train(self, mode: bool = True) -> "EncoderColumn":
        return super().train(mode and not self.frozen)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x (B, widths[0]) -> logits (B, widths[-1])."""
        h = x
        for layer in self.layers:
            h = layer(h)
        return h

    def activations(self, x: torch.Tensor) -> List[torch.Tensor]:
        """x (B, widths[0]) -> [h_1 (B, widths[1]), ..., h_L = logits (B, widths[-1])]: post-ReLU hidden outputs
        and the top layer's logits (pre-softmax), i.e. what each layer passes upward."""
        out = []
        h = x
        for layer in self.layers:
            h = layer(h)
            out.append(h)
        return out

    @torch.no_grad()
    def recompute_statistics(self, x: torch.Tensor, batch_size: int = 100) -> None:
        """Replace the running averages by the mean, over consecutive batches of x, of each layer's batch mean and
        unbiased batch variance, with every batch normalised by its own statistics as in training. Deterministic for
        given x; a ragged last batch is dropped. Leaves the module in the train/eval mode it had."""
        n_batches = x.shape[0] // batch_size
        if n_batches < 1 or batch_size < 2:
            raise KernelInputError(
                f"recompute_statistics needs batch_size >= 2 and at least one full batch, got {x.shape[0]} rows "
                f"and batch_size {batch_size}")
        was_training = self.training
        sums = [(torch.zeros_like(l.running_mean), torch.zeros_like(l.running_var)) for l in self.layers]
        for b in range(n_batches):
            h = x[b * batch_size:(b + 1) * batch_size]
            for layer, (s_mean, s_var) in zip(self.layers, sums):
                z_pre = F.linear(h, layer.weight)                                  # (batch, width)
                var, mean = torch.var_mean(z_pre, dim=0, correction=0)
                s_mean.add_(mean)
                s_var.add_(var * (batch_size / (batch_size - 1)))
                h = layer.activate((z_pre - mean) * torch.rsqrt(var + layer.eps))
        for layer, (s_mean, s_var) in zip(self.layers, sums):
            layer.running_mean.copy_(s_mean / n_batches)
            layer.running_var.copy_(s_var / n_batches)
        self.train(was_training)


def build_column(*, widths: Sequence[int] = ColumnConfig.widths, bn_eps: float = ColumnConfig.bn_eps,
                 bn_momentum: float = ColumnConfig.bn_momentum, seed: Optional[int] = None) -> EncoderColumn:
    generator = None if seed is None else torch.Generator().manual_seed(int(seed))
    return EncoderColumn(ColumnConfig(tuple(int(w) for w in widths), float(bn_eps), float(bn_momentum)), generator)


def column_from_state(state: dict, *, bn_eps: float = ColumnConfig.bn_eps) -> EncoderColumn:
    """An EncoderColumn rebuilt from `source_column_state`-style state: widths are read from the weights."""
    n = 0
    while f"layers.{n}.weight" in state:
        n += 1
    if n == 0:
        raise KernelInputError(f"column state has no 'layers.0.weight'; its keys are {sorted(state)[:8]}...")
    widths = [int(state["layers.0.weight"].shape[1])] + [int(state[f"layers.{i}.weight"].shape[0]) for i in range(n)]
    column = EncoderColumn(ColumnConfig(tuple(widths), bn_eps))
    column.load_state_dict(state)
    dev = state["layers.0.weight"].device
    return column.to(dev)

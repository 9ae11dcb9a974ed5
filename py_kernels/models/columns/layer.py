"""What every layer of a column does after its weight (the fc column's and the conv column's, Rasmus et al. 2015,
CuriousAI `ladder.py`):

    z = BN(W h)                 per unit (a vector layer) or per channel over examples and positions (a map layer),
                                without affine parameters; the identity without batch norm
    a = z + beta (+ "post_norm" laterals)
    h = ReLU(a)                 hidden layers
    logits = gamma * a          the top layer (softmax is applied by the loss / the caller)

Batch statistics while training, running averages at test time: the unbiased batch variance and an exponential moving
average, `running = (1 - momentum) * running + momentum * batch` (momentum 0.1 = CuriousAI's running average with its
counter capped at 10). That average covers the last ~10 batches only; `recompute_population_statistics` replaces it
with the statistics of a fixed set of training images (a training option, `population_statistics`: a conv column's
average missed its population badly enough to cost one run half its test accuracy). A subclass gives the weight and
`linear`, W h.
"""
from __future__ import annotations

import math
from typing import Callable, List, Optional, Sequence

import torch
import torch.nn as nn
import torch.nn.functional as F

from ..column_api import Column
from ..ladder_ops import normalise_rows

# Constants of the columns, not settings: CuriousAI's batch-norm epsilon and the running averages' momentum.
BN_EPS = 1e-10
BN_MOMENTUM = 0.1


def gaussian_init(fan_out: int, fan_in: int, generator: Optional[torch.Generator]) -> torch.Tensor:
    """N(0, 1) / sqrt(fan_in), stored (fan_out, fan_in) for F.linear."""
    return torch.randn(fan_out, fan_in, generator=generator) / math.sqrt(fan_in)


@torch.no_grad()
def update_running_stats(running_mean: torch.Tensor, running_var: torch.Tensor, mean: torch.Tensor,
                         var_biased: torch.Tensor, n: int, momentum: float) -> None:
    """The running averages, in place, from a batch's mean and biased variance over n values (made unbiased)."""
    unbiased = var_biased * (n / max(n - 1, 1))
    running_mean.mul_(1.0 - momentum).add_(mean.detach(), alpha=momentum)
    running_var.mul_(1.0 - momentum).add_(unbiased.detach(), alpha=momentum)


def per_channel(v: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
    """(C,) -> (C, 1, 1) against a map z (B, C, H, W), so it broadcasts over positions; (C,) against a vector z."""
    return v.view(-1, *([1] * (z.dim() - 2)))


class NormalisedLayer(nn.Module):
    """The weight (its first dimension: `width` units or channels), beta (and gamma on the top layer) and the running
    statistics; `linear` is the subclass's. The parameters are registered in that order, weight first: optimiser
    states and checkpoints list them by position."""

    def __init__(self, weight: torch.Tensor, top: bool, batch_norm: bool):
        super().__init__()
        width = weight.shape[0]
        self.top, self.eps, self.momentum, self.batch_norm = top, BN_EPS, BN_MOMENTUM, batch_norm
        self.weight = nn.Parameter(weight)
        self.beta = nn.Parameter(torch.zeros(width))
        if top:
            self.gamma = nn.Parameter(torch.ones(width))
        else:
            self.register_parameter("gamma", None)
        if batch_norm:  # without it there are no statistics to keep: the state dict says which kind a column is
            self.register_buffer("running_mean", torch.zeros(width))
            self.register_buffer("running_var", torch.ones(width))
        self.population: Optional[List[torch.Tensor]] = None  # [count, sum, sum of squares] while recomputing

    def linear(self, h: torch.Tensor, weight_deltas: Sequence[torch.Tensor] = ()) -> torch.Tensor:
        """W h, the pre-activation (what the ladder's paths normalise and corrupt)."""
        raise NotImplementedError

    def normalise(self, z_pre: torch.Tensor) -> torch.Tensor:
        """(B, C) or (B, C, H, W) -> the same: batch statistics in training mode (and the running averages updated),
        running averages in eval mode; the identity without batch norm."""
        if not self.batch_norm:
            return z_pre
        if self.training:  # one fused node (ladder_ops.py; C kernels on the CPU)
            z, mean, _, var = normalise_rows(z_pre, 1, self.eps)
            self.update_running(mean[0], var[0], z_pre.numel() // z_pre.shape[1])
            return z
        mean, var = self.running_mean, self.running_var
        return (z_pre - per_channel(mean, z_pre)) * per_channel(torch.rsqrt(var + self.eps), z_pre)

    def update_running(self, mean: torch.Tensor, var_biased: torch.Tensor, n: int) -> None:
        """mean, var_biased (C,) of n values per unit or channel (examples x positions)."""
        if self.population is not None:
            count, total, squares = self.population
            count += n
            total += mean.detach() * n
            squares += (var_biased.detach() + mean.detach() ** 2) * n
            return
        update_running_stats(self.running_mean, self.running_var, mean, var_biased, n, self.momentum)

    def activate(self, z: torch.Tensor, post: Sequence[torch.Tensor] = ()) -> torch.Tensor:
        """normalised z (B, C, ...) -> h: a = z + beta + each of `post` (shaped like z) in order, then ReLU(a), or the
        top layer's logits gamma * a."""
        a = z + per_channel(self.beta, z)            # a fresh tensor: safe to overwrite in place below
        for p in post:
            a = a + p
        if self.top:
            return per_channel(self.gamma, a) * a
        return F.relu(a, inplace=True)

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        return self.activate(self.normalise(self.linear(h)))

    def forward_with(self, h: torch.Tensor, extra: Sequence[torch.Tensor] = (),
                     weight_deltas: Sequence[torch.Tensor] = (), post: Sequence[torch.Tensor] = ()) -> torch.Tensor:
        """The layer with a progressive network's laterals (`Column.forward_layer`): weight_deltas added to W (a
        foldable column's), extra (shaped like W h) to W h before the normalisation, post to z + beta after it,
        each in order."""
        z_pre = self.linear(h, weight_deltas)
        for e in extra:
            z_pre = z_pre + e
        return self.activate(self.normalise(z_pre), post)


class LayerStack(Column):
    """A column that is a stack of such layers (`self.layers`, layer 1 first): its forward pass, its activations and
    one layer with a progressive network's laterals."""

    layers: nn.ModuleList

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x (B, *layer_shapes[0]) -> logits (B, *layer_shapes[-1])."""
        h = x
        for layer in self.layers:
            h = layer(h)
        return h

    def activations(self, x: torch.Tensor) -> List[torch.Tensor]:
        """x -> [h_1, ..., h_L = logits]: each layer's post-ReLU output (B, *layer_shapes[l]), the top layer's logits
        (pre-softmax) last."""
        out = []
        h = x
        for layer in self.layers:
            h = layer(h)
            out.append(h)
        return out

    def forward_layer(self, l: int, h: torch.Tensor, extra: Sequence[torch.Tensor] = (),
                      weight_deltas: Sequence[torch.Tensor] = (), post: Sequence[torch.Tensor] = ()) -> torch.Tensor:
        """h_{l-1} (B, *layer_shapes[l-1]) -> h_l (B, *layer_shapes[l]) (NormalisedLayer.forward_with)."""
        return self.layers[l - 1].forward_with(h, extra, weight_deltas, post)


@torch.no_grad()
def recompute_population_statistics(model: nn.Module, forward: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor,
                                    batch_size: int) -> None:
    """Sets the running mean and (unbiased) variance of every batch-normalised layer of `model` that trains to the
    statistics of its pre-activations over all of x, passed through `forward` (the clean path) in training mode in
    batches of `batch_size`: each layer below normalised with its batch's statistics, as in training (torch's
    `swa_utils.update_bn` does the same, averaging per batch). Frozen columns (eval mode) keep theirs. Deterministic:
    no noise, x in its order, so a resumed run recomputes the same numbers."""
    layers = [m for m in model.modules() if isinstance(m, NormalisedLayer) and m.batch_norm and m.training]
    for layer in layers:
        zeros = torch.zeros_like(layer.running_mean, dtype=torch.float64)
        layer.population = [torch.zeros((), dtype=torch.float64, device=zeros.device), zeros, zeros.clone()]
    try:
        for i in range(0, len(x), batch_size):
            forward(x[i:i + batch_size])
        for layer in layers:
            count, total, squares = layer.population
            mean = total / count
            var = (squares / count - mean ** 2).clamp_min(0) * (count / (count - 1).clamp_min(1))
            layer.running_mean.copy_(mean)
            layer.running_var.copy_(var)
    finally:
        for layer in layers:
            layer.population = None

"""K copies of the fc column trained as one module: the seeds of one experiment in one set of batched matrix products.

Every parameter and buffer of `FCColumn` (columns/fc.py) gets a leading seed dimension K: layers.{i}.weight
(K, out, in), beta (K, out), gamma (K, classes), running_mean / running_var (K, out). Names and order are the single
column's, so slice k of the state dict is seed k's own state dict (`seed_state`, `load_seed_state`), loadable into a
single-seed `FCColumn` / `MLP` and back. Nothing reduces across the seed dimension: each slice computes what the
single network of that seed computes (up to the summation order inside the batched GEMMs), and a NaN in one seed's
slice never reaches another's.

`BatchedMLP` is the supervised MLP (mlp.py) of K seeds: `costs(x (K, B, in), y (K, B))` -> per-seed cross-entropy.
"""
from __future__ import annotations

from typing import Dict, List, Sequence

import torch
import torch.nn as nn
import torch.nn.functional as F

from ..errors import KernelInputError
from .columns.fc import BN_EPS, BN_MOMENTUM, FCColumn, FCColumnConfig
from .columns.layer import update_running_stats
from .ladder_ops import normalise_groups


class _BatchedLinear(torch.autograd.Function):
    """h (K, R, in), W (K, out, in) -> h W^T (K, R, out), with the single F.linear's backward layouts: grad of h is
    g W, grad of W is g^T h, (K, out, in) contiguous (bmm's own backward gives it transposed, and autograd then copies
    it into a contiguous .grad every step: measured, one weight-sized copy per layer)."""

    @staticmethod
    def forward(ctx, h: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
        ctx.save_for_backward(h, weight)
        return torch.bmm(h, weight.transpose(1, 2))

    @staticmethod
    def backward(ctx, g: torch.Tensor):
        h, weight = ctx.saved_tensors
        g_h = torch.bmm(g, weight) if ctx.needs_input_grad[0] else None
        g_w = torch.bmm(g.transpose(1, 2), h) if ctx.needs_input_grad[1] else None
        return g_h, g_w


def batched_linear(h: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    """h (K, R, in) or (R, in) (the same rows for every seed), W (K, out, in) -> (K, R, out)."""
    if h.dim() == 2:
        h = h.unsqueeze(0).expand(weight.shape[0], *h.shape)
    return _BatchedLinear.apply(h, weight)


def stack_states(states: Sequence[Dict[str, torch.Tensor]]) -> Dict[str, torch.Tensor]:
    """K state dicts with the same keys and shapes -> one with each entry stacked (K, ...)."""
    keys = list(states[0])
    for k, state in enumerate(states):
        if list(state) != keys:
            raise KernelInputError(f"seed {k}'s state has keys {sorted(state)[:6]}..., seed 0's {sorted(keys)[:6]}...; "
                                   f"only networks of one architecture and config can be batched")
    return {key: torch.stack([state[key] for state in states]) for key in keys}


class SeedSlices:
    """For a batched module whose state dict is its single-seed network's with a leading seed dimension."""

    def seed_state(self, k: int) -> Dict[str, torch.Tensor]:
        """Seed k's state dict, as its single-seed network names it (detached copies)."""
        return {name: value[k].detach().clone() for name, value in self.state_dict().items()}

    @torch.no_grad()
    def load_seed_state(self, k: int, state: Dict[str, torch.Tensor]) -> None:
        """Seed k's slice from a single-seed state dict (strict: the same keys and shapes)."""
        mine = self.state_dict()
        if set(state) != set(mine):
            missing, extra = sorted(set(mine) - set(state)), sorted(set(state) - set(mine))
            raise KernelInputError(f"a seed's state does not fit the batched network: missing {missing[:4]}, "
                                   f"unexpected {extra[:4]}; it must come from the same architecture and config")
        for name, value in state.items():
            if tuple(value.shape) != tuple(mine[name].shape[1:]):
                raise KernelInputError(f"seed state {name} is {tuple(value.shape)}, the batched network's slice is "
                                       f"{tuple(mine[name].shape[1:])}; it must come from the same config")
            mine[name][k].copy_(value)


class BatchedFCLayer(nn.Module):
    """K seeds of `FCLayer`: z = BN(W h) per seed (no affine), h = ReLU(z + beta), top: logits = gamma (z + beta)."""

    def __init__(self, seeds: int, fan_in: int, width: int, top: bool, batch_norm: bool):
        super().__init__()
        self.top, self.eps, self.momentum, self.batch_norm = top, BN_EPS, BN_MOMENTUM, batch_norm
        self.weight = nn.Parameter(torch.empty(seeds, width, fan_in))   # (K, width, fan_in)
        self.beta = nn.Parameter(torch.empty(seeds, width))            # (K, width)
        if top:
            self.gamma = nn.Parameter(torch.empty(seeds, width))
        else:
            self.register_parameter("gamma", None)
        if batch_norm:
            self.register_buffer("running_mean", torch.empty(seeds, width))
            self.register_buffer("running_var", torch.empty(seeds, width))

    def linear(self, h: torch.Tensor) -> torch.Tensor:
        """h (K, R, fan_in) or (R, fan_in) -> W h (K, R, width)."""
        return batched_linear(h, self.weight)

    def update_running(self, mean: torch.Tensor, var_biased: torch.Tensor, n: int) -> None:
        """mean, var_biased (K, width) of n examples per seed; FCLayer.update_running per seed."""
        update_running_stats(self.running_mean, self.running_var, mean, var_biased, n, self.momentum)

    def normalise_train(self, z_pre: torch.Tensor) -> torch.Tensor:
        """(K, B, width) with each seed's batch statistics, the running averages updated; the identity without batch
        norm."""
        if not self.batch_norm:
            return z_pre
        out, mean, _, var = normalise_groups(z_pre.unsqueeze(1), self.eps)   # (K, 1, B, width), (K, 1, width)
        self.update_running(mean[:, 0], var[:, 0], z_pre.shape[1])
        return out.squeeze(1)

    def normalise_eval(self, z_pre: torch.Tensor) -> torch.Tensor:
        """(K, R, width) with the running averages (test time); the identity without batch norm."""
        if not self.batch_norm:
            return z_pre
        return (z_pre - self.running_mean.unsqueeze(1)) * torch.rsqrt(self.running_var.unsqueeze(1) + self.eps)

    def activate(self, z: torch.Tensor, post: Sequence[torch.Tensor] = ()) -> torch.Tensor:
        """normalised z (K, R, width) -> h (K, R, width); `post` (K, R, width) added after the shift, as
        `NormalisedLayer.activate` adds a progressive network's "post_norm" laterals."""
        a = z + self.beta.unsqueeze(1)
        for p in post:
            a = a + p
        if self.top:
            return self.gamma.unsqueeze(1) * a
        return F.relu(a, inplace=True)


class BatchedFCColumn(SeedSlices, nn.Module):
    """K seeds of an `FCColumn` of one config, initialised from (and sliced back into) single-seed state dicts."""

    def __init__(self, config: FCColumnConfig, seeds: int):
        super().__init__()
        self.config, self.seeds = config, int(seeds)
        self.frozen = False   # a progressive network's frozen column: running statistics, no gradients
        w = config.widths
        self.layers = nn.ModuleList(
            BatchedFCLayer(seeds, w[i - 1], w[i], top=(i == len(w) - 1), batch_norm=config.batch_norm)
            for i in range(1, len(w)))

    @property
    def layer_shapes(self):
        return self.config.layer_shapes

    def forward_clean(self, x: torch.Tensor) -> torch.Tensor:
        """x (N, in) (every seed the same rows) or (K, N, in) -> logits (K, N, classes), with the running averages
        (call in eval mode: test time)."""
        h = x
        for layer in self.layers:
            h = layer.activate(layer.normalise_eval(layer.linear(h)))
        return h

    def forward_train(self, x: torch.Tensor) -> torch.Tensor:
        """x (K, B, in) -> logits (K, B, classes) with each seed's batch statistics (running averages updated)."""
        h = x
        for layer in self.layers:
            h = layer.activate(layer.normalise_train(layer.linear(h)))    # (K, B, width)
        return h


class BatchedMLP(BatchedFCColumn):
    """K seeds of the supervised MLP (mlp.py): `costs(x (K, B, in), y (K, B))` -> {"total": (K,), "supervised": (K,)}
    per-seed mean cross-entropy; a trainer back-propagates their sum (each seed's gradient is its own)."""

    def costs(self, x: torch.Tensor, y: torch.Tensor) -> Dict[str, torch.Tensor]:
        logits = self.forward_train(x) if self.training else self.forward_clean(x)   # (K, B, classes)
        k, b, classes = logits.shape
        loss = F.cross_entropy(logits.reshape(k * b, classes), y.reshape(k * b), reduction="none").view(k, b).mean(1)
        return {"total": loss, "supervised": loss}


def stack_columns(columns: List[FCColumn], cls=BatchedFCColumn) -> BatchedFCColumn:
    """K single-seed fc columns (or MLPs) of one config -> one batched network (`cls`) holding their states."""
    config = columns[0].config
    if any(c.config != config for c in columns):
        raise KernelInputError(f"only columns of one config can be batched, got "
                               f"{sorted({str(c.config) for c in columns})}")
    batched = cls(FCColumnConfig(config.widths, config.batch_norm), len(columns)).to(columns[0].layers[0].weight.device)
    batched.load_state_dict(stack_states([c.state_dict() for c in columns]))
    return batched

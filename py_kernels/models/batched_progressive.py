"""K seeds of a progressive network of fully-connected columns (progressive.py) trained as one module.

Every column is a `BatchedFCColumn` (batched_fc.py) and every lateral's adapter has its single adapter's parameters
with a leading seed dimension: alpha (K,), U (K, out, in), V (K, reduced, in). Names and order are the single
network's, so seed k's slice of the state dict is its own network's state dict (`seed_state`, `load_seed_state`):
its own frozen source columns (target seed s is built on source seed s), target column and adapters. Each slice
computes what its single network computes, up to the summation order inside the batched matrix products; laterals
enter where the single network adds them (before the batch norm, or after it with "post_norm"), frozen columns use
their running statistics, the trained column its batch statistics in training mode.

Built with `stack_progressive` from the K single networks (their initial weights, each seed's own source files).
Networks with conv or AlexNet columns have no batched twin: their seeds train one run each.
"""
from __future__ import annotations

from typing import Dict, List, Optional, Sequence

import torch
import torch.nn as nn
import torch.nn.functional as F

from ..errors import KernelInputError
from .adapters import PlainAdapter, RusuAdapter, ScalarAdapter
from .batched_fc import BatchedFCColumn, SeedSlices, batched_linear, stack_states
from .columns.fc import FCColumn, FCColumnConfig
from .progressive import ProgressiveNetwork


class BatchedAdapter(nn.Module):
    """K seeds of one vector adapter: scalar U (alpha h), none U h, rusu U ReLU(V (alpha h)), h (K, B, in) or
    (B, in) -> (K, B, out)."""

    def __init__(self, single: nn.Module, seeds: int):
        super().__init__()
        if getattr(single, "flatten", False) or getattr(single, "positions", None) is not None:
            raise KernelInputError("batched progressive networks join vectors to vectors only (fc columns)")
        self.kind = {ScalarAdapter: "scalar", RusuAdapter: "rusu", PlainAdapter: "none"}[type(single)]
        for name, p in single.named_parameters(recurse=False):   # the single adapter's order: alpha, (V,) U
            self.register_parameter(name, nn.Parameter(torch.empty(seeds, *p.shape)))

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        if self.kind == "none":
            return batched_linear(h, self.U)
        alpha = self.alpha.view(-1, 1, 1)
        if self.kind == "scalar":
            return batched_linear(h, self.U) * alpha
        return batched_linear(F.relu(batched_linear(h, self.V) * alpha), self.U)


class BatchedProgressive(SeedSlices, nn.Module):
    """x (N, in) (every seed the same rows) or (K, B, in) -> logits (K, B, classes) of each seed's last column."""

    def __init__(self, single: ProgressiveNetwork, seeds: int):
        super().__init__()
        self.config, self.seeds = single.config, int(seeds)
        columns = []
        for k, column in enumerate(single.columns):
            if not isinstance(column, FCColumn):
                raise KernelInputError(f"column {k} is a {type(column).__name__}: batched progressive networks have "
                                       f"fc columns only; train its seeds one run each")
            batched = BatchedFCColumn(FCColumnConfig(column.config.widths, column.config.batch_norm), seeds)
            batched.frozen = column.frozen
            batched.requires_grad_(not column.frozen)
            columns.append(batched)
        self.columns = nn.ModuleList(columns)
        self.laterals = nn.ModuleList(BatchedAdapter(adapter, seeds) for adapter in single.laterals)
        self.incoming, self.needed = single.incoming, single.needed
        self._layer_shapes = single.layer_shapes

    @property
    def layer_shapes(self):
        return self._layer_shapes

    def _run(self, x: torch.Tensor) -> List[Optional[List[torch.Tensor]]]:
        """hs[k] = [x, h_1, ..., h_L] ((K, B, width) each) of every column the output depends on."""
        hs: List[Optional[List[torch.Tensor]]] = [None] * len(self.columns)
        for k in self.needed:
            column = self.columns[k]
            batch_statistics = self.training and not column.frozen
            h, out = x, [x]
            for l, layer in enumerate(column.layers, start=1):
                z = layer.linear(h)                                               # (K, B, width)
                post = []
                for i in self.incoming[k][l - 1]:
                    lat = self.config.laterals[i]
                    added = self.laterals[i](hs[lat.from_column][lat.from_layer])  # (K, B, width)
                    if lat.adapter.placement == "post_norm":
                        post.append(added)
                    else:
                        z = z + added
                z = layer.normalise_train(z) if batch_statistics else layer.normalise_eval(z)
                h = layer.activate(z, post)
                out.append(h)
            hs[k] = out
        return hs

    def forward_clean(self, x: torch.Tensor) -> torch.Tensor:
        return self._run(x)[-1][-1]

    forward = forward_clean

    def costs(self, x: torch.Tensor, y: torch.Tensor) -> Dict[str, torch.Tensor]:
        """x (K, B, in), y (K, B) -> {"total": (K,), "supervised": (K,)}: each seed's mean cross-entropy."""
        logits = self.forward_clean(x)                                            # (K, B, classes)
        k, b, classes = logits.shape
        loss = F.cross_entropy(logits.reshape(k * b, classes), y.reshape(k * b), reduction="none").view(k, b).mean(1)
        return {"total": loss, "supervised": loss}


def stack_progressive(networks: Sequence[ProgressiveNetwork]) -> BatchedProgressive:
    """K single-seed progressive networks of one wiring (each with its own source columns) -> one batched network
    holding their states (slice k = networks[k])."""
    first = networks[0]
    for k, network in enumerate(networks):
        if network.config.laterals != first.config.laterals or [c.frozen for c in network.columns] != [
                c.frozen for c in first.columns]:
            raise KernelInputError(f"network {k}'s wiring differs from network 0's; only one experiment's seeds can be "
                                   f"batched")
    batched = BatchedProgressive(first, len(networks)).to(next(first.parameters()).device)
    batched.load_state_dict(stack_states([n.state_dict() for n in networks]))
    return batched

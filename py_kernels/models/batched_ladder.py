"""K seeds of the fc ladder (ladder.py) trained as one module: batched matrix products, per-seed everything else.

The encoder is a `BatchedFCColumn` (batched_fc.py); the decoder's V(l) are (K, width(l), width(l+1)) and the
combinators' a (K, 10, width). Names and order are the single `Ladder`'s, so a seed's slice of the state dict is its
own ladder's state dict (`seed_state` / `load_seed_state`).

`costs` is `LadderBase.costs` with a leading seed dimension: the same fused pass of [corrupted labeled | corrupted
unlabeled | clean unlabeled] rows per seed, and seed k's noise drawn from generators[k] in the order the single
ladder draws it (input, then each layer's corrupted rows), so each slice sees exactly the noise of its single run.
Its losses are per seed; a trainer back-propagates their sum, whose gradient in each seed's slice is that seed's own.
"""
from __future__ import annotations

from typing import Dict, List, Optional, Sequence

import torch
import torch.nn as nn
import torch.nn.functional as F

from ..errors import KernelInputError
from .batched_fc import BatchedFCColumn, SeedSlices, batched_linear, stack_states
from .columns.fc import BN_EPS
from .ladder import Ladder, LadderConfig
from .ladder_ops import combinator, normalise_groups


class _BatchedCombinator(nn.Module):
    def __init__(self, seeds: int, width: int):
        super().__init__()
        self.a = nn.Parameter(torch.empty(seeds, 10, width))   # (K, 10, width): rows a1..a10


class BatchedDecoderLayer(nn.Module):
    """K seeds of `DecoderLayer`: u = BN(V z_hat(l+1)) per seed (or the top-level signal), z_hat(l) = g(z_tilde, u)."""

    def __init__(self, seeds: int, width: int, width_above: Optional[int]):
        super().__init__()
        self.eps = BN_EPS
        if width_above is None:
            self.register_parameter("V", None)
        else:
            self.V = nn.Parameter(torch.empty(seeds, width, width_above))   # (K, width, width_above)
        self.g = _BatchedCombinator(seeds, width)

    def forward(self, z_tilde: torch.Tensor, from_above: torch.Tensor) -> torch.Tensor:
        """z_tilde (K, n, width), from_above (K, n, width_above) -> z_hat (K, n, width)."""
        u = from_above if self.V is None else batched_linear(from_above, self.V)    # (K, n, width)
        u = normalise_groups(u.unsqueeze(1), self.eps)[0].squeeze(1)
        return combinator(z_tilde, u, self.g.a)


class BatchedLadder(SeedSlices, nn.Module):
    """K seeds of one ladder config. Build with `stack_ladders` from K single-seed ladders (their initial weights)."""

    def __init__(self, config: LadderConfig, seeds: int):
        super().__init__()
        self.config, self.seeds = config, int(seeds)
        w = config.widths
        self.encoder = BatchedFCColumn(config.column, seeds)
        top = len(w) - 1
        levels = [top] if config.gamma_only else list(range(top + 1))
        self.decoder = nn.ModuleDict({
            str(l): BatchedDecoderLayer(seeds, w[l], None if l == top else w[l + 1]) for l in levels})

    @property
    def layer_shapes(self):
        return self.encoder.layer_shapes

    def forward_clean(self, x: torch.Tensor) -> torch.Tensor:
        """x (N, in) or (K, N, in) -> logits (K, N, classes) of each seed's clean encoder (eval: running averages)."""
        return self.encoder.forward_clean(x)

    def costs(self, x_labeled: torch.Tensor, y_labeled: torch.Tensor, x_unlabeled: torch.Tensor,
              generators: Sequence[Optional[torch.Generator]]) -> Dict[str, torch.Tensor]:
        """x_labeled (K, Nl, in), y_labeled (K, Nl) int64, x_unlabeled (K, Nu, in), one generator per seed ->
        {"total": (K,), "supervised": (K,), "denoising": (K, L+1) unweighted C_d per layer and seed}. In training
        mode also updates each seed's running BN averages from its clean unlabeled batch."""
        cfg, enc_layers = self.config, self.encoder.layers
        seeds, nl, nu = x_unlabeled.shape[0], x_labeled.shape[1], x_unlabeled.shape[1]
        nc = nl + nu                       # rows of the corrupted path, per seed
        std, dev, dt = cfg.noise_std, x_unlabeled.device, x_unlabeled.dtype
        if nl != nu:
            raise KernelInputError(f"the batched ladder takes equal labeled and unlabeled batches (one fused normalisation "
                             f"per layer), got {nl} and {nu}; train such a run alone")

        h = torch.cat([x_labeled, x_unlabeled, x_unlabeled], dim=1)     # (K, nc + nu, in)
        if std > 0:
            for k in range(seeds):   # what LadderBase.costs draws first: the input's corrupted rows
                h[k, :nc].add_(torch.randn((nc, *h.shape[2:]), generator=generators[k], device=dev, dtype=dt)
                               .mul_(std))
        z_corr = [h[:, nl:nc]]        # z_tilde(l) of the unlabeled examples (K, nu, width(l)), l = 0..L
        z_clean = [x_unlabeled]       # z(l), the denoising targets
        clean_mean: List[Optional[torch.Tensor]] = [None]
        clean_inv: List[Optional[torch.Tensor]] = [None]
        for layer in enc_layers:
            z_pre = layer.linear(h)                                       # (K, nc + nu, width)
            # z (K, 3, n, width) with the corrupted groups' noise; mean, inv, var (K, 3, width)
            z, mean, inv, var = normalise_groups(z_pre.view(seeds, 3, nu, -1), layer.eps, std, 2, generators)
            z = z.view(z_pre.shape)
            if self.training:
                layer.update_running(mean[:, 2], var[:, 2], nu)
            z_corr.append(z[:, nl:nc])
            z_clean.append(z[:, nc:])
            clean_mean.append(mean[:, 2])
            clean_inv.append(inv[:, 2])
            h = layer.activate(z)                                         # (K, nc + nu, width)
        logits = h[:, :nc]                                                # corrupted logits (K, nc, classes)

        classes = logits.shape[2]
        supervised = F.cross_entropy(logits[:, :nl].reshape(seeds * nl, classes), y_labeled.reshape(seeds * nl),
                                     reduction="none").view(seeds, nl).mean(1)          # (K,)
        top = len(enc_layers)
        denoising = torch.zeros(seeds, top + 1, device=dev, dtype=dt)
        total = supervised
        z_hat = torch.softmax(logits[:, nl:], dim=2)                      # y_tilde (K, nu, classes)
        for l in range(top, -1, -1):
            key = str(l)
            if key not in self.decoder:
                break
            z_hat = self.decoder[key](z_corr[l], z_hat)                   # (K, nu, width(l))
            if l == 0:
                z_hat_bn = z_hat
            else:
                z_hat_bn = (z_hat - clean_mean[l].unsqueeze(1)) * clean_inv[l].unsqueeze(1)
            cost = F.mse_loss(z_hat_bn, z_clean[l], reduction="none").mean((1, 2))   # (K,)
            denoising[:, l] = cost.detach()
            total = total + cfg.denoising_weights[l] * cost
        return {"total": total, "supervised": supervised, "denoising": denoising}


def stack_ladders(ladders: List[Ladder]) -> BatchedLadder:
    """K single-seed ladders of one config -> one `BatchedLadder` holding their states (slice k = ladders[k])."""
    config = ladders[0].config
    if any(m.config != config for m in ladders):
        raise KernelInputError(f"only ladders of one config can be batched, got {sorted({str(m.config) for m in ladders})}")
    batched = BatchedLadder(config, len(ladders)).to(next(ladders[0].parameters()).device)
    batched.load_state_dict(stack_states([m.state_dict() for m in ladders]))
    return batched

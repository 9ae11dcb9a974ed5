"""The fully-connected ladder network (Rasmus et al. 2015), as in the CuriousAI reference implementation.

Encoder (shared by the clean and the corrupted path; the "fc" column, `columns/fc.py`):
    z(l) = BN(W(l) h(l-1)) [+ N(0, noise_std^2) in the corrupted path],  h(l) = ReLU(z(l) + beta(l)),
    top: logits = gamma * (z(L) + beta(L)), y = softmax(logits); the corrupted path also adds noise to the input.
    Labeled and unlabeled examples are normalised with their own batch statistics.
Decoder, from the top down, on the unlabeled examples only:
    u(L) = BN(y_tilde), u(l) = BN(V(l) z_hat(l+1)), z_hat(l) = g(z_tilde(l), u(l)) (the vanilla combinator below).
Cost:
    cross-entropy of the corrupted output on the labeled examples
    + sum_l lambda_l * C_d(l), C_d(l) = mean over examples of ||BN_clean(z_hat(l)) - z(l)||^2 / width(l)
    where BN_clean normalises with the clean unlabeled batch's mean and sqrt(var + eps) (CuriousAI's `zestbn='bugfix'`)
    and layer 0 (the input) is not normalised. Per-example squared error summed over units then divided by the width
    is the mean over all elements, which is what `F.mse_loss` computes.
Gamma-model (`gamma_only`): the same encoders, but only the top decoder layer and its denoising cost.

`LadderBase` holds the two paths and the costs for any encoder column whose layers expose `linear`/`activate`
(statistics per unit for a vector layer, per channel for a map); `Ladder` is the fc one, `conv_ladder.py` the
convolutional Gamma-model on the same machinery.

Gradient flow, as in the CuriousAI code (Theano, no `disconnected_grad`): the clean z(l) and the clean batch
mean/std used in BN_clean are ordinary graph nodes, so the denoising cost also back-propagates through the clean
path. The clean path of the labeled examples enters no cost there (it only feeds the test-time BN averages and a
monitoring cost), so it is not computed here: the running averages for test time are taken from the clean
*unlabeled* half, a uniform sample of the training pool, which is more representative than the 100 labeled images.

Speed: one pass of three row groups [corrupted labeled | corrupted unlabeled | clean unlabeled] through each W, so
each layer is one GEMM, each group normalised with its own statistics; the normalisation (with the noise) and the
combinator are one autograd node each (ladder_ops.py). `batched_ladder.py` trains K seeds of this network as one.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, List, Optional, Sequence, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F

from ._api import ColumnDecl, register_model, seeded_generator
from .column_api import Column, Shape
from .columns.fc import BN_EPS, FCColumn, FCColumnConfig, gaussian_init
from .ladder_ops import combinator, normalise_rows


@dataclass(frozen=True)
class LadderConfig:
    widths: Tuple[int, ...]                 # input width first, classes last
    noise_std: float                        # of the corrupted path's Gaussian noise
    denoising_weights: Tuple[float, ...]    # lambda_0 (input) .. lambda_L, one per entry of widths
    gamma_only: bool                        # the Gamma-model: top-layer denoising cost only, no lower decoder layers

    def __post_init__(self) -> None:
        object.__setattr__(self, "widths", tuple(int(w) for w in self.widths))
        object.__setattr__(self, "noise_std", float(self.noise_std))
        object.__setattr__(self, "denoising_weights", tuple(float(v) for v in self.denoising_weights))
        object.__setattr__(self, "gamma_only", bool(self.gamma_only))

    @property
    def column(self) -> FCColumnConfig:
        return FCColumnConfig(self.widths)

    @property
    def columns(self) -> Tuple[ColumnDecl, ...]:
        return (ColumnDecl("encoder", "fc", self.column),)


class Combinator(nn.Module):
    """Vanilla combinator, per unit: z_hat = (z_tilde - mu(u)) * v(u) + mu(u) with
    mu = a1 sigmoid(a2 u + a3) + a4 u + a5, v = a6 sigmoid(a7 u + a8) + a9 u + a10; a2 = a7 = 1, the rest 0 at start."""

    def __init__(self, width: int):
        super().__init__()
        a = torch.zeros(10, width)
        a[1] = 1.0  # a2
        a[6] = 1.0  # a7
        self.a = nn.Parameter(a)  # (10, width): rows a1..a10

    def forward(self, z_tilde: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
        """z_tilde, u (B, width) -> z_hat (B, width), as one autograd node (ladder_ops.py)."""
        return combinator(z_tilde, u, self.a)


class DecoderLayer(nn.Module):
    """u = BN(V z_hat(l+1)) (or the given top-level signal), z_hat(l) = g(z_tilde(l), u)."""

    def __init__(self, width: int, width_above: Optional[int], eps: float, generator: Optional[torch.Generator]):
        super().__init__()
        self.eps = eps
        if width_above is None:
            self.register_parameter("V", None)
        else:
            self.V = nn.Parameter(gaussian_init(width, width_above, generator))  # (width, width_above)
        self.g = Combinator(width)

    def forward(self, z_tilde: torch.Tensor, from_above: torch.Tensor) -> torch.Tensor:
        u = from_above if self.V is None else F.linear(from_above, self.V)  # (B, width)
        u = normalise_rows(u, 1, self.eps)[0]
        return self.g(z_tilde, u)


def _split_normalise(z: torch.Tensor, sizes: Sequence[int], eps: float, std: float = 0.0, noisy: int = 0,
                     generator: Optional[torch.Generator] = None):
    """z (sum(sizes), C, *positions) -> (normalised z, means (G, C), inverse stds (G, C), biased vars (G, C)),
    each row group normalised with its own batch statistics, per channel (over its examples and positions); the rows
    of the first `noisy` groups then get noise N(0, std^2), drawn from `generator` as one (their rows, C, ...) draw."""
    if all(s == sizes[0] for s in sizes):  # one fused node (ladder_ops.py), for vectors and feature maps
        return normalise_rows(z, len(sizes), eps, std, noisy, generator)
    out, mean, inv, var = _split_statistics(z, sizes, eps)
    rows = sum(sizes[:noisy])
    if std > 0 and rows > 0:
        out[:rows].add_(torch.randn(out[:rows].shape, generator=generator, device=z.device, dtype=z.dtype).mul_(std))
    return out, mean, inv, var


def _split_statistics(z: torch.Tensor, sizes: Sequence[int], eps: float):
    """`_split_normalise` without noise, op by op: for groups of unequal sizes."""
    parts, means, invs, vars_ = [], [], [], []
    dims = (0, *range(2, z.dim()))
    for zp in torch.split(z, list(sizes)):
        var, mean = torch.var_mean(zp, dim=dims, correction=0, keepdim=True)  # (1, C, *1)
        inv = torch.rsqrt(var + eps)
        parts.append((zp - mean) * inv)
        means.append(mean.flatten()), invs.append(inv.flatten()), vars_.append(var.flatten())
    return torch.cat(parts), torch.stack(means), torch.stack(invs), torch.stack(vars_)


class LadderBase(nn.Module):
    """A ladder network around any encoder column whose layers have `linear` (W h), `activate` (shift, nonlinearity,
    laterals), `eps` and `update_running` (the fc and conv columns' layers): the clean and corrupted paths, the
    decoder's top-down pass and the costs. A subclass sets `encoder` (the column), `decoder` (a ModuleDict from the
    layer index to its `DecoderLayer`, contiguous from the top down) and `config` (with `noise_std` and
    `denoising_weights`, one per layer, input first)."""

    encoder: Column
    decoder: nn.ModuleDict

    @property
    def output_column(self) -> Column:
        """The clean encoder: what a run exports as its reusable source column."""
        return self.encoder

    @property
    def layer_shapes(self) -> Tuple[Shape, ...]:
        return self.encoder.layer_shapes

    # ---- the clean path (test time, and the reusable column) ---------------------------------------------------
    def forward_clean(self, x: torch.Tensor) -> torch.Tensor:
        """x (B, *layer_shapes[0]) -> logits (B, classes); noise-free; eval mode uses the running BN averages."""
        return self.encoder(x)

    forward = forward_clean

    def encoder_activations(self, x: torch.Tensor) -> List[torch.Tensor]:
        """x (B, *layer_shapes[0]) -> [h_1, ..., logits] of the clean encoder (`Column.activations`)."""
        return self.encoder.activations(x)

    def forward_corrupted(self, x: torch.Tensor, generator: Optional[torch.Generator] = None) -> torch.Tensor:
        """x (B, *layer_shapes[0]) -> logits of the corrupted encoder (batch statistics, noise everywhere); no state
        changes."""
        std = self.config.noise_std
        h = x + std * torch.randn(x.shape, generator=generator, device=x.device, dtype=x.dtype)
        for layer in self.encoder.layers:
            z = _split_normalise(layer.linear(h), (h.shape[0],), layer.eps, std, 1, generator)[0]
            h = layer.activate(z)
        return h

    # ---- training costs -------------------------------------------------------------------------------------------
    def costs(self, x_labeled: torch.Tensor, y_labeled: torch.Tensor, x_unlabeled: torch.Tensor,
              generator: Optional[torch.Generator] = None) -> Dict[str, torch.Tensor]:
        """x_labeled (Nl, *layer_shapes[0]), y_labeled (Nl,) int64, x_unlabeled (Nu, *layer_shapes[0]) ->
        {"total": (), "supervised": (), "denoising": (L+1,) unweighted C_d per layer, 0 where a layer has no cost}.
        In training mode also updates the encoder's running BN averages from the clean unlabeled batch."""
        cfg, enc_layers = self.config, self.encoder.layers
        nl, nu = x_labeled.shape[0], x_unlabeled.shape[0]
        nc = nl + nu                       # rows of the corrupted path
        sizes = (nl, nu, nu)               # [corrupted labeled | corrupted unlabeled | clean unlabeled]
        std, dev, dt = cfg.noise_std, x_unlabeled.device, x_unlabeled.dtype

        def noise(n: int, shape: Sequence[int]) -> torch.Tensor:
            return torch.randn((n, *shape), generator=generator, device=dev, dtype=dt).mul_(std)

        h = torch.cat([x_labeled, x_unlabeled, x_unlabeled])            # (nc + nu, *layer_shapes[0])
        if std > 0:
            h[:nc].add_(noise(nc, h.shape[1:]))
        z_corr = [h[nl:nc]]        # z_tilde(l) of the unlabeled examples, l = 0..L
        z_clean = [x_unlabeled]    # z(l), the denoising targets
        clean_mean: List[Optional[torch.Tensor]] = [None]
        clean_inv: List[Optional[torch.Tensor]] = [None]
        for layer in enc_layers:
            # z (nc + nu, *layer_shapes[l]), the corrupted rows with their noise; mean, inv, var (3, C)
            z, mean, inv, var = _split_normalise(layer.linear(h), sizes, layer.eps, std, 2, generator)
            if self.training:
                positions = z[0].numel() // z.shape[1]                   # 1 for a vector, H * W for a map
                layer.update_running(mean[2], var[2], nu * positions)
            _, corrupted_unlabeled, clean = z.split(sizes)              # one backward node for both (SplitBackward)
            z_corr.append(corrupted_unlabeled)
            z_clean.append(clean)
            clean_mean.append(mean[2])
            clean_inv.append(inv[2])
            h = layer.activate(z)                                        # (nc + nu, *layer_shapes[l])
        logits = h[:nc]                                                  # corrupted logits (nc, classes)

        supervised = F.cross_entropy(logits[:nl], y_labeled)
        top = len(enc_layers)
        denoising = torch.zeros(top + 1, device=dev, dtype=dt)
        total = supervised
        z_hat = torch.softmax(logits[nl:], dim=1)                        # y_tilde of the unlabeled (nu, classes)
        for l in range(top, -1, -1):
            key = str(l)
            if key not in self.decoder:
                break
            z_hat = self.decoder[key](z_corr[l], z_hat)                  # (nu, *layer_shapes[l])
            if l == 0:
                z_hat_bn = z_hat
            else:  # per channel: (C,) -> (C, 1, 1) for a map
                per_channel = (-1, *[1] * (z_hat.dim() - 2))
                z_hat_bn = (z_hat - clean_mean[l].view(per_channel)) * clean_inv[l].view(per_channel)
            cost = F.mse_loss(z_hat_bn, z_clean[l])
            denoising[l] = cost.detach()
            total = total + cfg.denoising_weights[l] * cost
        return {"total": total, "supervised": supervised, "denoising": denoising}


class Ladder(LadderBase):
    """The fc encoder (clean and corrupted paths) and its decoder; `costs` gives the training costs."""

    def __init__(self, config: LadderConfig, generator: Optional[torch.Generator] = None):
        super().__init__()
        self.config = config
        w = config.widths
        self.encoder = FCColumn(config.column, generator)
        top = len(w) - 1
        # decoder[l] reconstructs z(l); with gamma_only only the top one exists (ModuleDict keeps the layer index).
        levels = [top] if config.gamma_only else list(range(top + 1))
        self.decoder = nn.ModuleDict({
            str(l): DecoderLayer(w[l], None if l == top else w[l + 1], BN_EPS, generator) for l in levels})


@register_model("ladder", objective="ladder", config=LadderConfig)
def build_ladder(*, widths: Sequence[int], noise_std: float, denoising_weights: Sequence[float], gamma_only: bool,
                 seed: Optional[int] = None) -> Ladder:
    config = LadderConfig(tuple(widths), noise_std, tuple(denoising_weights), gamma_only)
    return Ladder(config, seeded_generator(seed))

"""Lateral adapters of progressive networks, chosen by their kind and by the shapes they join.

A lateral carries h, the output of layer l of an earlier column, into layer l + 1 of a later one, where it is added
at its `placement`: "pre_norm" to that layer's pre-activation W h, before its batch norm (which rescales the sum);
"post_norm" after the normalisation and shift, BN(W h) + beta + adapter(h), as in Rusu et al. (the adapter computes
the same either way; the column adds it, `Column.forward_layer`). Kinds (the `adapter` of a lateral in the spec):
    scalar  U (alpha h)                 the paper: a learnable scalar alpha times a learned projection
    rusu    U ReLU(V (alpha h))         Rusu et al.: V reduces h to `reduced` units first
    none    U h                         the paper's Figure 7 ablation: no scalar
with alpha initialised to `alpha_init` and U, V drawn N(0, 1) / sqrt(fan_in), no biases (a bias before batch norm
cancels out). Products with alpha are written `tensor * alpha`: torch 1.13's CPU `alpha * tensor` (0-dim first) is
30x slower on large tensors.

Shapes (one example's, as `Column.layer_shapes` gives them):
    (n,) -> (m,)          the maps above, linear in h
    (C, H, W) -> (m,)     the same on the flattened map (C*H*W,)
    (C, H, W) -> (C', H', W')  the same per position (U, V as 1x1 convolutions, C -> C' channels), after the map is
                          brought to the target's H' x W' positions (`match_positions`: average pooling by a whole
                          factor, then a centred crop or zero padding)
    (n,) -> (C, H, W)     not built
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Dict, Optional, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F

from ..errors import KernelInputError
from .column_api import Shape
from .columns.fc import gaussian_init


PLACEMENTS = ("pre_norm", "post_norm")  # where a lateral's output enters its target layer


@dataclass(frozen=True)
class AdapterSpec:
    kind: str                     # "scalar" | "rusu" | "none"
    alpha_init: Optional[float]   # scalar, rusu
    reduced: Optional[int]        # rusu
    placement: str = "pre_norm"   # one of PLACEMENTS

    def __post_init__(self) -> None:
        if self.placement not in PLACEMENTS:
            raise KernelInputError(f"a lateral's placement must be one of {', '.join(PLACEMENTS)}, "
                                   f"got {self.placement!r}")


def match_positions(h: torch.Tensor, size: Tuple[int, int]) -> torch.Tensor:
    """h (B, C, H, W) -> (B, C, H', W'), the positions of a target layer of size (H', W'): average pooling by the whole
    factor k = min(H // H', W // W') when k >= 2 (the target layer pools its input), then a centred crop or zero
    padding to (H', W') (its "valid" convolution trims the border, a "full" one widens it, both symmetrically). So a
    position stays over the same part of the image: Conv-Small's laterals 32 -> 14 (pool 2, crop 1 a side), 14 -> 16
    (pad 1 a side), 16 -> 6 (pool 2, crop 1), 6 -> 6 (as is). Linear in h, so "scalar" stays U (alpha h)."""
    k = min(h.shape[2] // size[0], h.shape[3] // size[1])
    if k >= 2:
        h = F.avg_pool2d(h, k)                                   # (B, C, H // k, W // k)
    dh, dw = size[0] - h.shape[2], size[1] - h.shape[3]          # > 0: pad, < 0: crop (F.pad crops on negatives)
    if dh or dw:
        h = F.pad(h, (dw // 2, dw - dw // 2, dh // 2, dh - dh // 2))
    return h


def _read(h: torch.Tensor, flatten: bool, positions: Optional[Tuple[int, int]]) -> torch.Tensor:
    """What an adapter's maps act on: h (B, n) as is, a map flattened (B, C*H*W), or a map at the target's
    positions (B, C, H', W')."""
    if flatten:
        return h.flatten(1)                                      # (B, C, H, W) -> (B, C*H*W)
    if positions is not None:
        return match_positions(h, positions)                     # (B, C, H', W')
    return h


def _project(h: torch.Tensor, U: torch.Tensor) -> torch.Tensor:
    """U (n_out, n_in) applied to h: (B, n_in) -> (B, n_out), or per position as a 1x1 convolution
    (B, n_in, H, W) -> (B, n_out, H, W)."""
    if h.dim() == 4:
        return F.conv2d(h, U[:, :, None, None])
    return F.linear(h, U)


class ScalarAdapter(nn.Module):
    """The paper's adapter: h (B, n_in) -> U (alpha h) (B, n_out); on maps (B, n_in, H, W) -> (B, n_out, H', W')."""

    def __init__(self, n_in: int, n_out: int, alpha_init: float, generator: Optional[torch.Generator],
                 flatten: bool = False, positions: Optional[Tuple[int, int]] = None):
        super().__init__()
        self.flatten, self.positions = flatten, positions
        # alpha U is one matrix: foldable into the target's W when h is its own input (vectors only)
        self.linear = not flatten and positions is None
        self.alpha = nn.Parameter(torch.tensor(float(alpha_init)))
        self.U = nn.Parameter(gaussian_init(n_out, n_in, generator))  # (n_out, n_in)

    def effective_weight(self) -> torch.Tensor:
        return self.U * self.alpha                               # (n_out, n_in)

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        h = _read(h, self.flatten, self.positions)
        return _project(h, self.U) * self.alpha                  # = U (alpha h), scaling the smaller tensor


class RusuAdapter(nn.Module):
    """Rusu et al.'s adapter: h (B, n_in) -> U ReLU(V (alpha h)) (B, n_out), V reducing to `reduced` units."""

    linear = False

    def __init__(self, n_in: int, n_out: int, alpha_init: float, reduced: int, generator: Optional[torch.Generator],
                 flatten: bool = False, positions: Optional[Tuple[int, int]] = None):
        super().__init__()
        self.flatten, self.positions = flatten, positions
        self.alpha = nn.Parameter(torch.tensor(float(alpha_init)))
        self.V = nn.Parameter(gaussian_init(reduced, n_in, generator))   # (reduced, n_in)
        self.U = nn.Parameter(gaussian_init(n_out, reduced, generator))  # (n_out, reduced)

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        h = _read(h, self.flatten, self.positions)
        r = F.relu(_project(h, self.V) * self.alpha)             # (B, reduced) or (B, reduced, H', W')
        return _project(r, self.U)                               # (B, n_out) or (B, n_out, H', W')


class PlainAdapter(nn.Module):
    """The Figure 7 ablation: h (B, n_in) -> U h (B, n_out), no scalar."""

    def __init__(self, n_in: int, n_out: int, generator: Optional[torch.Generator], flatten: bool = False,
                 positions: Optional[Tuple[int, int]] = None):
        super().__init__()
        self.flatten, self.positions = flatten, positions
        self.linear = not flatten and positions is None
        self.U = nn.Parameter(gaussian_init(n_out, n_in, generator))  # (n_out, n_in)

    def effective_weight(self) -> torch.Tensor:
        return self.U

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        return _project(_read(h, self.flatten, self.positions), self.U)


# kind -> (n_in, n_out, spec, generator, flatten, positions) -> module; n_in, n_out are units of vectors or channels
# of maps
ADAPTERS: Dict[str, Callable[..., nn.Module]] = {
    "scalar": lambda n_in, n_out, spec, g, flatten, positions: ScalarAdapter(n_in, n_out, spec.alpha_init, g, flatten,
                                                                             positions),
    "rusu": lambda n_in, n_out, spec, g, flatten, positions: RusuAdapter(n_in, n_out, spec.alpha_init, spec.reduced, g,
                                                                         flatten, positions),
    "none": lambda n_in, n_out, spec, g, flatten, positions: PlainAdapter(n_in, n_out, g, flatten, positions),
}


def _describe(shape: Shape) -> str:
    return {1: "(n,) vector", 3: "(C, H, W) map"}.get(len(shape), f"{len(shape)}-d tensor") + f" {tuple(shape)}"


def build_adapter(spec: AdapterSpec, in_shape: Shape, out_shape: Shape,
                  generator: Optional[torch.Generator]) -> nn.Module:
    """The adapter of kind `spec.kind` from a layer of shape `in_shape` to one of shape `out_shape` (per example)."""
    make = ADAPTERS.get(spec.kind)
    if make is None:
        raise KernelInputError(f"unknown adapter kind {spec.kind!r}; known: {', '.join(ADAPTERS)}")
    if len(out_shape) == 1 and len(in_shape) in (1, 3):
        return make(math.prod(in_shape), out_shape[0], spec, generator, len(in_shape) == 3, None)
    if len(out_shape) == 3 and len(in_shape) == 3:  # channels to channels, at the target's positions
        return make(in_shape[0], out_shape[0], spec, generator, False, (out_shape[1], out_shape[2]))
    raise KernelInputError(f"no adapter joins a {_describe(in_shape)} to a {_describe(out_shape)} yet; a lateral "
                           f"into a map layer must come from a map layer")

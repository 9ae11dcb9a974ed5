"""The convolutional column ("conv"): Conv-Small, the encoder of Rasmus et al.'s (2015) convolutional Gamma-model, as
the CuriousAI reference commands give it (shared/design.md), for 28x28 grayscale digits.

Six layers; each has one weight and one normalisation, so a pooling step belongs to the layer above it (the layer
pools its input first). Shapes for MNIST with the default channels (32, 64, 64, 128, 10, 10):

    layer  its input (B, ...)    pool first             weight                    output (layer_shapes[l])
    0      -                     -                      -                         (784,)         the flat784 view
    1      (784,) = (1, 28, 28)  -                      5x5 conv "full" (pad 4)   (32, 32, 32)
    2      (32, 32, 32)          2x2 max -> 16x16       3x3 conv "valid"          (64, 14, 14)
    3      (64, 14, 14)          -                      3x3 conv "full" (pad 2)   (64, 16, 16)
    4      (64, 16, 16)          2x2 max -> 8x8         3x3 conv "valid"          (128, 6, 6)
    5      (128, 6, 6)           -                      1x1 conv                  (10, 6, 6)
    6      (10, 6, 6)            global mean -> (10,)   fully connected           (10,)          the logits

Every layer, as the fc column's (columns/layer.py):
    z = BN(W h)                 per channel (over examples and positions), without affine parameters
    a = z + beta                beta per channel
    h = ReLU(a)                 layers 1-5
    logits = gamma * a          layer 6 (softmax is applied by the loss / the caller)
Batch statistics while training, running averages (unbiased variance, momentum 0.1) at test time; `batch_norm=False`
drops the normalisation and its statistics (z = W h), as in the fc column. Weights are drawn N(0, 1) / sqrt(fan_in),
fan_in = input channels x kernel area, no biases (a bias before batch norm cancels out; beta is the shift).

Input: the column reads the same view as the fc columns, "flat784" (N, 784), and its first layer reshapes each row to
the (1, 28, 28) image it is (a free view of a contiguous row). So conv and fc columns read one tensor: they mix in one
progressive network, and an MNIST-M target reads the same grayscale 28x28 digits as an MNIST source, with no second
view or cache entry. The geometry is fixed by the layout; only the channels and batch norm vary.

Laterals (`forward_layer`): "pre_norm" inputs are added to W h, "post_norm" inputs to z + beta, each shaped like the
layer's output (C, H, W) (or (n,) for layer 6). A lateral's adapter matches those shapes (adapters.py).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, List, Optional, Sequence, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F

from ...errors import KernelInputError
from .._api import register_column, seeded_generator
from ..column_api import Shape
from .layer import LayerStack, NormalisedLayer, gaussian_init
from .pooling import max_pool_2x2

INPUT_SHAPE = (1, 28, 28)  # one grayscale digit, as the flat784 view holds it


@dataclass(frozen=True)
class LayerPlan:
    """One layer of the layout: what it does to its input, then its weight."""
    pool: str       # first, on the input: "" (none) | "max" (2x2, stride 2) | "mean" (global mean over positions)
    kernel: int     # the convolution's size; 0: a fully connected layer (on the pooled vector)
    padding: int    # zero padding each side: kernel - 1 ("full": the map grows by kernel - 1) or 0 ("valid")


# Conv-Small (Rasmus et al. 2015; CuriousAI `convf:32:5, maxpool:2, convv:64:3, convf:64:3, maxpool:2, convv:128:3,
# convv:10:1, globalmeanpool, fc`)
LAYOUT: Tuple[LayerPlan, ...] = (
    LayerPlan("", 5, 4),
    LayerPlan("max", 3, 0),
    LayerPlan("", 3, 2),
    LayerPlan("max", 3, 0),
    LayerPlan("", 1, 0),
    LayerPlan("mean", 0, 0),
)


@dataclass(frozen=True)
class ConvColumnConfig:
    channels: Tuple[int, ...]  # output channels of the six layers, classes last; Conv-Small: (32, 64, 64, 128, 10, 10)
    batch_norm: bool = True    # False: z = W h, no normalisation (a progressive target column of the author's)

    def __post_init__(self) -> None:
        object.__setattr__(self, "channels", tuple(int(c) for c in self.channels))
        if len(self.channels) != len(LAYOUT) or min(self.channels) < 1:
            raise KernelInputError(f"a conv column's channels are {len(LAYOUT)} positive numbers, one per layer of "
                                   f"Conv-Small, classes last (e.g. [32, 64, 64, 128, 10, 10]); got "
                                   f"{list(self.channels)}")
        if not isinstance(self.batch_norm, bool):
            raise KernelInputError(f"a conv column's batch_norm must be true or false, got {self.batch_norm!r}")

    @property
    def layer_shapes(self) -> Tuple[Shape, ...]:
        """(784,) first, then each layer's output: (C, H, W) maps, (classes,) last (the table in the docstring)."""
        shapes: List[Shape] = [(INPUT_SHAPE[0] * INPUT_SHAPE[1] * INPUT_SHAPE[2],)]
        size = INPUT_SHAPE[1]
        for plan, out in zip(LAYOUT, self.channels):
            if plan.kernel == 0:
                shapes.append((out,))
                continue
            if plan.pool == "max":
                size //= 2
            size = size + 2 * plan.padding - plan.kernel + 1
            shapes.append((out, size, size))
        return tuple(shapes)


class ConvLayer(NormalisedLayer):
    """h (B, *in_shape) -> [pool] -> z = BN(W * h) per channel (z = W * h without batch norm) -> ReLU(z + beta),
    or logits = gamma * (z + beta) on the top layer (layer.py, as the fc column's layers), so the ladder's training
    paths (ladder.py) drive either kind."""

    def __init__(self, plan: LayerPlan, in_shape: Shape, width: int, top: bool,
                 generator: Optional[torch.Generator] = None, batch_norm: bool = True):
        c_in, k = in_shape[0], max(plan.kernel, 1)
        # (width, c_in, k, k) for a convolution, (width, c_in) for the fully connected top
        w = gaussian_init(width, c_in * k * k, generator)
        super().__init__(w.view(width, c_in, k, k) if plan.kernel else w, top, batch_norm)
        self.plan, self.in_shape = plan, tuple(in_shape)

    def linear(self, h: torch.Tensor, weight_deltas: Sequence[torch.Tensor] = ()) -> torch.Tensor:
        """W h: h (B, *in_shape) (layer 1: (B, 784), the flattened image) -> (B, width, H', W') or (B, width)."""
        if weight_deltas:
            raise KernelInputError("a conv column takes no weight_deltas (it is not foldable); pass the lateral's "
                                   "output as `extra`")
        h = h.reshape(h.shape[0], *self.in_shape)         # layer 1: (B, 784) -> (B, 1, 28, 28); a no-op above
        if self.plan.pool == "max":
            h = max_pool_2x2(h)                            # (B, C, H/2, W/2)
        elif self.plan.pool == "mean":
            h = h.mean(dim=(2, 3))                         # (B, C)
        if self.plan.kernel == 0:
            return F.linear(h, self.weight)                # (B, width)
        return F.conv2d(h, self.weight, padding=self.plan.padding)  # (B, width, H', W')


class ConvColumn(LayerStack):
    """x (B, 784) -> (B, 32, 32, 32) -> ... -> logits (B, classes); layer_shapes in the module docstring."""

    input_view = "flat784"  # 28x28 grayscale, flattened: the fc columns' view (reshaped by layer 1)
    foldable = False        # a lateral's map is not a term of a convolution's weight
    cpu_pool = "torch"      # convolutions and pooling: oneDNN and ATen on torch's threads (cpu_threads.py)

    def __init__(self, config: ConvColumnConfig, generator: Optional[torch.Generator] = None):
        super().__init__()
        self.config = config
        shapes = config.layer_shapes
        ins = [INPUT_SHAPE, *shapes[1:-1]]
        self.layers = nn.ModuleList(
            ConvLayer(plan, ins[i], config.channels[i], top=(i == len(LAYOUT) - 1), generator=generator,
                      batch_norm=config.batch_norm)
            for i, plan in enumerate(LAYOUT))
        self.frozen = False

    @classmethod
    def from_state(cls, state: Dict[str, torch.Tensor]) -> "ConvColumn":
        """The column of an exported state: channels from the weights (layers.{i}.weight is (channels[i],
        in_channels, k, k), the top's (classes, channels[4])), batch_norm from the running statistics, present or
        not; kernel sizes and input channels checked against the layout."""
        keys = [f"layers.{i}.weight" for i in range(len(LAYOUT))]
        missing = [k for k in keys if k not in state]
        if missing or f"layers.{len(LAYOUT)}.weight" in state:
            raise KernelInputError(f"a conv column state has the weights {keys} (Conv-Small's {len(LAYOUT)} layers), "
                                   f"this one has keys {sorted(state)[:8]}")
        expected_in = INPUT_SHAPE[0]
        for i, (key, plan) in enumerate(zip(keys, LAYOUT)):
            shape = tuple(state[key].shape)
            kernel = (plan.kernel, plan.kernel) if plan.kernel else ()
            if len(shape) < 2 or shape[1] != expected_in or shape[2:] != kernel:
                want = (f"(channels, {expected_in}" + "".join(f", {k}" for k in kernel) + ")")
                raise KernelInputError(f"conv column state {key} is {shape}, but layer {i + 1} of Conv-Small has a "
                                       f"weight {want}; this file is not a conv column's")
            expected_in = shape[0]
        channels = tuple(int(state[k].shape[0]) for k in keys)
        batch_norm = "layers.0.running_mean" in state
        column = ConvColumn(ConvColumnConfig(channels, batch_norm))
        column.load_state_dict(state)
        return column.to(state[keys[0]].device)


@register_column("conv", module=ConvColumn, config=ConvColumnConfig)
def build_conv_column(*, channels: Sequence[int], batch_norm: bool = True, seed: Optional[int] = None) -> ConvColumn:
    return ConvColumn(ConvColumnConfig(tuple(channels), batch_norm), seeded_generator(seed))

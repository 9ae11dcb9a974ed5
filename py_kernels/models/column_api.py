"""What every column is: the protocol a progressive network, the trainers and the run exports rely on.

A column is a stack of layers from an input (layer 0) to class logits (layer L). Its layers' output shapes are
`layer_shapes` (per example: (1000,) for a vector, (C, H, W) for a feature map; `layer_shapes[0]` is the input),
known from its config alone, before any tensor exists. An architecture (fully connected, convolutional, ...) is one
file under `columns/` that subclasses `Column`, holds its config dataclass and registers a builder
(`_api.register_column`).
"""
from __future__ import annotations

from abc import ABCMeta, abstractmethod
from typing import ClassVar, Dict, List, Sequence, Tuple

import torch
import torch.nn as nn

Shape = Tuple[int, ...]  # one example's shape: (n,) a vector, (C, H, W) a feature map


class Column(nn.Module, metaclass=ABCMeta):
    """A column: `forward(x)` gives logits, `activations(x)` every layer's output, `forward_layer` one layer with
    lateral inputs added (what a progressive network steps through)."""

    architecture: ClassVar[str] = ""   # its registry name; set by `register_column`
    input_view: ClassVar[str] = ""     # the data view its input comes in (py_kernels/data/views.py)
    # forward_layer takes `weight_deltas` shaped like the layer's weight: a linear adapter that reads the layer's
    # own input can then be folded into it, W h + A h = (W + A) h, saving one matrix product.
    foldable: ClassVar[bool] = False
    # The CPU thread pool its step's heavy work runs in (cpu_threads.py): "blas" for matrix products (OpenBLAS's own
    # pool), "torch" for convolutions and pooling (oneDNN and ATen, torch's OpenMP pool).
    cpu_pool: ClassVar[str] = "blas"

    config: object                     # the column's frozen config dataclass, with a `layer_shapes` property
    frozen: bool

    @property
    def layer_shapes(self) -> Tuple[Shape, ...]:
        return self.config.layer_shapes

    @property
    def reads(self) -> str:
        """The data view this column's input comes in: its config's `input_view` where the config chooses one (an
        "alexnet" column on cached features), else its class's `input_view`."""
        return getattr(self.config, "input_view", None) or type(self).input_view

    @property
    def depth(self) -> int:
        """L: the number of layers above the input."""
        return len(self.layer_shapes) - 1

    @abstractmethod
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x (B, *layer_shapes[0]) -> logits (B, *layer_shapes[-1])."""

    @abstractmethod
    def activations(self, x: torch.Tensor) -> List[torch.Tensor]:
        """x (B, *layer_shapes[0]) -> [h_1 (B, *layer_shapes[1]), ..., h_L = logits]: what each layer passes up."""

    @abstractmethod
    def forward_layer(self, l: int, h: torch.Tensor, extra: Sequence[torch.Tensor] = (),
                      weight_deltas: Sequence[torch.Tensor] = (), post: Sequence[torch.Tensor] = ()) -> torch.Tensor:
        """Layer l (1..L): h_{l-1} (B, *layer_shapes[l-1]) -> h_l (B, *layer_shapes[l]), with each of `extra`
        (lateral inputs shaped like the layer's pre-activation) added, in order, before the normalisation ("pre_norm"
        laterals), and each of `post` after the normalisation and shift, before the nonlinearity ("post_norm")."""

    @classmethod
    @abstractmethod
    def from_state(cls, state: Dict[str, torch.Tensor]) -> "Column":
        """The column that `export_state` wrote, its config read from the tensors, on the tensors' device.
        Raises KernelInputError when `state` is not this architecture's."""

    def export_state(self) -> Dict[str, torch.Tensor]:
        """Weights and normalisation statistics as detached copies: a reusable source column file."""
        return {k: v.detach().clone() for k, v in self.state_dict().items()}

    def freeze(self) -> "Column":
        """A frozen progressive column: no gradients, and eval mode (running statistics) that a parent's `.train()`
        does not undo."""
        self.frozen = True
        self.requires_grad_(False)
        return self.train(False)

    def train(self, mode: bool = True) -> "Column":
        return super().train(mode and not getattr(self, "frozen", False))

"""The input of a network whose columns read different data views: the same N examples in each view, row-aligned.

A progressive network whose columns all read one view (every fully-connected network) takes x as one tensor, as it
always has. One whose columns read different views (a frozen FC ladder on `flat784` beside an AlexNet column on
`alexnet-features`) takes a `ViewInputs`: {view: (N, *that view's shape)}, row i of every tensor being example i.
Indexing rows (`x[idx]`, `x[a:b]`) indexes every view alike, and `len(x)` is N, so the trainers and the evaluator,
which only ever take rows of x and count them, treat both kinds the same.
"""
from __future__ import annotations

from typing import Dict, Mapping, Tuple, Union

import torch

from ..errors import KernelInputError


class ViewInputs:
    """{view: (N, *shape)} on one device, N the same for every view."""

    def __init__(self, tensors: Mapping[str, torch.Tensor]):
        if not tensors:
            raise KernelInputError("ViewInputs needs at least one view's tensor")
        rows = {view: int(t.shape[0]) for view, t in tensors.items()}
        devices = {str(t.device) for t in tensors.values()}
        if len(set(rows.values())) != 1:
            raise KernelInputError(f"the views of one input must hold the same examples, row for row; their row "
                                   f"counts differ: {rows} (load every view from the same dataset split)")
        if len(devices) != 1:
            raise KernelInputError(f"the views of one input must be on one device, got {sorted(devices)}")
        self.tensors: Dict[str, torch.Tensor] = dict(tensors)

    def of(self, view: str) -> torch.Tensor:
        """The (N, *shape) tensor of `view`."""
        try:
            return self.tensors[view]
        except KeyError:
            raise KernelInputError(f"this input holds the views {sorted(self.tensors)}, not {view!r}; load {view!r} "
                                   f"for the column that reads it") from None

    def __getitem__(self, rows: Union[slice, torch.Tensor]) -> "ViewInputs":
        return ViewInputs({view: t[rows] for view, t in self.tensors.items()})

    def __len__(self) -> int:
        return int(next(iter(self.tensors.values())).shape[0])

    @property
    def device(self) -> torch.device:
        return next(iter(self.tensors.values())).device

    def shapes(self) -> Dict[str, Tuple[int, ...]]:
        """{view: one example's shape}."""
        return {view: tuple(t.shape[1:]) for view, t in self.tensors.items()}


Input = Union[torch.Tensor, ViewInputs]  # what a network's forward takes: one view's tensor, or several views


def view_of(x: Input, view: str) -> torch.Tensor:
    """The tensor a column reading `view` takes from x: x itself when x is one tensor (every column reads it)."""
    return x.of(view) if isinstance(x, ViewInputs) else x

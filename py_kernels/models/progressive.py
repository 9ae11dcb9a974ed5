"""Progressive networks (Rusu et al. 2016) of registered columns, as used by the paper (its sections 2.2 and 4.2).

Each column reads its input view (`Column.reads`); the last column is the output. When every column reads the same
view (every fully-connected network) x is that view's tensor; when they differ (a frozen FC ladder on flat784 beside
an AlexNet column on its cached features) x is a `ViewInputs` holding each view, row-aligned (view_inputs.py), and
column k's h(0) is its view's tensor. Layer l of column k (l = 1..L), for the "fc" column:
    z = BN(W h(l-1) + sum of its "pre_norm" laterals' adapter(h_j(l-1)))       batch norm without affine
    a = z + beta + sum of its "post_norm" laterals' adapter(h_j(l-1))          (Rusu et al.'s placement)
    h(l) = ReLU(a),  top layer: logits = gamma * a
where h(0) = x, h(l) is the post-ReLU output of hidden layer l and h(L) the logits (any column: `Column.forward_layer`).
A column with `batch_norm: false` (the paper's author's setting, "init" columns only) skips BN: z = W h(l-1) + ...,
so both placements add to the same sum. A lateral joins layer l of an earlier column j to layer l+1 of a later
column k through an adapter chosen by its kind and the two layers' shapes (adapters.py).

Frozen columns come from a file (a column's `export_state`): their weights and batch-norm running statistics never
change (`Column.freeze`: no gradients, always in eval mode). An "init" column gets exactly the weights that its
architecture's builder gives for `seed` (the last column; earlier trainable "init" columns get derived seeds), so
with an "fc" last column and no laterals the network is exactly the supervised baseline MLP: same initial weights,
same outputs, same training trajectory. Adapters draw from their own generator. A trainable "file" column is the
paper's "pre-trained" approach (pretrained initialisation, then fine-tuned).

The spec arrives from TypeScript already validated (graph rules included: laterals from earlier to later trainable
columns, layers that exist and join, no frozen random column); `parse_spec` only turns it into frozen dataclasses.
Here are checked what needs the files: each column file exists, loads safely, holds float32 tensors of a column of
the declared architecture and config.

Speed: the forward pass computes only the columns the output depends on, and a linear "pre_norm" lateral that reads
the very tensor its target layer reads (x, for laterals from layer 0) is folded into the target's weight,
W x + alpha U x = (W + alpha U) x, so it costs no extra GEMM.

Perturbation (Average Perturbation Sensitivity, py_kernels/perturbation.py): `forward_perturbed` adds noise to the
output of one layer l of one column k (a site) and recomputes only the layers that output reaches (the column's
layers above l and every layer a lateral from an affected layer enters), taking every other layer's output from the
clean pass; `reaches_output(k, l)` says from the graph alone whether anything from the site reaches the logits.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, fields
from typing import Any, Dict, List, Optional, Sequence, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F

from .. import safe_load
from ..errors import KernelInputError
from ._api import column_config, column_from_state, get_column, register_model, seeded_generator
from .adapters import AdapterSpec, build_adapter
from .column_api import Column, Shape
from .view_inputs import Input, view_of

ADAPTER_SEED_OFFSET = 1_000_003  # adapters draw from seed + this, so they never shift a column's initialisation


# -- the spec ------------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class ColumnSpec:
    name: str
    architecture: str             # a registered column architecture ("fc")
    config: Any                   # its config dataclass (FCColumnConfig for "fc")
    weights_from: str             # "file" | "init"
    path: Optional[str]           # the column file when weights_from == "file"
    frozen: bool

    @property
    def layer_shapes(self) -> Tuple[Shape, ...]:
        return self.config.layer_shapes


@dataclass(frozen=True)
class LateralSpec:
    from_column: int
    from_layer: int               # 0 = the input x, 1..L-1 = hidden layers, L = logits
    to_column: int
    to_layer: int                 # from_layer + 1
    adapter: AdapterSpec


@dataclass(frozen=True)
class ProgressiveConfig:
    columns: Tuple[ColumnSpec, ...]   # the last one is the output
    laterals: Tuple[LateralSpec, ...]


_COLUMN_KEYS = ("name", "architecture", "weights", "frozen")  # the rest of a column's keys configure its architecture


def _column(obj: dict, where: str) -> ColumnSpec:
    options = {k: v for k, v in obj.items() if k not in _COLUMN_KEYS}
    weights = obj["weights"]
    batch_norm = obj["batch_norm"]  # every column states it; the architecture's config holds it
    if weights["from"] == "file" and batch_norm is not True:
        raise _fail(f"{where}.batch_norm", f"is {batch_norm!r}, but the column's weights come from the file "
                                           f"{weights.get('path')!r}, which was trained with batch norm and carries "
                                           f"its statistics; only a column with weights from init can go without "
                                           f"batch norm: set batch_norm true or weights {{from: init}}")
    return ColumnSpec(obj["name"], obj["architecture"], column_config(obj["architecture"], **options),
                      weights["from"], weights.get("path"), bool(obj["frozen"]))


def _lateral(obj: dict) -> LateralSpec:
    a = obj["adapter"]
    alpha, reduced = a.get("alpha_init"), a.get("reduced")
    adapter = AdapterSpec(a["kind"], None if alpha is None else float(alpha), None if reduced is None else int(reduced),
                          a["placement"])
    return LateralSpec(int(obj["from"]["column"]), int(obj["from"]["layer"]), int(obj["to"]["column"]),
                       int(obj["to"]["layer"]), adapter)


def parse_spec(spec: dict) -> ProgressiveConfig:
    """The spec as TypeScript sends it, {"columns": [{"name", "architecture", ...its config ("widths", "batch_norm"
    for "fc"), "weights": {"from": "init"} | {"from": "file", "path"}, "frozen"}, ...], "laterals": [{"from":
    {"column", "layer"}, "to": {...}, "adapter": {"kind", "alpha_init"?, "reduced"?, "placement": "pre_norm" |
    "post_norm"}}, ...]}, as frozen dataclasses; reads no file."""
    try:
        return ProgressiveConfig(tuple(_column(c, f"columns[{k}]") for k, c in enumerate(spec["columns"])),
                                 tuple(_lateral(lat) for lat in spec["laterals"]))
    except (KeyError, TypeError, AttributeError) as e:
        raise KernelInputError(f"progressive spec is not in the validated form TypeScript sends "
                               f"({type(e).__name__}: {e}); got {spec!r}") from None


def _fail(path: str, message: str) -> KernelInputError:
    return KernelInputError(f"progressive spec {path}: {message}")


def _load_column_state(path: str, where: str) -> Dict[str, torch.Tensor]:
    """A column file: a column's `export_state` dict (also accepted: an exported {"state": ...} model, with a
    ladder's `encoder.` part taken)."""
    if not os.path.isfile(path):
        raise _fail(f"{where}.weights.path", f"no such file {path!r}; export the source run's column first")
    try:
        state = safe_load.load(path, what="column file", hint="export the source run's column again")
    except KernelInputError as e:  # refused or unreadable: the message names the file and why
        raise _fail(f"{where}.weights.path", str(e)) from None
    if isinstance(state, dict) and isinstance(state.get("state"), dict):
        state = state["state"]
    if isinstance(state, dict) and any(isinstance(k, str) and k.startswith("encoder.") for k in state):
        state = {k[len("encoder."):]: v for k, v in state.items() if k.startswith("encoder.")}
    if not isinstance(state, dict) or not state:
        raise _fail(f"{where}.weights.path", f"{path!r} is not a column file (no tensors by name); give the "
                                             f"column.pt a run wrote (runs/NAME/seed-N/column.pt)")
    bad = sorted(k for k, v in state.items() if not isinstance(v, torch.Tensor) or v.dtype != torch.float32)
    if bad:
        raise _fail(f"{where}.weights.path", f"{path!r} holds non-float32 tensors {bad[:4]}; save float32 weights")
    # A frozen column of NaN or infinite weights makes every loss non-finite: the run would be called diverged and
    # told to lower its learning rate, when the file is what is wrong.
    non_finite = sorted(k for k, v in state.items() if not bool(torch.isfinite(v).all()))
    if non_finite:
        raise _fail(f"{where}.weights.path", f"{path!r} holds NaN or infinite values in {non_finite[:4]}; a column "
                                             f"of a diverged run cannot serve: give the column.pt of a finished one")
    return state


def _column_from_file(c: ColumnSpec, where: str) -> Column:
    state = _load_column_state(c.path, where)
    try:
        column = column_from_state(c.architecture, state)
    except (KernelInputError, RuntimeError) as e:  # RuntimeError: load_state_dict's missing or unexpected keys
        raise _fail(f"{where}.weights.path", f"{c.path!r} is not a column file of architecture "
                                             f"{c.architecture!r}: {e}") from None
    for f in fields(c.config):
        declared, held = getattr(c.config, f.name), getattr(column.config, f.name)
        if declared != held:
            show = (lambda v: list(v) if isinstance(v, tuple) else v)
            raise _fail(f"{where}.{f.name}", f"{'are' if isinstance(declared, tuple) else 'is'} {show(declared)} "
                                             f"but {c.path!r} holds a column of {f.name} {show(held)}; "
                                             f"make them agree")
    return column


# -- the network ---------------------------------------------------------------------------------------------------

class ProgressiveNetwork(nn.Module):
    """x (B, *input shape) -> logits of the last column (B, classes). Columns in `columns`, adapters in `laterals`
    (aligned with `config.laterals`)."""

    def __init__(self, config: ProgressiveConfig, columns: Sequence[Column], adapters: Sequence[nn.Module]):
        super().__init__()
        self.config = config
        self.columns = nn.ModuleList(columns)
        self.laterals = nn.ModuleList(adapters)
        # incoming[k][l-1]: indices of the laterals entering layer l of column k
        self.incoming: List[List[List[int]]] = [[[] for _ in range(c.depth)] for c in columns]
        for i, lat in enumerate(config.laterals):
            self.incoming[lat.to_column][lat.to_layer - 1].append(i)
        # the columns the output depends on (the last one and every column with a lateral path into it)
        needed = {len(columns) - 1}
        for lat in sorted(config.laterals, key=lambda s: -s.to_column):
            if lat.to_column in needed:
                needed.add(lat.from_column)
        self.needed: Tuple[int, ...] = tuple(sorted(needed))
        # outgoing[k][l]: indices of the laterals leaving layer l (0..L) of column k
        self.outgoing: List[List[List[int]]] = [[[] for _ in range(c.depth + 1)] for c in columns]
        for i, lat in enumerate(config.laterals):
            self.outgoing[lat.from_column][lat.from_layer].append(i)
        self._reaches = self._reachability()

    def _reachability(self) -> List[List[bool]]:
        """reaches[k][l]: is there a path in the graph from layer l (0..L) of column k to the output (the last
        column's top layer)? Edges: layer l -> layer l + 1 of the same column, and each lateral; both go one layer
        up, so the table fills from the top layer down."""
        last = len(self.columns) - 1
        reaches = [[False] * (c.depth + 1) for c in self.columns]
        for l in range(max(c.depth for c in self.columns), -1, -1):
            for k, column in enumerate(self.columns):
                if l > column.depth:
                    continue
                laterals = (self.config.laterals[i] for i in self.outgoing[k][l])
                reaches[k][l] = ((k == last and l == column.depth)
                                 or (l < column.depth and reaches[k][l + 1])
                                 or any(reaches[lat.to_column][lat.to_layer] for lat in laterals))
        return reaches

    def check_site(self, column: int, layer: int) -> None:
        """KernelInputError unless (column, layer) names a layer output: column 0..K-1, layer 0..L of that column."""
        if not (isinstance(column, int) and 0 <= column < len(self.columns)):
            raise KernelInputError(f"a perturbation site's column must be 0..{len(self.columns) - 1} (the network "
                                   f"has {len(self.columns)} columns), got {column!r}")
        depth = self.columns[column].depth
        if not (isinstance(layer, int) and 0 <= layer <= depth):
            raise KernelInputError(f"a perturbation site's layer must be 0..{depth} for column {column} (0 the input, "
                                   f"1..{depth - 1} hidden, {depth} the logits), got {layer!r}")

    def reaches_output(self, column: int, layer: int) -> bool:
        """Whether noise added to the output of layer `layer` of column `column` can change the network's output,
        by the graph alone (a path of layers and laterals to the last column's logits; an adapter whose weights
        happen to be 0 still counts as a path). False e.g. for a source column's logits, which feed no lateral."""
        self.check_site(column, layer)
        return self._reaches[column][layer]

    def layer_outputs(self, x: Input, every_column: bool = False) -> List[Optional[List[torch.Tensor]]]:
        """x (B, *input shape) -> hs[k] = [x, h_1, ..., h_L] of the clean path for each column the output depends on
        (every column if `every_column`), None for the others; hs[-1][-1] are the logits."""
        return self._run(x, range(len(self.columns)) if every_column else self.needed)

    def forward_perturbed(self, x: Input, column: int, layer: int, noise: torch.Tensor,
                          clean: Optional[List[Optional[List[torch.Tensor]]]] = None) -> torch.Tensor:
        """The network with `noise` added to the output of one layer: x (B, *input shape), noise (D, B,
        *layer_shapes_column[layer]) (D perturbed copies of the batch) -> logits (D, B, classes).

        The site is h_layer of `column` (post-ReLU for a hidden layer, the logits for its top layer, its copy of x for
        layer 0); the noisy h flows into the column's next layer and into every lateral that reads it; every other
        layer output is the clean one. `clean`: `layer_outputs(x)` when the caller has it already (the output of
        each layer that the noise does not reach is taken from it, not recomputed). Batch norm is used as the model's
        mode says: call it in eval mode (running statistics), as a test-time perturbation is meant."""
        self.check_site(column, layer)
        shape = tuple(self.columns[column].layer_shapes[layer])
        if noise.dim() < 2 or tuple(noise.shape[2:]) != shape or noise.shape[1] != len(x):
            raise KernelInputError(f"noise for column {column} layer {layer} must be (D, {len(x)}, "
                                   f"{', '.join(map(str, shape))}) (D copies of the batch of {len(x)}), got "
                                   f"{tuple(noise.shape)}")
        hs = clean if clean is not None else self.layer_outputs(x)
        copies, batch = int(noise.shape[0]), len(x)

        def tiled(t: torch.Tensor) -> torch.Tensor:
            """(B, *s) -> (D*B, *s): the clean value for each perturbed copy, copy-major like noise.flatten(0, 1)."""
            return t.unsqueeze(0).expand(copies, *t.shape).reshape(copies * batch, *t.shape[1:])

        logits = hs[-1][-1]                                                    # (B, classes)
        if not self._reaches[column][layer]:  # nothing downstream of the site reaches the output
            return tiled(logits).view(copies, batch, *logits.shape[1:])
        # The layer outputs that the noise reaches, (D*B, *shape) each; all others are hs's.
        dirty: Dict[Tuple[int, int], torch.Tensor] = {(column, layer): tiled(hs[column][layer]) + noise.flatten(0, 1)}
        for k in self.needed:
            col = self.columns[k]
            for l in range(1, col.depth + 1):
                if (k, l) == (column, layer):
                    continue
                sources = [(self.config.laterals[i], self.laterals[i]) for i in self.incoming[k][l - 1]]
                below = dirty.get((k, l - 1))
                if below is None and not any((lat.from_column, lat.from_layer) in dirty for lat, _ in sources):
                    continue  # every input clean: so is this layer's output
                extra, post = [], []
                for lat, adapter in sources:
                    src = dirty.get((lat.from_column, lat.from_layer))
                    # A clean source's adapter output is the same for every copy: computed on B rows, then tiled.
                    out = adapter(src) if src is not None else tiled(adapter(hs[lat.from_column][lat.from_layer]))
                    (post if lat.adapter.placement == "post_norm" else extra).append(out)  # (D*B, *shape_k[l])
                h = below if below is not None else tiled(hs[k][l - 1])             # (D*B, *shape_k[l-1])
                dirty[(k, l)] = col.forward_layer(l, h, extra, (), post)             # (D*B, *shape_k[l])
        out = dirty[(len(self.columns) - 1, self.output_column.depth)]                # (D*B, classes)
        return out.view(copies, batch, *out.shape[1:])

    @property
    def output_column(self) -> Column:
        """The last (trained) column: what a run exports as its reusable column."""
        return self.columns[-1]

    @property
    def layer_shapes(self) -> Tuple[Shape, ...]:
        return self.output_column.layer_shapes

    @property
    def input_shapes(self) -> Dict[str, Shape]:
        """{view: one example's shape} of every view the columns read (one entry when x is a plain tensor)."""
        return {c.reads: tuple(c.layer_shapes[0]) for c in self.columns}

    def _run(self, x: Input, which: Sequence[int]) -> List[Optional[List[torch.Tensor]]]:
        """x (B, *input shape), or a ViewInputs -> hs[k] = [x_k, h_1, ..., h_L] (each (B, *layer_shapes_k[l]); x_k
        the view column k reads) for the columns in `which` (in order, every column a lateral in them reads from
        included), None for the others."""
        hs: List[Optional[List[torch.Tensor]]] = [None] * len(self.columns)
        for k in which:
            column = self.columns[k]
            h = view_of(x, column.reads)
            out = [h]
            for l in range(1, column.depth + 1):
                deltas, extra, post = [], [], []
                for i in self.incoming[k][l - 1]:
                    lat, adapter = self.config.laterals[i], self.laterals[i]
                    h_src = hs[lat.from_column][lat.from_layer]        # (B, *layer_shapes_j[l-1])
                    if lat.adapter.placement == "post_norm":
                        post.append(adapter(h_src))                   # added after BN: (B, *layer_shapes_k[l])
                    elif adapter.linear and column.foldable and h_src is h:
                        deltas.append(adapter.effective_weight())     # W h + alpha U h = (W + alpha U) h
                    else:
                        extra.append(adapter(h_src))                  # (B, *layer_shapes_k[l])
                h = column.forward_layer(l, h, extra, deltas, post)   # (B, *layer_shapes_k[l])
                out.append(h)
            hs[k] = out
        return hs

    def forward_clean(self, x: Input) -> torch.Tensor:
        """x (B, *input shape) -> logits of the last column (B, classes); only the columns the output depends on
        are computed."""
        return self._run(x, self.needed)[-1][-1]

    forward = forward_clean

    def activations(self, x: Input) -> List[List[torch.Tensor]]:
        """x -> per column k, [h_1, ..., h_L = logits] as `Column.activations` gives them (every column computed)."""
        return [out[1:] for out in self._run(x, range(len(self.columns)))]

    def encoder_activations(self, x: Input) -> List[torch.Tensor]:
        """The output column's activations (as `MLP.encoder_activations`)."""
        return self.activations(x)[-1]

    def costs(self, x: Input, y: torch.Tensor) -> Dict[str, torch.Tensor]:
        """x (B, *input shape), y (B,) int64 -> {"total": (), "supervised": ()} (the same cross-entropy)."""
        loss = F.cross_entropy(self.forward_clean(x), y)
        return {"total": loss, "supervised": loss}


@register_model("progressive", objective="supervised", config=parse_spec)
def build_progressive(*, spec: dict, seed: Optional[int] = None) -> ProgressiveNetwork:
    """spec: see `parse_spec`. The last column, if "init", gets exactly its builder's weights for `seed`; other
    "init" columns seed + 1_000_003 * (k + 2); adapters draw, in lateral order, from seed + 1_000_003."""
    config = parse_spec(spec)
    last = len(config.columns) - 1
    columns = []
    for k, c in enumerate(config.columns):
        if c.weights_from == "file":
            column = _column_from_file(c, f"columns[{k}]")
        else:
            column_seed = seed if (k == last or seed is None) else int(seed) + ADAPTER_SEED_OFFSET * (k + 2)
            column = get_column(c.architecture).build(c.config, column_seed)
        if c.frozen:
            column.freeze()
        columns.append(column)
    generator = seeded_generator(None if seed is None else int(seed) + ADAPTER_SEED_OFFSET)
    adapters = [build_adapter(lat.adapter, config.columns[lat.from_column].layer_shapes[lat.from_layer],
                              config.columns[lat.to_column].layer_shapes[lat.to_layer], generator)
                for lat in config.laterals]
    return ProgressiveNetwork(config, columns, adapters)

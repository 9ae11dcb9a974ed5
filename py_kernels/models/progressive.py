"""Progressive networks (Rusu et al. 2016) of `EncoderColumn`s, as used by the paper (its sections 2.2 and 4.2).

Columns 0..K-1 all read the same input x; the last column is the output. Layer l of column k (l = 1..L):
    z = BN(W h(l-1) + sum over laterals into (k, l) of adapter(h_j(l-1)))     batch norm without affine
    h(l) = ReLU(z + beta),  top layer: logits = gamma * (z + beta)
where h(0) = x, h(l) is the post-ReLU output of hidden layer l and h(L) the logits. A lateral joins layer l of an
earlier column j to layer l+1 of a later column k; its adapter is one of
    scalar  U (alpha h)                 the paper: a learnable scalar alpha times a learned projection
    rusu    U ReLU(V (alpha h))         Rusu et al.: V reduces h to `reduced` units first
    none    U h                         the paper's Figure 7 ablation: no scalar
with alpha a learnable scalar initialised to `alpha_init` and U, V drawn N(0, 1) / sqrt(fan_in), no biases (a bias
before batch norm cancels out). Adapters take their widths from the two columns, so any widths join. Products with
alpha are written `tensor * alpha`: torch 1.13's CPU `alpha * tensor` (0-dim first) is 30x slower on large tensors.

Frozen columns come from a file (a `training.source_column_state` dict): their weights, betas and batch-norm running
statistics never change (`EncoderColumn.freeze`: no gradients, always in eval mode). A frozen column with random
weights (the defect of the paper's own code) is refused. An "init" column gets exactly the weights that
`build_mlp(widths=..., seed=seed)` would give (the last column; earlier trainable "init" columns get derived seeds),
and adapters draw from their own generator, so a progressive network without laterals is exactly the supervised
baseline MLP: same initial weights, same outputs, same training trajectory. A trainable "file" column is the paper's
"pre-trained" approach (pretrained initialisation, then fine-tuned).

The spec arrives as JSON from TypeScript and is parsed once by `parse_spec` into a frozen `ProgressiveConfig`; errors
name the path of the offending field (`laterals[2].to.layer`) and what would fix it.

Speed: the forward pass computes only the columns the output depends on, and a scalar/plain lateral that reads the
very tensor its target layer reads (x, for laterals from layer 0) is folded into the target's weight,
W x + alpha U x = (W + alpha U) x, so it costs no extra GEMM.
"""
from __future__ import annotations

import math
import os
from dataclasses import dataclass
from typing import Dict, List, Optional, Sequence, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F

from .. import safe_load
from ..errors import KernelInputError
from .column import EncoderColumn, build_column, check_widths, column_from_state, gaussian_init

ADAPTER_KINDS = ("scalar", "rusu", "none")
ADAPTER_SEED_OFFSET = 1_000_003  # adapters draw from seed + this, so they never shift a column's initialisation


# -- the spec ------------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class ColumnSpec:
    name: str
    widths: Tuple[int, ...]
    weights_from: str             # "file" | "init"
    path: Optional[str]           # the column file when weights_from == "file"
    frozen: bool


@dataclass(frozen=True)
class LateralSpec:
    from_column: int
    from_layer: int               # 0 = the input x, 1..L-1 = post-ReLU hidden layers, L = logits
    to_column: int
    to_layer: int                 # from_layer + 1
    kind: str                     # "scalar" | "rusu" | "none"
    alpha_init: Optional[float]   # scalar, rusu
    reduced: Optional[int]        # rusu


@dataclass(frozen=True)
class ProgressiveConfig:
    columns: Tuple[ColumnSpec, ...]
    laterals: Tuple[LateralSpec, ...] = ()

    @property
    def widths(self) -> Tuple[int, ...]:
        """The output column's widths (input width first, classes last), what the trainers check data against."""
        return self.columns[-1].widths


def _fail(path: str, message: str) -> KernelInputError:
    return KernelInputError(f"progressive spec {path}: {message}")


def _keys(obj, path: str, required: Sequence[str], optional: Sequence[str] = ()) -> dict:
    if not isinstance(obj, dict):
        raise _fail(path, f"must be an object with keys {list(required) + list(optional)}, got {type(obj).__name__}")
    missing = [k for k in required if k not in obj]
    if missing:
        raise _fail(path, f"is missing {missing}; it needs {list(required)}" +
                    (f" (optional: {list(optional)})" if optional else ""))
    unknown = sorted(k for k in obj if k not in required and k not in optional)
    if unknown:
        raise _fail(path, f"has unknown key(s) {unknown}; allowed: {list(required) + list(optional)}")
    return obj


def _int(value, path: str, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or int(value) != value or value < minimum:
        raise _fail(path, f"must be an integer >= {minimum}, got {value!r}")
    return int(value)


def _parse_column(obj, path: str) -> ColumnSpec:
    _keys(obj, path, ("name", "widths", "weights", "frozen"))
    if not isinstance(obj["name"], str) or not obj["name"]:
        raise _fail(f"{path}.name", f"must be a non-empty string, got {obj['name']!r}")
    widths = obj["widths"]
    if not isinstance(widths, (list, tuple)):
        raise _fail(f"{path}.widths", f"must be a list of layer widths, got {widths!r}")
    widths = tuple(_int(w, f"{path}.widths[{i}]", 1) for i, w in enumerate(widths))
    try:
        check_widths(widths)
    except KernelInputError as e:
        raise _fail(f"{path}.widths", str(e)) from None
    if not isinstance(obj["frozen"], bool):
        raise _fail(f"{path}.frozen", f"must be true or false, got {obj['frozen']!r}")
    weights = obj["weights"]
    if not isinstance(weights, dict) or weights.get("from") not in ("file", "init"):
        raise _fail(f"{path}.weights", f'must be {{"from": "file", "path": ...}} or {{"from": "init"}}, got {weights!r}')
    if weights["from"] == "file":
        _keys(weights, f"{path}.weights", ("from", "path"))
        file = weights["path"]
        if not isinstance(file, str) or not os.path.isabs(file):
            raise _fail(f"{path}.weights.path", f"must be an absolute path to a column file, got {file!r}")
    else:
        _keys(weights, f"{path}.weights", ("from",))
        file = None
        if obj["frozen"]:
            raise _fail(f"{path}.frozen",
                        f"column {obj['name']!r} is frozen but has random weights (weights.from = 'init'): a frozen "
                        f"random column is the defect of the paper's own code and transfers nothing; give it "
                        f'"weights": {{"from": "file", "path": ...}} (a trained source column) or set frozen: false')
    return ColumnSpec(obj["name"], widths, weights["from"], file, obj["frozen"])


def _parse_adapter(obj, path: str) -> Tuple[str, Optional[float], Optional[int]]:
    if not isinstance(obj, dict) or obj.get("kind") not in ADAPTER_KINDS:
        got = obj.get("kind") if isinstance(obj, dict) else obj
        raise _fail(f"{path}.kind", f"must be one of {list(ADAPTER_KINDS)}, got {got!r}")
    kind = obj["kind"]
    if kind == "none":
        _keys(obj, path, ("kind",))
        return kind, None, None
    _keys(obj, path, ("kind", "alpha_init", "reduced") if kind == "rusu" else ("kind", "alpha_init"))
    alpha = obj["alpha_init"]
    if isinstance(alpha, bool) or not isinstance(alpha, (int, float)) or not math.isfinite(alpha):
        raise _fail(f"{path}.alpha_init", f"must be a finite number (the paper uses 1, 0.1 or 0.01), got {alpha!r}")
    reduced = _int(obj["reduced"], f"{path}.reduced", 1) if kind == "rusu" else None
    return kind, float(alpha), reduced


def _parse_lateral(obj, path: str, columns: Sequence[ColumnSpec]) -> LateralSpec:
    _keys(obj, path, ("from", "to", "adapter"))
    ends = {}
    for end in ("from", "to"):
        _keys(obj[end], f"{path}.{end}", ("column", "layer"))
        col = _int(obj[end]["column"], f"{path}.{end}.column", 0)
        if col >= len(columns):
            raise _fail(f"{path}.{end}.column", f"is {col} but there are only {len(columns)} columns (0.."
                                                f"{len(columns) - 1})")
        ends[end] = (col, _int(obj[end]["layer"], f"{path}.{end}.layer", 0))
    (j, l_from), (k, l_to) = ends["from"], ends["to"]
    if j >= k:
        raise _fail(f"{path}.from.column",
                    f"laterals run from an earlier column to a later one, got column {j} -> column {k}")
    if columns[k].frozen:
        raise _fail(f"{path}.to.column",
                    f"column {k} ({columns[k].name!r}) is frozen, and a lateral into it would change its outputs; "
                    f"laterals may only enter trainable columns")
    depth_j, depth_k = len(columns[j].widths) - 1, len(columns[k].widths) - 1
    if l_from > depth_j:
        raise _fail(f"{path}.from.layer", f"is {l_from} but column {j} ({columns[j].name!r}) has layers 0..{depth_j} "
                                          f"(0 = input, {depth_j} = logits)")
    if l_to != l_from + 1:
        raise _fail(f"{path}.to.layer", f"must be from.layer + 1 = {l_from + 1} (layer l feeds layer l + 1), "
                                        f"got {l_to}")
    if not 1 <= l_to <= depth_k:
        raise _fail(f"{path}.to.layer", f"is {l_to} but column {k} ({columns[k].name!r}) has layers 1..{depth_k} "
                                        f"that a lateral can enter")
    kind, alpha, reduced = _parse_adapter(obj["adapter"], f"{path}.adapter")
    return LateralSpec(j, l_from, k, l_to, kind, alpha, reduced)


def parse_spec(spec) -> ProgressiveConfig:
    """The JSON spec {"columns": [...], "laterals": [...]} -> ProgressiveConfig; KernelInputError names the field."""
    _keys(spec, "(top level)", ("columns",), ("laterals",))
    columns_in = spec["columns"]
    if not isinstance(columns_in, (list, tuple)) or len(columns_in) < 1:
        raise _fail("columns", f"must be a non-empty list of columns (the last one is trained), got {columns_in!r}")
    columns = tuple(_parse_column(c, f"columns[{i}]") for i, c in enumerate(columns_in))
    names = [c.name for c in columns]
    for i, name in enumerate(names):
        if names.index(name) != i:
            raise _fail(f"columns[{i}].name", f"{name!r} is also the name of columns[{names.index(name)}]; "
                                              f"give each column its own name")
    for i, c in enumerate(columns):
        if c.widths[0] != columns[0].widths[0]:
            raise _fail(f"columns[{i}].widths[0]", f"every column reads the same input, so input widths must match: "
                                                   f"columns[0] has {columns[0].widths[0]}, this one {c.widths[0]}")
    if columns[-1].frozen:
        raise _fail(f"columns[{len(columns) - 1}].frozen",
                    "the last column is the one being trained (the network's output), so it cannot be frozen")
    laterals_in = spec.get("laterals", [])
    if not isinstance(laterals_in, (list, tuple)):
        raise _fail("laterals", f"must be a list (possibly empty), got {laterals_in!r}")
    laterals = tuple(_parse_lateral(lat, f"laterals[{i}]", columns) for i, lat in enumerate(laterals_in))
    seen: Dict[Tuple[int, int, int], int] = {}
    for i, lat in enumerate(laterals):
        key = (lat.from_column, lat.from_layer, lat.to_column)
        if key in seen:
            raise _fail(f"laterals[{i}]", f"duplicates laterals[{seen[key]}] (column {key[0]} layer {key[1]} -> "
                                          f"column {key[2]}); remove one")
        seen[key] = i
    return ProgressiveConfig(columns, laterals)


def _load_column_state(path: str, where: str) -> dict:
    """A column file: a `source_column_state` dict (also accepted: an exported {"state": ...} model, with a ladder's
    `encoder.` prefix stripped)."""
    if not os.path.isfile(path):
        raise _fail(f"{where}.weights.path", f"no such file {path!r}; export the source run's column first")
    try:
        state = safe_load.load(path, what="column file", hint="export the source run's column again")
    except KernelInputError as e:  # refused or unreadable: the message names the file and why
        raise _fail(f"{where}.weights.path", str(e)) from None
    if isinstance(state, dict) and "layers.0.weight" not in state and isinstance(state.get("state"), dict):
        state = state["state"]
    if isinstance(state, dict) and "layers.0.weight" not in state:
        state = {k[len("encoder."):]: v for k, v in state.items() if k.startswith("encoder.")}
    if not isinstance(state, dict) or "layers.0.weight" not in state:
        raise _fail(f"{where}.weights.path",
                    f"{path!r} is not a column file (no 'layers.0.weight'); write it with training.source_column_state")
    bad = sorted(k for k, v in state.items() if not isinstance(v, torch.Tensor) or v.dtype != torch.float32)
    if bad:
        raise _fail(f"{where}.weights.path", f"{path!r} holds non-float32 tensors {bad[:4]}; save float32 weights")
    return state


# -- adapters ------------------------------------------------------------------------------------------------------

class ScalarAdapter(nn.Module):
    """The paper's adapter: h (B, n_in) -> U (alpha h) (B, n_out)."""

    linear = True  # alpha U is one matrix: foldable into the target's W when h is the target's own input

    def __init__(self, n_in: int, n_out: int, alpha_init: float, generator: Optional[torch.Generator]):
        super().__init__()
        self.alpha = nn.Parameter(torch.tensor(float(alpha_init)))
        self.U = nn.Parameter(gaussian_init(n_out, n_in, generator))  # (n_out, n_in)

    def effective_weight(self) -> torch.Tensor:
        return self.U * self.alpha                               # (n_out, n_in)

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        return F.linear(h, self.U) * self.alpha                  # = U (alpha h), scaling the smaller tensor


class RusuAdapter(nn.Module):
    """Rusu et al.'s adapter: h (B, n_in) -> U ReLU(V (alpha h)) (B, n_out), V reducing to `reduced` units."""

    linear = False

    def __init__(self, n_in: int, n_out: int, alpha_init: float, reduced: int, generator: Optional[torch.Generator]):
        super().__init__()
        self.alpha = nn.Parameter(torch.tensor(float(alpha_init)))
        self.V = nn.Parameter(gaussian_init(reduced, n_in, generator))   # (reduced, n_in)
        self.U = nn.Parameter(gaussian_init(n_out, reduced, generator))  # (n_out, reduced)

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        r = F.relu(F.linear(h, self.V) * self.alpha)             # (B, reduced)
        return F.linear(r, self.U)                               # (B, n_out)


class PlainAdapter(nn.Module):
    """The Figure 7 ablation: h (B, n_in) -> U h (B, n_out), no scalar."""

    linear = True

    def __init__(self, n_in: int, n_out: int, generator: Optional[torch.Generator]):
        super().__init__()
        self.U = nn.Parameter(gaussian_init(n_out, n_in, generator))  # (n_out, n_in)

    def effective_weight(self) -> torch.Tensor:
        return self.U

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        return F.linear(h, self.U)


def build_adapter(lat: LateralSpec, n_in: int, n_out: int, generator: Optional[torch.Generator]) -> nn.Module:
    if lat.kind == "scalar":
        return ScalarAdapter(n_in, n_out, lat.alpha_init, generator)
    if lat.kind == "rusu":
        return RusuAdapter(n_in, n_out, lat.alpha_init, lat.reduced, generator)
    return PlainAdapter(n_in, n_out, generator)


# -- the network ---------------------------------------------------------------------------------------------------

class ProgressiveNetwork(nn.Module):
    """x (B, 784) -> logits of the last column (B, classes). Columns in `columns`, adapters in `laterals`
    (aligned with `config.laterals`)."""

    def __init__(self, config: ProgressiveConfig, columns: Sequence[EncoderColumn], adapters: Sequence[nn.Module]):
        super().__init__()
        self.config = config
        self.columns = nn.ModuleList(columns)
        self.laterals = nn.ModuleList(adapters)
        # incoming[k][l-1]: indices of the laterals entering layer l of column k
        self.incoming: List[List[List[int]]] = [[[] for _ in c.widths[1:]] for c in config.columns]
        for i, lat in enumerate(config.laterals):
            self.incoming[lat.to_column][lat.to_layer - 1].append(i)
        # the columns the output depends on (the last one and every column with a lateral path into it)
        needed = {len(columns) - 1}
        for lat in sorted(config.laterals, key=lambda s: -s.to_column):
            if lat.to_column in needed:
                needed.add(lat.from_column)
        self.needed: Tuple[int, ...] = tuple(sorted(needed))

    @property
    def output_column(self) -> EncoderColumn:
        """The last (trained) column: `training.source_column_state(net.output_column)` exports it as a column."""
        return self.columns[-1]

    def train(self, mode: bool = True) -> "ProgressiveNetwork":
        super().train(mode)
        for column, spec in zip(self.columns, self.config.columns):
            if spec.frozen:
                column.train(False)  # running BN statistics, never updated
        return self

    def _check_perturb(self, perturb: Optional[dict]) -> Optional[Tuple[int, int, float, Optional[torch.Generator]]]:
        if perturb is None:
            return None
        if not isinstance(perturb, dict) or not {"column", "layer", "std"} <= set(perturb) or \
                not set(perturb) <= {"column", "layer", "std", "generator"}:
            raise KernelInputError(f'perturb must be {{"column", "layer", "std"[, "generator"]}}, got {perturb!r}')
        k, l, std = perturb["column"], perturb["layer"], perturb["std"]
        if isinstance(k, bool) or not isinstance(k, int) or not 0 <= k < len(self.columns):
            raise KernelInputError(f"perturb.column must be a column index 0..{len(self.columns) - 1}, got {k!r}")
        depth = len(self.config.columns[k].widths) - 1
        if isinstance(l, bool) or not isinstance(l, int) or not 0 <= l <= depth:
            raise KernelInputError(f"perturb.layer must be in 0..{depth} for column {k} (0 = input, 1..{depth - 1} "
                                   f"= hidden post-ReLU, {depth} = logits), got {l!r}")
        if isinstance(std, bool) or not isinstance(std, (int, float)) or not std >= 0 or not math.isfinite(std):
            raise KernelInputError(f"perturb.std must be a finite number >= 0, got {std!r}")
        generator = perturb.get("generator")
        if generator is not None and not isinstance(generator, torch.Generator):
            raise KernelInputError(f"perturb.generator must be a torch.Generator or None, got {type(generator).__name__}")
        return k, l, float(std), generator

    def _run(self, x: torch.Tensor, which: Sequence[int], perturb: Optional[dict]) -> List[Optional[List[torch.Tensor]]]:
        """x (B, width_in) -> hs[k] = [x, h_1, ..., h_L] (each (B, widths_k[l])) for the columns in `which`
        (in order, every column a lateral in them reads from included), None for the others."""
        p = self._check_perturb(perturb)
        if p is not None and p[3] is not None and p[3].device.type != x.device.type:
            raise KernelInputError(f"perturb.generator is on {p[3].device} but x is on {x.device}; "
                                   f"make it with torch.Generator(device=x.device)")

        def perturbed(k: int, l: int, h: torch.Tensor) -> torch.Tensor:
            if p is None or p[0] != k or p[1] != l or p[2] == 0:
                return h
            return h + p[2] * torch.randn(h.shape, generator=p[3], device=h.device, dtype=h.dtype)

        hs: List[Optional[List[torch.Tensor]]] = [None] * len(self.columns)
        for k in which:
            h = perturbed(k, 0, x)                                    # (B, width_in)
            out = [h]
            for l, layer in enumerate(self.columns[k].layers, start=1):
                weight, extra = layer.weight, []
                for i in self.incoming[k][l - 1]:
                    lat, adapter = self.config.laterals[i], self.laterals[i]
                    h_src = hs[lat.from_column][lat.from_layer]        # (B, widths_j[l-1])
                    if adapter.linear and h_src is h:
                        weight = weight + adapter.effective_weight()  # W h + alpha U h = (W + alpha U) h
                    else:
                        extra.append(adapter(h_src))                  # (B, widths_k[l])
                z_pre = F.linear(h, weight)                           # (B, widths_k[l])
                for e in extra:
                    z_pre = z_pre + e
                h = perturbed(k, l, layer.activate(layer.normalise(z_pre)))  # (B, widths_k[l])
                out.append(h)
            hs[k] = out
        return hs

    def forward_clean(self, x: torch.Tensor, perturb: Optional[dict] = None) -> torch.Tensor:
        """x (B, 784) -> logits of the last column (B, classes). perturb = {"column": k, "layer": l, "std": s,
        "generator": g (optional, on x's device)} adds N(0, s^2) noise to h_l of column k (post-ReLU; l = 0 is that
        column's copy of x), which then flows into that column's next layer and every lateral fed from it. Only the
        columns the output depends on are computed (noise in any other column cannot reach the output)."""
        return self._run(x, self.needed, perturb)[-1][-1]

    def forward(self, x: torch.Tensor, perturb: Optional[dict] = None) -> torch.Tensor:
        return self.forward_clean(x, perturb)

    def activations(self, x: torch.Tensor, perturb: Optional[dict] = None) -> List[List[torch.Tensor]]:
        """x (B, 784) -> per column k, [h_1 (B, widths_k[1]), ..., h_L = logits (B, widths_k[-1])], as
        `EncoderColumn.activations` (every column computed)."""
        return [out[1:] for out in self._run(x, range(len(self.columns)), perturb)]

    def encoder_activations(self, x: torch.Tensor) -> List[torch.Tensor]:
        """The output column's activations (as `MLP.encoder_activations`)."""
        return self.activations(x)[-1]

    def costs(self, x: torch.Tensor, y: torch.Tensor) -> Dict[str, torch.Tensor]:
        """x (B, 784), y (B,) int64 -> {"total": (), "supervised": ()} (the same cross-entropy)."""
        loss = F.cross_entropy(self.forward_clean(x), y)
        return {"total": loss, "supervised": loss}


def _derived_generator(seed: Optional[int], offset: int) -> Optional[torch.Generator]:
    return None if seed is None else torch.Generator().manual_seed(int(seed) + offset)


def build_progressive(*, spec: dict, seed: Optional[int] = None) -> ProgressiveNetwork:
    """spec: {"columns": [{"name", "widths", "weights": {"from": "file", "path"} | {"from": "init"}, "frozen"}, ...],
    "laterals": [{"from": {"column", "layer"}, "to": {"column", "layer"}, "adapter": {"kind": "scalar" | "rusu" |
    "none", "alpha_init", "reduced"}}, ...]} (see the module docstring). The last column, if "init", gets exactly
    `build_mlp(widths=..., seed=seed)`'s weights; other "init" columns seed + 1_000_003 * (k + 2); adapters draw, in
    lateral order, from seed + 1_000_003."""
    config = parse_spec(spec)
    last = len(config.columns) - 1
    columns = []
    for k, c in enumerate(config.columns):
        where = f"columns[{k}]"
        if c.weights_from == "file":
            column = column_from_state(_load_column_state(c.path, where))
            if column.config.widths != c.widths:
                raise _fail(f"{where}.widths", f"are {list(c.widths)} but {c.path!r} holds a column of widths "
                                               f"{list(column.config.widths)}; make them agree")
        else:
            column_seed = seed if (k == last or seed is None) else int(seed) + ADAPTER_SEED_OFFSET * (k + 2)
            column = build_column(widths=c.widths, seed=column_seed)
        if c.frozen:
            column.freeze()
        columns.append(column)
    generator = _derived_generator(seed, ADAPTER_SEED_OFFSET)
    adapters = [build_adapter(lat, config.columns[lat.from_column].widths[lat.from_layer],
                              config.columns[lat.to_column].widths[lat.to_layer], generator)
                for lat in config.laterals]
    return ProgressiveNetwork(config, columns, adapters)

"""Every registered column, model, adapter kind and trainer on tiny CPU inputs.

Each registry entry has its tiny cases in a table below; an entry without one fails `test_every_entry_has_a_case`.
A new column architecture, model, adapter kind or option: add its case here and every test below runs on it.
"""
from __future__ import annotations

import dataclasses
import inspect
import math

import pytest
import torch

from py_kernels import safe_load
from py_kernels.data import views
from py_kernels.errors import KernelInputError
from py_kernels.models import (ADAPTERS, COLUMNS, MODELS, OBJECTIVES, AdapterSpec, build_adapter, build_column,
                               build_model, column_config, column_from_state, describe_model, get_column, get_model)
from py_kernels.models import PLACEMENTS
from py_kernels.models.view_inputs import ViewInputs
from py_kernels.training import TRAINERS, source_column_state, trainer_for

BATCH = 6
WIDTHS = [12, 8, 6, 4]
CHANNELS = [3, 4, 4, 5, 3, 4]  # a narrow Conv-Small: its six layers' channels, 4 classes

# column architecture -> case name -> its builder's options
COLUMN_CASES = {
    # a random trunk (no weights file): on cached pool5 vectors, and live on 224x224 images
    "alexnet": {"cached": {"head": [8, 4], "pretrained": False, "trunk_seed": 0, "features": "cached",
                           "batch_norm": True},
                "live_no_batch_norm": {"head": [8, 4], "pretrained": False, "trunk_seed": 1, "features": "live",
                                       "batch_norm": False}},
    "conv": {"batch_norm": {"channels": CHANNELS, "batch_norm": True},
             "no_batch_norm": {"channels": CHANNELS, "batch_norm": False}},
    "fc": {"batch_norm": {"widths": WIDTHS, "batch_norm": True},
           "no_batch_norm": {"widths": WIDTHS, "batch_norm": False}},
}
COLUMN_IDS = [(architecture, case) for architecture in sorted(COLUMN_CASES) for case in COLUMN_CASES[architecture]]

# adapter kind -> the `adapter` of a lateral
ADAPTER_CASES = {
    "scalar": {"kind": "scalar", "alpha_init": 0.5},
    "rusu": {"kind": "rusu", "alpha_init": 0.5, "reduced": 3},
    "none": {"kind": "none"},
}


def _progressive_case(placements, target_batch_norm=True):
    """tmp_path -> a frozen file column, a trainable init column, a trainable target column (batch norm or not), and
    laterals of every kind (one from layer 0: folded when pre_norm) placed in turn at each of `placements`."""
    def case(tmp_path) -> dict:
        source = tmp_path / "source.pt"
        torch.save(build_column("fc", seed=5, widths=WIDTHS).export_state(), source)
        kinds = sorted(ADAPTER_CASES)
        wiring = [(0, 0, "scalar")] + [(j, l, kinds[(j + l) % len(kinds)]) for j in (0, 1) for l in (1, 2)]
        laterals = [{"from": {"column": j, "layer": l}, "to": {"column": 2, "layer": l + 1},
                     "adapter": {**ADAPTER_CASES[kind], "placement": placements[i % len(placements)]}}
                    for i, (j, l, kind) in enumerate(wiring)]
        return {"spec": {
            "columns": [
                {"name": "source", "architecture": "fc", "widths": WIDTHS, "batch_norm": True,
                 "weights": {"from": "file", "path": str(source)}, "frozen": True},
                {"name": "helper", "architecture": "fc", "widths": [12, 5, 7, 4], "batch_norm": True,
                 "weights": {"from": "init"}, "frozen": False},
                {"name": "target", "architecture": "fc", "widths": WIDTHS, "batch_norm": target_batch_norm,
                 "weights": {"from": "init"}, "frozen": False},
            ],
            "laterals": laterals,
        }}
    return case


def _conv_progressive_case(tmp_path) -> dict:
    """A frozen conv file column and a trainable conv target, a lateral of each kind from every hidden layer (maps
    into maps through 1x1 convolutions, layer 5's map into the top's vector flattened), placements alternating."""
    source = tmp_path / "source.pt"
    torch.save(build_column("conv", seed=5, channels=CHANNELS).export_state(), source)
    kinds = sorted(ADAPTER_CASES)
    laterals = [{"from": {"column": 0, "layer": l}, "to": {"column": 1, "layer": l + 1},
                 "adapter": {**ADAPTER_CASES[kinds[l % len(kinds)]], "placement": PLACEMENTS[l % len(PLACEMENTS)]}}
                for l in range(1, len(CHANNELS))]
    return {"spec": {
        "columns": [
            {"name": "source", "architecture": "conv", "channels": CHANNELS, "batch_norm": True,
             "weights": {"from": "file", "path": str(source)}, "frozen": True},
            {"name": "target", "architecture": "conv", "channels": CHANNELS, "batch_norm": True,
             "weights": {"from": "init"}, "frozen": False},
        ],
        "laterals": laterals,
    }}


def _two_view_progressive_case(tmp_path) -> dict:
    """A frozen fc file column on flat784 and a trainable AlexNet column on its cached features (two views), laterals
    of every kind and placement into the head."""
    source = tmp_path / "source.pt"
    torch.save(build_column("fc", seed=5, widths=WIDTHS).export_state(), source)
    kinds = sorted(ADAPTER_CASES)
    laterals = [{"from": {"column": 0, "layer": l}, "to": {"column": 1, "layer": l + 1},
                 "adapter": {**ADAPTER_CASES[kinds[l - 1]], "placement": PLACEMENTS[l % len(PLACEMENTS)]}}
                for l in (1, 2, 3)]  # into the head's three layers (the trunk, layer 1, takes none)
    return {"spec": {
        "columns": [
            {"name": "source", "architecture": "fc", "widths": WIDTHS, "batch_norm": True,
             "weights": {"from": "file", "path": str(source)}, "frozen": True},
            {"name": "alexnet", "architecture": "alexnet", **COLUMN_CASES["alexnet"]["cached"], "head": WIDTHS[1:],
             "weights": {"from": "init"}, "frozen": False},
        ],
        "laterals": laterals,
    }}


# model -> case name -> tmp_path -> its builder's options (without seed)
MODEL_CASES = {
    "conv_ladder": {"default": lambda tmp_path: {"channels": CHANNELS, "noise_std": 0.3, "denoising_weight": 1.0}},
    "ladder": {"default": lambda tmp_path: {"widths": WIDTHS, "noise_std": 0.3,
                                            "denoising_weights": [1000.0, 10.0, 0.1, 0.1], "gamma_only": False}},
    "mlp": {"default": lambda tmp_path: {"widths": WIDTHS}},
    "progressive": {
        "pre_norm": _progressive_case(["pre_norm"]),
        "post_norm": _progressive_case(["post_norm"]),
        "mixed_no_batch_norm": _progressive_case(["post_norm", "pre_norm"], target_batch_norm=False),
        "conv": _conv_progressive_case,
        "two_views": _two_view_progressive_case,
    },
}
MODEL_IDS = [(name, case) for name in sorted(MODEL_CASES) for case in MODEL_CASES[name]]

# trainer (objective) -> a run's training settings
TRAINING = {"epochs": 2, "iterations_per_epoch": 2, "labeled_batch": BATCH, "unlabeled_batch": BATCH,
            "learning_rate": 0.002, "decay_fraction": 0.5, "stop_at_validation_accuracy": None,
            "population_statistics": None}
TRAINER_CASES = {"ladder": TRAINING, "supervised": TRAINING}


def test_every_entry_has_a_case(tmp_path):
    assert sorted(COLUMNS) == sorted(COLUMN_CASES), "a registered column architecture has no tiny case here"
    assert sorted(MODELS) == sorted(MODEL_CASES), "a registered model has no tiny case here"
    specs = [case(tmp_path)["spec"] for case in MODEL_CASES["progressive"].values()]
    placed = {lat["adapter"]["placement"] for spec in specs for lat in spec["laterals"]}
    assert placed == set(PLACEMENTS), "a lateral placement has no progressive case"
    normed = {c["batch_norm"] for spec in specs for c in spec["columns"] if not c["frozen"]}
    assert normed == {True, False}, "a trainable column with and one without batch norm need a progressive case"
    assert sorted(ADAPTERS) == sorted(ADAPTER_CASES), "an adapter kind has no tiny case here"
    assert sorted(TRAINERS) == sorted(TRAINER_CASES) == sorted(OBJECTIVES), "an objective has no trainer or case"
    assert {get_model(name).objective for name in MODELS} == set(OBJECTIVES), "a trainer no registered model uses"


def _inputs(shape, n=BATCH, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.rand((n, *shape), generator=g)


def _state_equal(a: dict, b: dict) -> bool:
    return list(a) == list(b) and all(torch.equal(a[k], b[k]) for k in a)


# -- columns ---------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("architecture", sorted(COLUMNS))
def test_a_column_config_holds_exactly_its_builder_options(architecture):
    entry = get_column(architecture)
    options = [p for p in inspect.signature(entry.builder).parameters if p != "seed"]
    assert [f.name for f in dataclasses.fields(entry.config)] == options
    assert all(p.kind is inspect.Parameter.KEYWORD_ONLY for p in inspect.signature(entry.builder).parameters.values())
    assert entry.input_view in views.VIEWS


@pytest.mark.parametrize("architecture, case", COLUMN_IDS)
def test_a_column_gives_its_declared_shapes_and_steps_layer_by_layer(architecture, case):
    column = build_column(architecture, seed=1, **COLUMN_CASES[architecture][case])
    shapes = column.layer_shapes
    assert shapes == column_config(architecture, **COLUMN_CASES[architecture][case]).layer_shapes
    x = _inputs(shapes[0])
    column.eval()
    hs = column.activations(x)
    assert [tuple(h.shape) for h in hs] == [(BATCH, *s) for s in shapes[1:]]
    assert torch.equal(column(x), hs[-1])
    h = x
    for l in range(1, column.depth + 1):
        h = column.forward_layer(l, h)
        assert torch.equal(h, hs[l - 1])


@pytest.mark.parametrize("architecture, case", COLUMN_IDS)
def test_a_column_is_seeded_exported_and_frozen(architecture, case):
    options = COLUMN_CASES[architecture][case]
    a, b = build_column(architecture, seed=3, **options), build_column(architecture, seed=3, **options)
    assert _state_equal(a.state_dict(), b.state_dict())
    assert not _state_equal(a.state_dict(), build_column(architecture, seed=4, **options).state_dict())
    x = _inputs(a.layer_shapes[0])
    a.train()
    a(x)  # moves the running statistics, which the export must carry
    back = column_from_state(architecture, a.export_state())
    assert type(back) is type(a) and back.config == a.config
    a.eval(), back.eval()
    assert all(torch.equal(p, q) for p, q in zip(a.activations(x), back.activations(x)))
    back.freeze().train()
    assert not back.training and not any(p.requires_grad for p in back.parameters())
    with pytest.raises(KernelInputError):
        column_from_state(architecture, {"nothing": torch.zeros(1)})


# -- adapters --------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("kind", sorted(ADAPTERS))
def test_an_adapter_joins_vectors_maps_to_a_vector_and_maps_to_maps(kind):
    spec = AdapterSpec(kind, ADAPTER_CASES[kind].get("alpha_init"), ADAPTER_CASES[kind].get("reduced"))
    vector = build_adapter(spec, (8,), (6,), torch.Generator().manual_seed(0))
    h = _inputs((8,))
    assert tuple(vector(h).shape) == (BATCH, 6)
    if vector.linear:  # what the progressive network folds into a layer's weight
        assert torch.allclose(torch.nn.functional.linear(h, vector.effective_weight()), vector(h), atol=1e-6)
    from_map = build_adapter(spec, (2, 3, 3), (6,), torch.Generator().manual_seed(0))
    assert not from_map.linear
    assert tuple(from_map(_inputs((2, 3, 3))).shape) == (BATCH, 6)
    # map -> map, per position (1x1 convolutions): pooled down, padded up, or at the same size
    for in_shape, out_shape in [((2, 8, 8), (4, 3, 3)), ((2, 3, 3), (4, 5, 5)), ((2, 3, 3), (4, 3, 3))]:
        to_map = build_adapter(spec, in_shape, out_shape, torch.Generator().manual_seed(0))
        assert not to_map.linear
        assert tuple(to_map(_inputs(in_shape)).shape) == (BATCH, *out_shape)
    with pytest.raises(KernelInputError, match=r"no adapter joins a \(n,\) vector \(8,\) to a \(C, H, W\) map"):
        build_adapter(spec, (8,), (4, 3, 3), None)


# -- models and their trainers ---------------------------------------------------------------------------------------

def _data(model, n=4 * BATCH):
    """(x, y) for the model: x one tensor, or a ViewInputs of every view its columns read."""
    g = torch.Generator().manual_seed(1)
    views_read = getattr(model, "input_shapes", {})
    x = (ViewInputs({view: torch.rand((n, *shape), generator=g) for view, shape in views_read.items()})
         if len(views_read) > 1 else torch.rand((n, *model.layer_shapes[0]), generator=g))
    return x, torch.randint(0, model.layer_shapes[-1][0], (n,), generator=g)


@pytest.mark.parametrize("name, case", MODEL_IDS)
def test_a_model_is_what_describe_model_says(tmp_path, name, case):
    options = MODEL_CASES[name][case](tmp_path)
    described = describe_model(name, {"architecture": name, **options})
    model = build_model(name, seed=1, **options).eval()
    assert described["objective"] == get_model(name).objective
    assert described["input_view"] == model.output_column.reads
    assert {v["view"] for v in described["views"]} == set(getattr(model, "input_shapes", [model.output_column.reads]))
    assert [tuple(s) for s in described["layer_shapes"]] == list(model.layer_shapes)
    assert described["input_shape"] == list(model.layer_shapes[0])
    assert described["classes"] == model.layer_shapes[-1][0]
    x, _ = _data(model)
    assert tuple(model.forward_clean(x).shape) == (len(x), described["classes"])
    hs = model.encoder_activations(x)
    assert [tuple(h.shape[1:]) for h in hs] == list(model.layer_shapes[1:])
    assert torch.equal(hs[-1], model.forward_clean(x))


@pytest.mark.parametrize("name, case", MODEL_IDS)
def test_a_model_state_dict_round_trip_gives_identical_outputs(tmp_path, name, case):
    options = MODEL_CASES[name][case](tmp_path)
    a, b = build_model(name, seed=1, **options), build_model(name, seed=2, **options)
    assert not _state_equal(a.state_dict(), b.state_dict())
    b.load_state_dict(a.state_dict())
    x, _ = _data(a)
    a.eval(), b.eval()
    assert torch.equal(a.forward_clean(x), b.forward_clean(x))
    exported = source_column_state(a)
    assert _state_equal(exported, a.output_column.state_dict())


def _train(tmp_path, name, case, seed):
    """A model of `name` (its `case`) and its objective's trainer after one epoch of TRAINING from `seed`, on a pool
    of all but the last BATCH examples, every other one labeled."""
    model = build_model(name, seed=seed, **MODEL_CASES[name][case](tmp_path))
    x, y = _data(model)
    trainer_class = trainer_for(get_model(name).objective)
    train = torch.arange(len(x) - BATCH)
    trainer = trainer_class.for_run(model, x, y, train, train[::2], TRAINER_CASES[trainer_class.kind], seed)
    metrics = trainer.train_epoch(**trainer_class.epoch_options(TRAINER_CASES[trainer_class.kind]))
    return model, trainer, metrics


@pytest.mark.parametrize("name, case", MODEL_IDS)
def test_a_model_trains_finitely_and_the_same_seed_repeats_bit_for_bit(tmp_path, name, case):
    initial = build_model(name, seed=7, **MODEL_CASES[name][case](tmp_path)).state_dict()
    assert _state_equal(initial, build_model(name, seed=7, **MODEL_CASES[name][case](tmp_path)).state_dict())
    model, trainer, metrics = _train(tmp_path, name, case, seed=7)
    again, _, metrics_again = _train(tmp_path, name, case, seed=7)
    losses = [metrics["loss_total"], metrics["loss_supervised"], *metrics.get("loss_denoising", [])]
    assert all(v is not None and math.isfinite(v) for v in losses), metrics
    assert not _state_equal(initial, model.state_dict())
    assert _state_equal(model.state_dict(), again.state_dict())
    timeless = lambda m: {k: v for k, v in m.items() if k not in ("seconds", "examples_per_s")}
    assert timeless(metrics) == timeless(metrics_again)
    test = trainer.evaluate(*_data(model, n=BATCH))
    assert 0.0 <= test["accuracy"] <= 1.0 and test["examples"] == BATCH


@pytest.mark.parametrize("case", sorted(MODEL_CASES["progressive"]))
def test_a_frozen_progressive_column_never_changes(tmp_path, case):
    model, _, _ = _train(tmp_path, "progressive", case, seed=3)
    source = safe_load.load(str(tmp_path / "source.pt"), what="column file", hint="")
    assert _state_equal(source, model.columns[0].state_dict())
    assert not model.columns[0].training and model.columns[-1].training


def test_registries_refuse_unknown_names_and_options(tmp_path):
    with pytest.raises(KernelInputError, match=r"unknown model 'conv'; known: conv_ladder, ladder, mlp, progressive"):
        build_model("conv")
    with pytest.raises(KernelInputError, match=r"model 'mlp': missing \['widths'\]"):
        build_model("mlp", seed=1)
    with pytest.raises(KernelInputError, match=r"model 'mlp': unknown option\(s\) \['noise_std'\]"):
        describe_model("mlp", {"widths": WIDTHS, "noise_std": 0.3})
    with pytest.raises(KernelInputError, match=r"unknown column architecture 'resnet'"):
        build_column("resnet", widths=WIDTHS)
    with pytest.raises(KernelInputError, match="no trainer for objective 'contrastive'"):
        trainer_for("contrastive")

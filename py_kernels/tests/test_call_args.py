"""The kernels check every call's arguments against the JSON Schema exported from TypeScript (call_args.schema.json)."""
import json

import pytest

from py_kernels import call_args
from py_kernels.errors import KernelInputError


def _progressive(columns, laterals=()):
    return {"architecture": "progressive", "spec": {"columns": list(columns), "laterals": list(laterals)}}


def _column(name, frozen=False, widths=(784, 10), batch_norm=True):
    weights = {"from": "file", "path": f"/columns/{name}.pt"} if frozen else {"from": "init"}
    return {"name": name, "architecture": "fc", "widths": list(widths), "weights": weights, "frozen": frozen,
            "batch_norm": batch_norm}


def _lateral(adapter):
    return {"from": {"column": 0, "layer": 1}, "to": {"column": 1, "layer": 2}, "adapter": adapter}


TRAINING = {"epochs": 1, "iterations_per_epoch": 1, "labeled_batch": 10, "unlabeled_batch": 10, "learning_rate": 0.002,
            "decay_fraction": 0.0, "stop_at_validation_accuracy": None,
            "population_statistics": None}
TENSORS = {"train_x": "x", "train_y": "y", "train": "split.train", "labeled": "split.labeled",
           "validation": "split.validation", "test_x": "tx", "test_y": "ty"}


def _run_create(model):
    return {"run_id": "r", "model": model, "training": TRAINING, "seed": 1, "tensors": TENSORS, "test_limit": None}


def test_a_complete_declared_call_passes():
    laterals = [_lateral({"kind": "scalar", "alpha_init": 0.1, "placement": "post_norm"})]
    call_args.check("run_create", _run_create(_progressive([_column("a", frozen=True), _column("t", batch_norm=False)],
                                                           laterals)))
    call_args.check("run_create", {**_run_create(_progressive([_column("t")])), "tensors": {**TENSORS,
                                                                                             "validation": None}})
    call_args.check("data_pool_split", {"labels": "y", "pool": {"start": 29500, "stop": 59001}, "validation": 1000,
                                        "labeled": None, "seed": 1, "store_as": "split"})
    call_args.check("ping", {})


@pytest.mark.parametrize("model, where", [
    (_progressive([{**_column("t"), "widths": [784]}]), "model.spec.columns[0].widths"),
    (_progressive([{**_column("t"), "architecture": "resnet"}]), "model.spec.columns[0].architecture"),
    (_progressive([{**_column("t"), "architecture": "conv"}]), "model.spec.columns[0]: 'channels' is a required"),
    (_progressive([{**_column("t"), "architecture": "conv", "channels": [32, 64]}]),
     "model.spec.columns[0].channels: [32, 64] is too short"),
    (_progressive([_column("t")], [_lateral({"kind": "scalar"})]), "model.spec.laterals[0].adapter"),
    (_progressive([_column("t")], [_lateral({"kind": "none", "placement": "after"})]),
     "model.spec.laterals[0].adapter"),
    (_progressive([{k: v for k, v in _column("t").items() if k != "batch_norm"}]), "model.spec.columns[0]"),
    ({"architecture": "mlp", "widths": [784, 10], "noise_std": 0.3}, "model"),
    ({"architecture": "ladder", "widths": [784, 10]}, "model"),
])
def test_a_malformed_model_is_refused_naming_the_field(model, where):
    with pytest.raises(KernelInputError, match=r"call 'run_create': arguments do not fit its declaration: "
                                               + where.replace("[", r"\[").replace("]", r"\]")):
        call_args.check("run_create", _run_create(model))


def test_an_unknown_argument_or_call_is_refused():
    with pytest.raises(KernelInputError, match="Additional properties"):
        call_args.check("ping", {"extra": 1})
    with pytest.raises(KernelInputError, match="no declared arguments"):
        call_args.check("no_such_call", {})


def test_every_registered_call_is_declared_and_every_declaration_registered():
    import py_kernels.api as api  # registers the calls (and arms the parent watchdog: harmless under pytest)

    declared = set(json.loads(call_args.SCHEMA_FILE.read_text())["calls"])
    assert set(api.CALLS) == declared

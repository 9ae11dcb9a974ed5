"""runs: checkpoints and exported columns go through safe_load; a resume from a written checkpoint is exact; a run
trains on its pool split and reports its validation set."""
from __future__ import annotations

import os

import pytest
import torch

from py_kernels import runs
from py_kernels.data import pool_split
from py_kernels.errors import KernelInputError
from py_kernels.tensors import TensorStore

TRAINING = {"epochs": 3, "iterations_per_epoch": 3, "labeled_batch": 16, "unlabeled_batch": 16, "learning_rate": 0.002,
            "decay_fraction": 0.5, "stop_at_validation_accuracy": None,
            "population_statistics": None}
WIDTHS = [784, 32, 16, 10]
MODELS = {  # the full configs TypeScript sends
    "ladder": {"architecture": "ladder", "widths": WIDTHS, "noise_std": 0.3, "denoising_weights": [1000, 10, 0.1, 0.1],
               "gamma_only": False},
    "mlp": {"architecture": "mlp", "widths": WIDTHS},
    "progressive": {"architecture": "progressive", "spec": {
        "columns": [{"name": "a", "architecture": "fc", "widths": [784, 20, 10], "batch_norm": True,
                     "weights": {"from": "init"}, "frozen": False},
                    {"name": "t", "architecture": "fc", "widths": WIDTHS, "batch_norm": True,
                     "weights": {"from": "init"}, "frozen": False}],
        "laterals": [{"from": {"column": 0, "layer": 1}, "to": {"column": 1, "layer": 2},
                      "adapter": {"kind": "scalar", "alpha_init": 0.1, "placement": "pre_norm"}}]}},
    "progressive-post-norm-no-bn": {"architecture": "progressive", "spec": {
        "columns": [{"name": "a", "architecture": "fc", "widths": [784, 20, 10], "batch_norm": True,
                     "weights": {"from": "init"}, "frozen": False},
                    {"name": "t", "architecture": "fc", "widths": WIDTHS, "batch_norm": False,
                     "weights": {"from": "init"}, "frozen": False}],
        "laterals": [{"from": {"column": 0, "layer": 1}, "to": {"column": 1, "layer": 2},
                      "adapter": {"kind": "rusu", "alpha_init": 0.1, "reduced": 8, "placement": "post_norm"}}]}},
}


@pytest.fixture
def store(tmp_path):
    store = TensorStore(str(tmp_path))
    g = torch.Generator().manual_seed(0)
    store.put("x", torch.rand(100, 784, generator=g))
    store.put("y", torch.arange(100) % 10)
    store.put("all", torch.arange(100))
    # the pool [10, 90), 20 of it held out, 30 labels
    split = pool_split(store.get("y").numpy(), (10, 90), 20, 30, seed=1)
    for part in ("train", "labeled", "validation"):
        store.put(f"split.{part}", torch.from_numpy(getattr(split, part)))
    return store


TENSORS = {"train_x": "x", "train_y": "y", "train": "all", "labeled": "all", "validation": None, "test_x": "x",
           "test_y": "y"}
SPLIT = {**TENSORS, "train": "split.train", "labeled": "split.labeled", "validation": "split.validation"}


def _create(run_id: str, store: TensorStore, architecture: str = "ladder", tensors: dict = TENSORS) -> dict:
    return runs.create(run_id, MODELS[architecture], TRAINING, seed=1, tensors=tensors, test_limit=None, store=store,
                       device=torch.device("cpu"))


@pytest.mark.parametrize("architecture", sorted(MODELS))
def test_a_resumed_run_ends_bit_identical(tmp_path, store, architecture):
    checkpoint = str(tmp_path / "checkpoint.pt")
    _create("straight", store, architecture)
    _create("resumed", store, architecture)
    try:
        for _ in range(3):
            runs.epoch("straight", None, None)
        runs.epoch("resumed", checkpoint, None)
        runs.close("resumed")
        _create("resumed", store, architecture)
        assert runs.load_checkpoint("resumed", checkpoint)["epoch"] == 1
        for _ in range(2):
            runs.epoch("resumed", None, None)
        assert runs.weights_sha256("resumed") == runs.weights_sha256("straight")
    finally:
        runs.close("straight")
        runs.close("resumed")


def test_a_crafted_checkpoint_and_column_are_refused(tmp_path, store):
    class Calls:
        def __reduce__(self):
            return os.system, (f"touch {tmp_path / 'MARKER'}",)

    torch.save({"kind": "ladder", "model": Calls()}, tmp_path / "checkpoint.pt")
    _create("crafted", store)
    try:
        with pytest.raises(KernelInputError, match=r"checkpoint .*checkpoint\.pt holds a pickled object of type posix"):
            runs.load_checkpoint("crafted", str(tmp_path / "checkpoint.pt"))
        with pytest.raises(KernelInputError, match=r"column file .*checkpoint\.pt holds a pickled object"):
            runs.column_outputs("crafted", str(tmp_path / "checkpoint.pt"), store.get("x"))
        torch.save({"not": "a checkpoint"}, tmp_path / "other.pt")
        with pytest.raises(KernelInputError, match="is not a trainer checkpoint"):
            runs.load_checkpoint("crafted", str(tmp_path / "other.pt"))
    finally:
        runs.close("crafted")
    assert not (tmp_path / "MARKER").exists()


def test_an_exported_column_reads_back_through_column_outputs(tmp_path, store):
    _create("export", store)
    try:
        runs.epoch("export", None, None)
        runs.export("export", str(tmp_path / "model.pt"), str(tmp_path / "column.pt"))
        outputs = runs.column_outputs("export", str(tmp_path / "column.pt"), store.get("x"))
        assert outputs["max_abs_difference"] == [0.0] * outputs["layers"]
    finally:
        runs.close("export")


@pytest.mark.parametrize("architecture", ["ladder", "mlp"])
def test_a_run_trains_on_its_split_and_reports_its_validation_set(store, architecture):
    created = _create("split", store, architecture, SPLIT)
    plain = _create("plain", store, architecture)
    try:
        assert {k: created[k] for k in ("labeled", "unlabeled", "validation")} == \
            {"labeled": 30, "unlabeled": 60, "validation": 20}
        assert plain["validation"] == 0 and plain["unlabeled"] == 100
        trainer = runs.get("split").trainer
        train = store.get("split.train")
        if architecture == "ladder":  # the unlabeled pool is x[train], not the whole split
            assert torch.equal(trainer.x_unlabeled, store.get("x")[train])
            assert runs.get("plain").trainer.x_unlabeled is store.get("x")  # the whole split, not a copy
        labeled_x = trainer.x_labeled if architecture == "ladder" else trainer.x
        assert torch.equal(labeled_x, store.get("x")[store.get("split.labeled")])
        metrics = runs.epoch("split", None, None)
        validation = store.get("split.validation")
        expected = trainer.evaluate(store.get("x")[validation], store.get("y")[validation])
        assert (metrics["validation_accuracy"], metrics["validation_error"], metrics["validation_examples"]) == \
            (expected["accuracy"], expected["error"], 20)
        assert metrics["test_examples"] == 100
        none = runs.epoch("plain", None, None)
        assert (none["validation_accuracy"], none["validation_error"], none["validation_examples"]) == (None, None, 0)
    finally:
        runs.close("split")
        runs.close("plain")


def test_a_split_that_does_not_fit_is_refused(store):
    store.put("outside", torch.tensor([5, 100]))
    store.put("floats", torch.zeros(3))
    cases = [
        ({**SPLIT, "labeled": "outside"}, r"tensors\.labeled \('outside'\) holds indices 5\.\.100, but the training "
                                          r"split has 100 examples"),
        ({**SPLIT, "train": "floats"}, r"tensors\.train \('floats'\) must be a non-empty int64 index vector"),
        ({**SPLIT, "labeled": "split.validation"}, r"tensors\.labeled .* must lie inside tensors\.train"),
        ({**SPLIT, "validation": "split.labeled"}, r"tensors\.validation .* shares images with tensors\.train"),
    ]
    for tensors, message in cases:
        with pytest.raises(KernelInputError, match=message):
            _create("bad", store, "mlp", tensors)
    runs.close("bad")

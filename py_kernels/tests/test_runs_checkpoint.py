"""runs: checkpoints and exported columns go through safe_load; a resume from a written checkpoint is exact."""
from __future__ import annotations

import os

import pytest
import torch

from py_kernels import runs
from py_kernels.errors import KernelInputError
from py_kernels.tensors import TensorStore

TRAINING = {"epochs": 3, "iterations_per_epoch": 3, "labeled_batch": 16, "unlabeled_batch": 16, "learning_rate": 0.002,
            "decay_fraction": 0.5, "stop_at_test_accuracy": None}
WIDTHS = [784, 32, 16, 10]
MODELS = {  # the full configs TypeScript sends
    "ladder": {"architecture": "ladder", "widths": WIDTHS, "noise_std": 0.3, "denoising_weights": [1000, 10, 0.1, 0.1],
               "gamma_only": False},
    "mlp": {"architecture": "mlp", "widths": WIDTHS},
    "progressive": {"architecture": "progressive", "spec": {
        "columns": [{"name": "a", "architecture": "fc", "widths": [784, 20, 10], "weights": {"from": "init"},
                     "frozen": False},
                    {"name": "t", "architecture": "fc", "widths": WIDTHS, "weights": {"from": "init"}, "frozen": False}],
        "laterals": [{"from": {"column": 0, "layer": 1}, "to": {"column": 1, "layer": 2},
                      "adapter": {"kind": "scalar", "alpha_init": 0.1}}]}},
}


@pytest.fixture
def store(tmp_path):
    store = TensorStore(str(tmp_path))
    g = torch.Generator().manual_seed(0)
    store.put("x", torch.rand(64, 784, generator=g))
    store.put("y", torch.randint(0, 10, (64,), generator=g))
    return store


def _create(run_id: str, store: TensorStore, architecture: str = "ladder") -> None:
    runs.create(run_id, MODELS[architecture], TRAINING, seed=1,
                tensors={"train_x": "x", "train_y": "y", "labeled": None, "test_x": "x", "test_y": "y"},
                test_limit=None, store=store, device=torch.device("cpu"))


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

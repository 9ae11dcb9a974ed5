"""safe_load: what a column file or checkpoint may hold, and how a refused or damaged file is reported."""
from __future__ import annotations

import builtins
import os
import subprocess

import pytest
import torch

from py_kernels import safe_load
from py_kernels.errors import KernelInputError
from py_kernels.models import build_model
from py_kernels.models.progressive import _load_column_state
from py_kernels.training import LadderTrainer, SupervisedTrainer, source_column_state


class _Calls:
    """Pickles as a call of `fn(*args)`: what a crafted file does to run code while it is unpickled."""

    def __init__(self, fn, *args):
        self.fn, self.args = fn, args

    def __reduce__(self):
        return self.fn, self.args


def _load(path, what="checkpoint"):
    return safe_load.load(str(path), what=what, hint="delete it")


def _equal(a, b) -> bool:
    if isinstance(a, torch.Tensor):
        return isinstance(b, torch.Tensor) and a.dtype == b.dtype and torch.equal(a, b)
    if isinstance(a, dict):
        return isinstance(b, dict) and list(a) == list(b) and all(_equal(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)):
        return type(a) is type(b) and len(a) == len(b) and all(_equal(x, y) for x, y in zip(a, b))
    return a == b or (a != a and b != b)  # NaN in last_metrics


CONFIGS = {"ladder": {"widths": [784, 32, 10], "noise_std": 0.3, "denoising_weights": [1000, 10, 0.1],
                      "gamma_only": False},
           "mlp": {"widths": [784, 32, 10]}}


def _trainer_state(architecture: str) -> dict:
    model = build_model(architecture, seed=1, **CONFIGS[architecture])
    g = torch.Generator().manual_seed(0)
    x, y = torch.rand(64, 784, generator=g), torch.randint(0, 10, (64,), generator=g)
    common = dict(epochs_planned=3, lr=0.002, decay_fraction=0.5, seed=1)
    if architecture == "ladder":
        trainer = LadderTrainer(model, x[:32], y[:32], x, **common)
        trainer.train_epoch(iterations=2, labeled_batch=16, unlabeled_batch=16)
    else:
        trainer = SupervisedTrainer(model, x, y, **common)
        trainer.train_epoch(iterations=2, batch_size=16)
    state = trainer.state_dict()
    state["last_metrics"] = {"epoch": 1, "loss": 0.5, "test_error": float("nan"), "layers": [1.0, 2.0], "note": None}
    return state


@pytest.mark.parametrize("architecture", ["ladder", "mlp"])
def test_a_trainer_checkpoint_loads_exactly(tmp_path, architecture):
    state = _trainer_state(architecture)
    torch.save(state, tmp_path / "checkpoint.pt")
    assert _equal(state, _load(tmp_path / "checkpoint.pt"))


def test_a_column_file_and_an_exported_model_load(tmp_path):
    column = source_column_state(build_model("mlp", seed=2, **CONFIGS["mlp"]))
    torch.save(column, tmp_path / "column.pt")
    torch.save({"architecture": "mlp", "state": build_model("mlp", seed=2, **CONFIGS["mlp"]).state_dict()},
               tmp_path / "model.pt")
    assert _equal(column, _load(tmp_path / "column.pt", "column file"))
    assert _equal(column, _load_column_state(str(tmp_path / "model.pt"), "columns[0]"))


def test_parameters_and_ordered_dicts_load(tmp_path):
    layer = torch.nn.Linear(3, 2)
    torch.save({"params": dict(layer.named_parameters()), "state": layer.state_dict()}, tmp_path / "p.pt")
    back = _load(tmp_path / "p.pt")
    assert torch.equal(back["params"]["weight"], layer.weight) and torch.equal(back["state"]["bias"], layer.bias)


# Callables a crafted file would name, each with its arguments for a marker file that shows whether it ran.
GADGETS = [
    (os.system, lambda marker: (f"touch {marker}",)),
    (builtins.eval, lambda marker: (f"open({marker!r}, 'w').close()",)),
    (builtins.exec, lambda marker: (f"open({marker!r}, 'w').close()",)),
    (subprocess.call, lambda marker: (["touch", marker],)),
]


@pytest.mark.parametrize("fn, args", GADGETS, ids=lambda v: getattr(v, "__name__", ""))
def test_a_pickled_call_is_refused_before_it_runs(tmp_path, fn, args):
    marker = tmp_path / "MARKER"
    torch.save({"layers.0.weight": torch.zeros(2), "evil": _Calls(fn, *args(str(marker)))}, tmp_path / "evil.pt")
    with pytest.raises(KernelInputError) as refused:
        _load(tmp_path / "evil.pt")
    message = str(refused.value)
    assert str(tmp_path / "evil.pt") in message
    assert f"pickled object of type {fn.__module__}.{fn.__name__}" in message
    assert "refusing to load it" in message
    assert not marker.exists()


def test_a_real_column_with_one_tensor_built_by_eval_is_refused(tmp_path):
    marker = tmp_path / "MARKER"
    column = source_column_state(build_model("mlp", seed=3, **CONFIGS["mlp"]))
    smallest = min(column, key=lambda k: column[k].numel())
    values = column[smallest].tolist()
    column[smallest] = _Calls(builtins.eval, f"(open({str(marker)!r}, 'w').close(), "
                                             f"__import__('torch').tensor({values!r}))[1]")
    torch.save(column, tmp_path / "column.pt")
    with pytest.raises(KernelInputError) as refused:
        _load_column_state(str(tmp_path / "column.pt"), "columns[0]")
    message = str(refused.value)
    assert message.startswith("progressive spec columns[0].weights.path: column file ")
    assert str(tmp_path / "column.pt") in message and "builtins.eval" in message
    assert not marker.exists()


def test_a_plain_pickle_is_not_read(tmp_path):
    import pickle

    marker = tmp_path / "MARKER"
    (tmp_path / "evil.pt").write_bytes(pickle.dumps(_Calls(os.system, f"touch {marker}")))
    with pytest.raises(KernelInputError, match="not a readable torch zip archive"):
        _load(tmp_path / "evil.pt")
    assert not marker.exists()


def test_a_legacy_format_file_is_not_read(tmp_path):
    torch.save({"w": torch.ones(2)}, tmp_path / "old.pt", _use_new_zipfile_serialization=False)
    with pytest.raises(KernelInputError, match="damaged"):
        _load(tmp_path / "old.pt")


def test_a_torchscript_archive_is_refused(tmp_path):
    torch.jit.save(torch.jit.script(torch.nn.Linear(2, 2)), str(tmp_path / "script.pt"))
    with pytest.raises(KernelInputError, match="TorchScript archive"):
        _load(tmp_path / "script.pt")


def test_a_truncated_file_is_reported_as_damaged_with_the_hint(tmp_path):
    torch.save(_trainer_state("mlp"), tmp_path / "checkpoint.pt")
    data = (tmp_path / "checkpoint.pt").read_bytes()
    for cut in (0, 10, len(data) // 2, len(data) - 1):
        (tmp_path / "checkpoint.pt").write_bytes(data[:cut])
        with pytest.raises(KernelInputError) as damaged:
            _load(tmp_path / "checkpoint.pt")
        assert f"checkpoint {tmp_path / 'checkpoint.pt'} is damaged" in str(damaged.value)
        assert str(damaged.value).endswith("; delete it")


def test_a_damaged_byte_inside_the_file_is_reported(tmp_path):
    torch.save(_trainer_state("mlp"), tmp_path / "checkpoint.pt")
    data = bytearray((tmp_path / "checkpoint.pt").read_bytes())
    data[len(data) // 2] ^= 0xFF
    (tmp_path / "checkpoint.pt").write_bytes(bytes(data))
    with pytest.raises(KernelInputError, match="is damaged.*CRC"):
        _load(tmp_path / "checkpoint.pt")


def test_a_missing_file_says_so(tmp_path):
    with pytest.raises(KernelInputError, match="cannot read checkpoint .*No such file"):
        _load(tmp_path / "absent.pt")


@pytest.mark.parametrize("value", [float("nan"), float("inf")])
def test_a_column_of_non_finite_weights_is_refused_naming_the_tensor(tmp_path, value):
    # A frozen column of NaN made every loss NaN: the run was called diverged and told to lower its learning rate.
    column = source_column_state(build_model("mlp", widths=[784, 16, 10], seed=1))
    column["layers.1.weight"][0, 0] = value
    torch.save(column, tmp_path / "column.pt")
    with pytest.raises(KernelInputError, match=r"NaN or infinite values in \['layers.1.weight'\].*finished one"):
        _load_column_state(str(tmp_path / "column.pt"), "columns[0]")


def test_a_fifo_or_device_is_refused_without_reading_it(tmp_path):
    fifo = tmp_path / "column.pt"
    os.mkfifo(fifo)  # no writer: a read would block forever
    for path in (fifo, "/dev/zero"):
        with pytest.raises(KernelInputError, match="is not a regular file"):
            _load(path)
    with pytest.raises(KernelInputError, match="is a folder, not a file"):
        _load(tmp_path)


def test_a_file_larger_than_any_we_write_is_refused_before_it_is_read(tmp_path, monkeypatch):
    (tmp_path / "checkpoint.pt").write_bytes(b"x" * 2048)
    monkeypatch.setattr(safe_load, "MAX_FILE_BYTES", 1024)
    with pytest.raises(KernelInputError, match="is 2048 bytes, more than any file this project writes"):
        _load(tmp_path / "checkpoint.pt")


class _Storage:
    """Pickles as torch's reference to the storage record data/<key>, declared `numel` elements of float32."""

    def __init__(self, key: str, numel: int):
        self.key, self.numel = key, numel


def _torch_zip(path, obj, records: dict) -> None:
    """A file in torch's zip layout holding `obj` (its _Storage references as torch writes them) and `records`
    (key -> bytes): how a crafted file is made, whatever torch.save would write."""
    import io
    import pickle
    import zipfile

    class Pickler(pickle.Pickler):
        def persistent_id(self, o):
            return ("storage", torch.FloatStorage, o.key, "cpu", o.numel) if isinstance(o, _Storage) else None

    data = io.BytesIO()
    Pickler(data, protocol=2).dump(obj)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as archive:
        archive.writestr("archive/data.pkl", data.getvalue())
        for key, raw in records.items():
            archive.writestr(f"archive/data/{key}", raw)
        archive.writestr("archive/version", "3\n")


def _tensor(storage: _Storage, offset: int, size: tuple, stride: tuple) -> _Calls:
    import collections
    return _Calls(torch._utils._rebuild_tensor_v2, storage, offset, size, stride, False, collections.OrderedDict())


def test_the_crafting_helper_writes_a_file_torch_reads(tmp_path):
    values = torch.arange(6, dtype=torch.float32)
    _torch_zip(tmp_path / "ok.pt", {"w": _tensor(_Storage("0", 6), 0, (2, 3), (3, 1))},
               {"0": values.numpy().tobytes()})
    assert torch.equal(_load(tmp_path / "ok.pt")["w"], values.view(2, 3))


def test_a_storage_declared_larger_than_its_record_is_refused(tmp_path):
    # torch gives the storage the declared size over the record's bytes: the tensor reads the memory after them
    # (kept in the run's weights), or faults. 64 KB recorded, 64 MB declared: the last row lies far past the record.
    rows = 16384
    _torch_zip(tmp_path / "column.pt", {"layers.0.weight": _tensor(_Storage("0", 1024 * rows), 1024 * (rows - 1),
                                                                   (16, 1024), (1024, 1))},
               {"0": bytes(16 * 1024 * 4)})
    with pytest.raises(KernelInputError) as refused:
        _load_column_state(str(tmp_path / "column.pt"), "columns[0]")
    message = str(refused.value)
    assert str(tmp_path / "column.pt") in message and "is damaged" in message
    assert f"declared {1024 * rows * 4} bytes but its record data/0 holds {16 * 1024 * 4}" in message


def test_a_storage_with_no_record_is_refused(tmp_path):
    _torch_zip(tmp_path / "c.pt", {"w": _tensor(_Storage("7", 4), 0, (4,), (1,))}, {"0": bytes(16)})
    with pytest.raises(KernelInputError, match="storage record data/7 is missing"):
        _load(tmp_path / "c.pt")


def test_a_tensor_whose_strides_overlap_is_refused_before_a_network_of_its_shape_is_built(tmp_path):
    # One stored number seen as a (10^7, 784) weight: 31 GB that an fc column of those widths would allocate.
    _torch_zip(tmp_path / "column.pt", {"layers.0.weight": _tensor(_Storage("0", 1), 0, (10 ** 7, 784), (0, 0))},
               {"0": bytes(4)})
    with pytest.raises(KernelInputError, match=r"a tensor of shape \[10000000, 784\] views 7840000000 elements over "
                                               r"a storage of 4 bytes"):
        _load_column_state(str(tmp_path / "column.pt"), "columns[0]")


def test_views_of_one_storage_as_torch_save_writes_them_load(tmp_path):
    whole = torch.arange(12, dtype=torch.float32)
    torch.save({"a": whole[:6].view(2, 3), "b": whole[6:], "t": whole.view(3, 4).t()}, tmp_path / "views.pt")
    back = _load(tmp_path / "views.pt")
    assert torch.equal(back["a"], whole[:6].view(2, 3)) and torch.equal(back["t"], whole.view(3, 4).t())

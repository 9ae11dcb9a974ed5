"""The view cache verifies what it loads, and the md5 memo notices a same-size edit whose mtime was set back."""
from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest

from py_kernels.data import registry
from py_kernels.data.cache import ViewCache
from py_kernels.data.checksum import Md5Memo, md5_file

SOURCES = ["0" * 32]
SHARED_DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data"


def _entry(cache: ViewCache, suffix: str) -> Path:
    (path,) = cache.root.glob(f"mnist-train-flat784-*{suffix}")
    return path


def _arrays(seed: int = 0):
    rng = np.random.default_rng(seed)
    return rng.random((50, 784), dtype=np.float32), rng.integers(0, 10, 50).astype(np.int64)


def _overwrite_payload(npy: Path, value: float) -> None:
    """Every element set to `value` in place: same header, same size."""
    a = np.load(npy, mmap_mode="r+")
    a[...] = value
    a.flush()
    del a


def test_a_stored_entry_loads_back_with_its_hash_recorded(tmp_path):
    cache = ViewCache(str(tmp_path))
    x, y = _arrays()
    cache.store("mnist", "train", "flat784", SOURCES, x, y)
    meta = json.loads(_entry(cache, ".json").read_text())
    assert all(len(m["sha256"]) == 64 for m in meta["arrays"].values())
    got = cache.load("mnist", "train", "flat784", SOURCES)
    assert got is not None and np.array_equal(got[0], x) and np.array_equal(got[1], y)


@pytest.mark.parametrize("name, value", [("x", np.inf), ("x", 0.0), ("y", 3)])
def test_a_payload_overwritten_at_the_same_size_is_removed(tmp_path, name, value):
    cache = ViewCache(str(tmp_path))
    cache.store("mnist", "train", "flat784", SOURCES, *_arrays())
    npy = _entry(cache, f".{name}.npy")
    size = npy.stat().st_size
    _overwrite_payload(npy, value)
    assert npy.stat().st_size == size
    assert cache.contains("mnist", "train", "flat784", SOURCES)  # sizes agree: only the content says otherwise
    assert cache.load("mnist", "train", "flat784", SOURCES) is None
    assert list(cache.root.iterdir()) == []  # removed, so the next load computes and stores it again


def test_a_sidecar_without_hashes_is_not_trusted(tmp_path):
    cache = ViewCache(str(tmp_path))
    cache.store("mnist", "train", "flat784", SOURCES, *_arrays())
    sidecar = _entry(cache, ".json")
    meta = json.loads(sidecar.read_text())
    for m in meta["arrays"].values():
        del m["sha256"]
    sidecar.write_text(json.dumps(meta))
    assert not cache.contains("mnist", "train", "flat784", SOURCES)
    assert cache.load("mnist", "train", "flat784", SOURCES) is None
    x, y = _arrays(1)
    cache.store("mnist", "train", "flat784", SOURCES, x, y)  # what the caller does next
    assert np.array_equal(cache.load("mnist", "train", "flat784", SOURCES)[0], x)


@pytest.mark.skipif(not (SHARED_DATA / "mnist-m" / "test.npz").is_file(), reason="no MNIST-M in ../shared/data")
def test_load_view_rebuilds_a_corrupted_entry(tmp_path):
    first, labels = registry.load_view("mnist-m", "test", "flat784", str(SHARED_DATA), str(tmp_path))
    (npy,) = (tmp_path / "views").glob("mnist-m-test-flat784-*.x.npy")
    _overwrite_payload(npy, np.inf)
    x, y = registry.load_view("mnist-m", "test", "flat784", str(SHARED_DATA), str(tmp_path))
    assert bool(x.isfinite().all()) and x.equal(first) and y.equal(labels)
    assert np.isfinite(np.load(npy)).all()  # stored again


def _edit_keeping_mtime(path: Path) -> None:
    st = path.stat()
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert path.stat().st_size == st.st_size and path.stat().st_mtime_ns == st.st_mtime_ns


def test_md5_memo_sees_a_same_size_edit_with_its_mtime_restored(tmp_path):
    data = tmp_path / "file.bin"
    data.write_bytes(os.urandom(1 << 16))
    before = Md5Memo(str(tmp_path)).md5(str(data))
    _edit_keeping_mtime(data)
    assert Md5Memo(str(tmp_path)).md5(str(data)) == md5_file(str(data)) != before  # through the on-disk index
    memo = Md5Memo()
    memo.md5(str(data))
    _edit_keeping_mtime(data)
    assert memo.md5(str(data)) == md5_file(str(data))  # and within one process


def test_md5_index_entries_of_the_old_format_are_hashed_again(tmp_path):
    data = tmp_path / "file.bin"
    data.write_bytes(b"new bytes")
    st = data.stat()
    old = {str(data.resolve()): {"size": st.st_size, "mtime_ns": st.st_mtime_ns, "md5": "f" * 32}}
    (tmp_path / Md5Memo.INDEX_NAME).write_text(json.dumps(old))
    assert Md5Memo(str(tmp_path)).md5(str(data)) == md5_file(str(data))
    entry = json.loads((tmp_path / Md5Memo.INDEX_NAME).read_text())[str(data.resolve())]
    assert entry["ino"] == st.st_ino and entry["ctime_ns"] == st.st_ctime_ns

"""On-disk cache of preprocessed views (flat784, rgb32, and alexnet-features: features.py) as .npy, keyed by source md5s
(plus, for a feature view, the network's identity), view name and views.VERSION.

An entry is `<base>.x.npy`, `<base>.y.npy` and `<base>.json`. Each file is written atomically, and the json sidecar,
which records every array's shape, dtype, byte size and sha256, is written last: an entry without a sidecar, or whose
files disagree with it (a payload overwritten in place included), is treated as absent (and removed), so a killed
process or a damaged file costs a recompute, never a wrong tensor. The sha256 of the 188 MB MNIST flat784 array costs
about 0.13 s per load on these machines (hashlib uses the CPU's SHA instructions where it has them).
"""
from __future__ import annotations

import contextlib
import hashlib
import json
import os
import time
from pathlib import Path
from typing import Optional, Sequence, Tuple

import numpy as np

from ..errors import KernelInputError
from . import views
from .atomic import atomic_write

_ORPHAN_AGE_S = 3600  # temp files older than this belong to a killed writer


class ViewCache:
    def __init__(self, cache_dir: str):
        if not cache_dir:
            raise KernelInputError("cache_dir must be a directory path, got an empty value.")
        self.root = Path(cache_dir) / "views"
        self.root.mkdir(parents=True, exist_ok=True)
        self._remove_orphans()

    def _base(self, dataset: str, split: str, view: str, source_md5s: Sequence[str]) -> Path:
        if view not in views.CACHEABLE_VIEWS:
            raise KernelInputError(f"View {view!r} is not cached; cacheable views are {list(views.CACHEABLE_VIEWS)}.")
        key = hashlib.md5("|".join([*source_md5s, view, str(views.VERSION)]).encode()).hexdigest()[:16]
        return self.root / f"{dataset}-{split}-{view}-v{views.VERSION}-{key}"

    def contains(self, dataset: str, split: str, view: str, source_md5s: Sequence[str]) -> bool:
        """Whether a complete entry exists (sidecar present and file sizes as recorded); reads no array data, so
        it does not check the hashes (load does)."""
        base = self._base(dataset, split, view, source_md5s)
        meta = self._read_meta(base, source_md5s)
        return meta is not None and all(_size(base, a) == m["bytes"] for a, m in meta["arrays"].items())

    def load(self, dataset: str, split: str, view: str, source_md5s: Sequence[str]
             ) -> Optional[Tuple[np.ndarray, np.ndarray]]:
        """(x, y) of a valid entry, or None; an invalid (short, corrupt, mismatched) entry is removed."""
        base = self._base(dataset, split, view, source_md5s)
        meta = self._read_meta(base, source_md5s)
        if meta is None:
            return None
        arrays = {}
        for name, m in meta["arrays"].items():
            try:
                if _size(base, name) != m["bytes"]:
                    raise ValueError("size differs from sidecar")
                a = np.load(_array_path(base, name), allow_pickle=False)
                if list(a.shape) != m["shape"] or str(a.dtype) != m["dtype"]:
                    raise ValueError("shape or dtype differs from sidecar")
                if _sha256(a) != m["sha256"]:
                    raise ValueError("content differs from sidecar")
            except (OSError, ValueError, KeyError, TypeError):
                self._remove(base)
                return None
            arrays[name] = a
        return arrays["x"], arrays["y"]

    def store(self, dataset: str, split: str, view: str, source_md5s: Sequence[str],
              x: np.ndarray, y: np.ndarray, about: Optional[dict] = None) -> None:
        """`about`: what a reader of the sidecar should know of how x was made (e.g. a feature view's weights)."""
        base = self._base(dataset, split, view, source_md5s)
        meta = {"dataset": dataset, "split": split, "view": view, "version": views.VERSION,
                "sources": list(source_md5s), "arrays": {}}
        if about is not None:
            meta["about"] = about
        for name, a in (("x", x), ("y", y)):
            a = np.ascontiguousarray(a)
            with atomic_write(_array_path(base, name)) as f:
                np.save(f, a, allow_pickle=False)
            meta["arrays"][name] = {"shape": list(a.shape), "dtype": str(a.dtype), "bytes": _size(base, name),
                                    "sha256": _sha256(a)}
        with atomic_write(base.with_name(base.name + ".json"), "w") as f:  # last: it marks the entry complete
            json.dump(meta, f, indent=1)

    @staticmethod
    def _read_meta(base: Path, source_md5s: Sequence[str]) -> Optional[dict]:
        try:
            meta = json.loads(base.with_name(base.name + ".json").read_text())
        except (OSError, ValueError):
            return None
        if not isinstance(meta, dict) or meta.get("sources") != list(source_md5s) \
                or meta.get("version") != views.VERSION or set(meta.get("arrays", {})) != {"x", "y"}:
            return None
        # A sidecar written before hashes were recorded cannot vouch for its arrays: the entry is rebuilt.
        if not all(isinstance(m, dict) and isinstance(m.get("sha256"), str) for m in meta["arrays"].values()):
            return None
        return meta

    def _remove(self, base: Path) -> None:
        # The sidecar goes first, so a crash halfway leaves an entry that reads as absent.
        for suffix in (".json", ".x.npy", ".y.npy"):
            with contextlib.suppress(FileNotFoundError):
                base.with_name(base.name + suffix).unlink()

    def _remove_orphans(self) -> None:
        now = time.time()
        for p in self.root.glob(".tmp-*"):
            with contextlib.suppress(OSError):
                if now - p.stat().st_mtime > _ORPHAN_AGE_S:
                    p.unlink()


def _array_path(base: Path, name: str) -> Path:
    return base.with_name(f"{base.name}.{name}.npy")


def _sha256(a: np.ndarray) -> str:
    """Hex sha256 of a C-contiguous array's bytes (the header is checked separately: shape and dtype)."""
    return hashlib.sha256(memoryview(np.ascontiguousarray(a)).cast("B")).hexdigest()


def _size(base: Path, name: str) -> int:
    try:
        return os.path.getsize(_array_path(base, name))
    except OSError:
        return -1

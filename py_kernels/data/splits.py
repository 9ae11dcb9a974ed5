"""Which training examples keep their labels.

Semi-supervised source training: `n_labeled` labeled examples, n/10 of each digit; the unlabeled pool is the whole
training set (labeled examples included), as in Rasmus et al. 2015. The target domain's label budget follows the
same balanced rule.

Determinism: class c's examples (in file order) are permuted by one `np.random.Generator(np.random.PCG64(seed))`,
used for class 0, then 1, ... 9, and the first n/10 are taken. PCG64's stream is fixed by numpy's policy (NEP 19)
and does not depend on the machine; Generator.permutation's algorithm has been unchanged since numpy 1.17, but numpy
does not formally promise that, so tests pin the indices for a known seed to catch a change.
"""
from __future__ import annotations

from typing import Optional, Tuple

import numpy as np

from ..errors import KernelInputError

NUM_CLASSES = 10


def balanced_labeled_indices(labels: np.ndarray, n_labeled: int, seed: int,
                             num_classes: int = NUM_CLASSES) -> np.ndarray:
    """Sorted int64 indices of `n_labeled` examples, exactly n_labeled/num_classes of each class, chosen by `seed`."""
    labels = np.asarray(labels).reshape(-1)
    if isinstance(n_labeled, bool) or not isinstance(n_labeled, (int, np.integer)) or n_labeled < num_classes:
        raise KernelInputError(f"n_labeled must be a whole number of at least {num_classes}, got {n_labeled!r}.")
    if n_labeled % num_classes:
        raise KernelInputError(f"n_labeled={n_labeled} is not divisible by the {num_classes} classes; a balanced "
                               f"split needs a multiple of {num_classes} (e.g. {n_labeled - n_labeled % num_classes}).")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise KernelInputError(f"seed must be a non-negative whole number, got {seed!r}.")
    per_class = int(n_labeled) // num_classes
    members = [np.flatnonzero(labels == c) for c in range(num_classes)]
    counts = [len(m) for m in members]
    short = [c for c in range(num_classes) if counts[c] < per_class]
    if short:
        c = short[0]
        raise KernelInputError(f"n_labeled={n_labeled} needs {per_class} examples of class {c}, but the labels hold "
                               f"only {counts[c]}; use n_labeled of at most {num_classes * min(counts)}.")
    rng = np.random.Generator(np.random.PCG64(int(seed)))
    chosen = [m[rng.permutation(len(m))[:per_class]] for m in members]  # class order 0..9 fixes the stream use
    return np.sort(np.concatenate(chosen)).astype(np.int64)


def label_budget_indices(labels: np.ndarray, n: Optional[int], seed: int,
                         num_classes: int = NUM_CLASSES) -> np.ndarray:
    """Target-domain label budget: all indices when n is None, else balanced_labeled_indices(labels, n, seed)."""
    if n is None:
        return np.arange(len(labels), dtype=np.int64)
    return balanced_labeled_indices(labels, n, seed, num_classes)


def semi_supervised_split(labels: np.ndarray, n_labeled: int, seed: int,
                          num_classes: int = NUM_CLASSES) -> Tuple[np.ndarray, np.ndarray]:
    """(labeled indices, unlabeled indices); the unlabeled pool is every training example."""
    return (balanced_labeled_indices(labels, n_labeled, seed, num_classes),
            np.arange(len(np.asarray(labels).reshape(-1)), dtype=np.int64))

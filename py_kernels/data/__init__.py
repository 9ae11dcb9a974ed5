"""Datasets (MNIST, SVHN, MNIST-M), their float views, the view cache and the pool / validation / labeled splits.

Ask for data by name through the registry; the per-dataset modules hold the file formats.
"""
from .registry import DATASETS, contact_sheet, describe, get_dataset, load_split, load_view, locate
from .splits import PoolSplit, balanced_labeled_indices, pool_split
from .svhn import download_svhn

__all__ = [
    "DATASETS", "PoolSplit", "balanced_labeled_indices", "contact_sheet", "describe", "download_svhn", "get_dataset",
    "load_split", "load_view", "locate", "pool_split",
]

"""Datasets (MNIST, SVHN, MNIST-M), their float views, the view cache and the labeled/unlabeled splits.

Ask for data by name through the registry; the per-dataset modules hold the file formats.
"""
from .registry import DATASETS, contact_sheet, describe, get_dataset, load_split, load_view, locate
from .splits import balanced_labeled_indices, label_budget_indices, semi_supervised_split
from .svhn import download_svhn

__all__ = [
    "DATASETS", "balanced_labeled_indices", "contact_sheet", "describe", "download_svhn", "get_dataset",
    "label_budget_indices", "load_split", "load_view", "locate", "semi_supervised_split",
]

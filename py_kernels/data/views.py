"""The float32 views the models read, computed from raw uint8 images (grayscale (N,H,W) or RGB (N,H,W,3)).

flat784     (N, 784)          FC ladder columns: grayscale 28x28 in [0, 1]
rgb32       (N, 3, 32, 32)    conv Gamma-model: RGB in [0, 1]
imagenet224 (n, 3, 224, 224)  AlexNet column: ImageNet-normalised; never materialised for a whole dataset
alexnet-features (N, 9216)    AlexNet's pool5 of imagenet224, computed by a frozen network (features.py), with options
"""
from __future__ import annotations

from typing import Callable, Iterator, Optional, Sequence

import numpy as np
import torch
import torch.nn.functional as F

from ..errors import KernelInputError
from ..progress import Progress, ProgressSink

VIEWS = ("flat784", "rgb32", "imagenet224", "alexnet-features")
CACHEABLE_VIEWS = ("flat784", "rgb32", "alexnet-features")
FEATURE_VIEWS = ("alexnet-features",)  # computed by a frozen network (features.py), not by compute_view
# Part of the cache key: bump whenever a conversion below changes its output, so stale cache entries are not used.
VERSION = 1

# ITU-R BT.601 luma, the weights of PIL's convert("L") (kept in float here, without PIL's rounding to 8 bits).
LUMA = (0.299, 0.587, 0.114)
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
# Above this an imagenet224 request is refused: 60000 MNIST images would be 60000*3*224*224*4 bytes = 36 GB.
IMAGENET224_MAX_BYTES = 2 * 1024**3
_BYTES_PER_224 = 3 * 224 * 224 * 4

BATCH = 4096


def _check_images(images: np.ndarray) -> None:
    ok = isinstance(images, np.ndarray) and images.dtype == np.uint8 and (
        images.ndim == 3 or (images.ndim == 4 and images.shape[3] == 3))
    if not ok:
        raise KernelInputError(f"images must be uint8 (N, H, W) or (N, H, W, 3), got "
                               f"{getattr(images, 'dtype', type(images).__name__)} {getattr(images, 'shape', '')}.")


def _nchw(batch: np.ndarray) -> torch.Tensor:
    """uint8 (B,H,W) or (B,H,W,3) -> float32 (B,C,H,W) in [0, 255]."""
    x = torch.from_numpy(batch.astype(np.float32))  # numpy's allocation: see _batched
    return x.unsqueeze(1) if x.dim() == 3 else x.permute(0, 3, 1, 2)


def _resize(x: torch.Tensor, size: int) -> torch.Tensor:
    """Bilinear resize of (B,C,H,W); antialiased when shrinking, which matches PIL's Image.resize(BILINEAR)."""
    if x.shape[-2:] == (size, size):
        return x
    shrink = x.shape[-1] > size or x.shape[-2] > size
    return F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False, antialias=shrink)


# Each converter fills a slice of the preallocated output in place: on the 2-core VMs, fresh large torch allocations
# (page faults) cost more than the arithmetic.

def _flat784_into(batch: np.ndarray, out: torch.Tensor) -> None:  # out: (B, 784)
    if batch.ndim == 3 and batch.shape[1:] == (28, 28):
        out.copy_(torch.from_numpy(np.ascontiguousarray(batch)).view(len(batch), 784))
    else:
        x = _nchw(batch)  # (B, C, H, W)
        if x.shape[1] == 3:
            # The paper's preprocessing for the FC columns: RGB -> grayscale -> 28x28 -> 784 vector.
            x = torch.tensordot(x, torch.tensor(LUMA), dims=([1], [0])).unsqueeze(1)  # (B, 1, H, W)
        out.copy_(_resize(x, 28).reshape(len(batch), 784))
    out.div_(255.0).clamp_(0.0, 1.0)


def _rgb32_into(batch: np.ndarray, out: torch.Tensor) -> None:  # out: (B, 3, 32, 32)
    x = torch.from_numpy(np.ascontiguousarray(batch))
    if x.dim() == 3:
        if x.shape[1:] != (28, 28):
            raise KernelInputError(f"rgb32 of grayscale images needs 28x28 (MNIST), got {tuple(x.shape[1:])}.")
        out.zero_()  # MNIST: 2 px of zeros around, gray copied to R, G, B
        out[:, :, 2:30, 2:30].copy_(x.unsqueeze(1).expand(-1, 3, -1, -1))
    elif x.shape[1:3] != (32, 32):
        raise KernelInputError(f"rgb32 needs 32x32 RGB images, got {tuple(x.shape[1:3])}.")
    else:
        out.copy_(x.permute(0, 3, 1, 2))
    out.div_(255.0)


_MEAN = torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1)
_STD = torch.tensor(IMAGENET_STD).view(1, 3, 1, 1)


def _imagenet224_into(batch: np.ndarray, out: torch.Tensor) -> None:  # out: (B, 3, 224, 224)
    x = _nchw(batch)
    out.copy_(_resize(x.expand(-1, 3, -1, -1) if x.shape[1] == 1 else x, 224))
    out.div_(255.0).sub_(_MEAN).div_(_STD)


_SHAPES = {"flat784": (784,), "rgb32": (3, 32, 32), "imagenet224": (3, 224, 224)}


def _batched(images: np.ndarray, fill: Callable[[np.ndarray, torch.Tensor], None], view: str,
             progress_sink: Optional[ProgressSink], batch_size: Optional[int] = None) -> torch.Tensor:
    """Converts batch by batch into one preallocated tensor, keeping the float intermediates small."""
    n = len(images)
    batch_size = batch_size or BATCH
    progress = Progress(progress_sink, f"view {view}", n)
    # numpy allocates large arrays with transparent huge pages (torch 1.13 does not): far fewer page faults.
    out = torch.from_numpy(np.empty((n, *_SHAPES[view]), dtype=np.float32))
    for start in range(0, n, batch_size):
        fill(images[start:start + batch_size], out[start:start + batch_size])
        progress.update(min(start + batch_size, n))
    return out


def flat784(images: np.ndarray, progress_sink: Optional[ProgressSink] = None) -> torch.Tensor:
    """(N, 784) float32 grayscale 28x28 in [0, 1]: MNIST /255; RGB 32x32 -> BT.601 luma -> antialiased bilinear 28x28."""
    _check_images(images)
    return _batched(images, _flat784_into, "flat784", progress_sink)


def rgb32(images: np.ndarray, progress_sink: Optional[ProgressSink] = None) -> torch.Tensor:
    """(N, 3, 32, 32) float32 in [0, 1]; MNIST is zero-padded 28->32 and repeated to 3 channels."""
    _check_images(images)
    return _batched(images, _rgb32_into, "rgb32", progress_sink)


def _select(images: np.ndarray, indices: Optional[Sequence[int]]) -> np.ndarray:
    if indices is None:
        return images
    idx = np.asarray(indices, dtype=np.int64).reshape(-1)
    if idx.size and (idx.min() < -len(images) or idx.max() >= len(images)):
        raise KernelInputError(f"indices must lie in 0..{len(images) - 1}, got min {idx.min()} max {idx.max()}.")
    return images[idx]


def imagenet224(images: np.ndarray, indices: Optional[Sequence[int]] = None, *,
                max_bytes: int = IMAGENET224_MAX_BYTES) -> torch.Tensor:
    """(n, 3, 224, 224) float32, bilinear-resized and ImageNet-normalised, for the images at `indices` (all if None).

    Refuses anything above `max_bytes`: feed the AlexNet column through iter_imagenet224 instead.
    """
    _check_images(images)
    chosen = _select(images, indices)
    need = len(chosen) * _BYTES_PER_224
    if need > max_bytes:
        raise KernelInputError(
            f"imagenet224 of {len(chosen)} images would take {need / 1e9:.1f} GB, above the {max_bytes / 1e9:.1f} GB "
            f"limit: pass indices for at most {max_bytes // _BYTES_PER_224} images, or use iter_imagenet224 in batches.")
    return _batched(chosen, _imagenet224_into, "imagenet224", None, batch_size=256)


def iter_imagenet224(images: np.ndarray, indices: Optional[Sequence[int]] = None,
                     batch_size: int = 256) -> Iterator[torch.Tensor]:
    """Yields (b, 3, 224, 224) batches of imagenet224 in order, computed on demand (nothing cached)."""
    _check_images(images)
    if batch_size < 1:
        raise KernelInputError(f"batch_size must be at least 1, got {batch_size}.")
    idx = np.arange(len(images)) if indices is None else np.asarray(indices, dtype=np.int64).reshape(-1)
    for start in range(0, len(idx), batch_size):
        chosen = _select(images, idx[start:start + batch_size])
        out = torch.empty((len(chosen), *_SHAPES["imagenet224"]), dtype=torch.float32)
        _imagenet224_into(chosen, out)
        yield out


def compute_view(images: np.ndarray, view: str, progress_sink: Optional[ProgressSink] = None) -> torch.Tensor:
    """One view by name, for the whole array (imagenet224 subject to its size limit)."""
    if view == "flat784":
        return flat784(images, progress_sink)
    if view == "rgb32":
        return rgb32(images, progress_sink)
    if view == "imagenet224":
        return imagenet224(images)
    if view in FEATURE_VIEWS:
        raise KernelInputError(f"the {view} view is computed by a frozen network with options: load it through "
                               f"data.load_view with view_options (py_kernels/data/features.py)")
    raise KernelInputError(f"Unknown view {view!r}; use one of {list(VIEWS)}.")

"""Views computed by a frozen network: "alexnet-features", AlexNet's pool5 (9216 floats) of every image of a dataset
split, computed once and kept in the view cache, so an AlexNet column's head trains from vectors on a CPU.

Why: the trunk costs about 0.7 GFLOP per 224x224 image, and a frozen trunk computes the same features in every epoch
of every run: once per split, not once per batch, is what makes the experiment practical on a CPU. The images go
through it in batches of BATCH (the imagenet224 view is never materialised whole: 69001 MNIST-M images would be 41 GB).

The cache entry is keyed like every view (cache.py): by the split's files' md5s, the view name and views.VERSION, and
here also by "imagenet224 v<views.VERSION>" and by the trunk's identity: the sha256 of its tensors (alexnet.trunk_sha256),
whether they came from the ImageNet file or from a seed. A changed input file or a changed weights file is a new key, so
a stale entry is never read; the entry's sidecar records which weights (file path, file sha256, or RANDOM), the torch
version and the device it was computed on. Loads check each array's sha256, as for every view.
"""
from __future__ import annotations

import time
from typing import Callable, List, Optional, Tuple

import numpy as np
import torch

from ..errors import KernelInputError
from ..progress import Progress, ProgressSink
from . import views
from .cache import ViewCache

VIEW = "alexnet-features"
VERSION = 1   # part of the key: bump when the computation below changes its output
BATCH = 64    # images per trunk pass: 38 MB of imagenet224 at a time


def check_options(options: object) -> Tuple[bool, int]:
    """The view's options {"pretrained": bool, "trunk_seed": int} (an alexnet column's `view_options`)."""
    if not isinstance(options, dict) or set(options) != {"pretrained", "trunk_seed"} \
            or not isinstance(options["pretrained"], bool) or isinstance(options["trunk_seed"], bool) \
            or not isinstance(options["trunk_seed"], int):
        raise KernelInputError(f"the {VIEW} view needs options {{\"pretrained\": true | false, \"trunk_seed\": int}} "
                               f"(model_describe gives them per view), got {options!r}")
    return options["pretrained"], options["trunk_seed"]


def compute(images: np.ndarray, trunk: Callable[[torch.Tensor], torch.Tensor], device: torch.device,
            progress_sink: Optional[ProgressSink] = None, batch_size: int = BATCH) -> torch.Tensor:
    """uint8 images (N, H, W) or (N, H, W, 3) -> the trunk's output of their imagenet224 view, (N, 9216) float32 on
    the CPU, BATCH images at a time."""
    progress = Progress(progress_sink, f"{VIEW} of {len(images)} images", len(images))
    out = torch.from_numpy(np.empty((len(images), 256 * 6 * 6), dtype=np.float32))
    done = 0
    for batch in views.iter_imagenet224(images, batch_size=batch_size):   # (b, 3, 224, 224)
        out[done:done + len(batch)] = trunk(batch.to(device)).cpu()         # (b, 9216)
        done += len(batch)
        progress.update(done)
    return out


def _key(md5s: List[str], trunk_id: str) -> List[str]:
    return [*md5s, f"imagenet224 v{views.VERSION}", f"{VIEW} v{VERSION} trunk sha256 {trunk_id}"]


def load(name: str, split: str, md5s: List[str], load_split: Callable[[], Tuple[np.ndarray, np.ndarray]],
         cache_dir: Optional[str], options: object, device: torch.device,
         progress_sink: Optional[ProgressSink] = None) -> Tuple[torch.Tensor, torch.Tensor]:
    """(x (N, 9216) float32, y (N,) int64) of a split whose files have `md5s`: from the cache when it holds them
    for this trunk, else computed (`load_split()` gives the uint8 images and labels) and stored."""
    from ..cpu_threads import cpu_threads_to
    from ..models.columns.alexnet import AlexNetTrunk, trunk_sha256  # the models need no data module: no cycle

    pretrained, trunk_seed = check_options(options)
    trunk = AlexNetTrunk(pretrained, trunk_seed).to(device)
    key = _key(md5s, trunk_sha256(trunk))
    cache = ViewCache(cache_dir) if cache_dir else None
    hit = cache.load(name, split, VIEW, key) if cache else None
    if hit is not None:
        return torch.from_numpy(hit[0]), torch.from_numpy(hit[1])
    images, labels = load_split()
    started = time.perf_counter()
    with cpu_threads_to("torch", device):  # the trunk's convolutions
        x = compute(images, trunk, device, progress_sink)
    if cache:
        from ..models.alexnet_weights import provenance
        about = {**provenance(pretrained, trunk_seed), "torch": torch.__version__, "device": str(device),
                 "seconds": time.perf_counter() - started, "images_per_second": len(images) / max(
                     time.perf_counter() - started, 1e-9)}
        cache.store(name, split, VIEW, key, x.numpy(), labels, about=about)
    return x, torch.from_numpy(labels)


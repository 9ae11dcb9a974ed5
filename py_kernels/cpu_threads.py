"""How a CPU kernel shares its cores between the two thread pools in its process.

Debian's torch runs matrix products in OpenBLAS's own pthread pool and everything else that runs in parallel (oneDNN's
convolutions, ATen's pooling and element-wise ops) in torch's OpenMP pool. With both pools at full width on the same
cores they spin against each other: the fc ladder step measured 123 ms against 35 ms on 2 cores. So one pool gets the
kernel's threads and the other one thread, chosen by what a model's step spends its time in (`heavy_pool`):

- "blas", matrix products: fc columns (the ladder, the MLP, fc progressive networks, AlexNet heads on cached
  features). OpenBLAS gets the threads.
- "torch", convolutions and pooling: conv columns and a live AlexNet trunk (and the AlexNet features computed for
  the cache). torch's pool gets the threads; with them in OpenBLAS's pool the convolutions ran on one core, and the
  conv Gamma-model step took 1.5-1.7x as long (docs/results.md, section ladder, times both).

`cpu_threads_for(model)` (or `cpu_threads_to(pool, device)`) sets that split around a model's training, evaluation or analysis
call. Seed threads (seed_threads.py) instead pin both pools to one thread per worker. On other BLAS builds (MKL, CUDA wheels) torch's
pool runs the products too, and the split is left alone.

The thread counts change the order of the sums in products and convolutions, so a run's numbers are bit for bit
repeatable for a given thread count and model, which is what resume relies on.
"""
from __future__ import annotations

import contextlib
import ctypes
import functools
from typing import Iterator, Optional

import torch
import torch.nn as nn

from .models.column_api import Column

_CPU_RUNTIME: Optional[dict] = None


@functools.lru_cache(maxsize=None)
def loaded_openblas():
    """The OpenBLAS already loaded into this process (Debian's torch calls it through libblas.so.3), or None.
    Only libraries already mapped are opened, so nothing new is loaded on e.g. an MKL build."""
    try:
        with open("/proc/self/maps") as f:
            paths = {line.split()[-1] for line in f if "blas" in line.rsplit("/", 1)[-1].lower()}
    except OSError:
        return None
    for path in sorted(p for p in paths if p.startswith("/")):
        try:
            lib = ctypes.CDLL(path)
            lib.openblas_set_num_threads, lib.openblas_get_num_threads  # noqa: B018 (probe the symbols)
            return lib
        except (OSError, AttributeError):
            continue
    return None


def configure_cpu_runtime(threads: Optional[int] = None) -> dict:
    """Process-wide CPU settings that make the training loop about twice as fast on Debian's torch (idempotent;
    the kernel calls it at start with its thread count, the trainers on the CPU unless `tune_cpu=False`). Returns
    what was set, JSON-able.

    1. The kernel's threads (`threads`, else the larger of the two pools' counts: the cores) go to OpenBLAS and torch
       gets one; `cpu_threads_for` moves them to torch's pool around a model whose step is convolutions. Without a
       separate OpenBLAS pool (MKL builds, CUDA wheels) the thread settings are left alone.
    2. glibc returns freed large blocks to the OS and page-faults them back on the next step (a fifth of the
       step time went to the kernel); a fixed mmap threshold (32 MiB) and a high trim threshold keep them.
    """
    global _CPU_RUNTIME
    if _CPU_RUNTIME is not None and threads is None:
        return _CPU_RUNTIME
    done: dict = {"openblas_threads": None, "torch_threads": torch.get_num_threads(), "malloc_tuned": False}
    blas = loaded_openblas()
    if blas is not None:
        n = int(threads) if threads else max(torch.get_num_threads(), int(blas.openblas_get_num_threads()))
        blas.openblas_set_num_threads(n)
        torch.set_num_threads(1)
        done.update(openblas_threads=n, torch_threads=1)
    try:
        libc = ctypes.CDLL("libc.so.6")
        M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3
        done["malloc_tuned"] = bool(libc.mallopt(M_MMAP_THRESHOLD, 32 << 20)) and bool(
            libc.mallopt(M_TRIM_THRESHOLD, 1 << 30))
    except (OSError, AttributeError):
        pass
    _CPU_RUNTIME = done
    return done


@contextlib.contextmanager
def cpu_threads(torch_threads: int, blas_threads: int) -> Iterator[None]:
    """torch's pool at `torch_threads` and OpenBLAS's at `blas_threads` inside the block, as they were after (the
    OpenBLAS part only where it is loaded). A thread started inside the block takes torch's count at its first
    parallel op; one whose first op is a oneDNN convolution does not, and sets its own (seed_threads.py)."""
    blas = loaded_openblas()
    before = torch.get_num_threads(), None if blas is None else int(blas.openblas_get_num_threads())
    torch.set_num_threads(int(torch_threads))
    if blas is not None:
        blas.openblas_set_num_threads(int(blas_threads))
    try:
        yield
    finally:
        torch.set_num_threads(before[0])
        if blas is not None:
            blas.openblas_set_num_threads(before[1])


def heavy_pool(model: nn.Module) -> str:
    """"torch" when a column of `model` does its heavy work in torch's pool (`Column.cpu_pool`: convolutions),
    else "blas" (matrix products)."""
    return "torch" if any(isinstance(m, Column) and m.cpu_pool == "torch" for m in model.modules()) else "blas"


def pools_to_split(device: torch.device) -> bool:
    """Whether work on `device` has two thread pools to share the kernel's threads between: on the CPU, with a
    separate OpenBLAS pool loaded."""
    return device.type == "cpu" and loaded_openblas() is not None


def cpu_threads_to(pool: str, device: torch.device) -> contextlib.AbstractContextManager:
    """Inside the block, the kernel's CPU threads go to `pool` ("blas" or "torch") and one thread to the other pool.
    Nothing changes where there are no `pools_to_split`."""
    if not pools_to_split(device):
        return contextlib.nullcontext()
    n = configure_cpu_runtime()["openblas_threads"]
    return cpu_threads(n, 1) if pool == "torch" else cpu_threads(1, n)


def cpu_threads_for(model: nn.Module) -> contextlib.AbstractContextManager:
    """`cpu_threads_to` the pool that does `model`'s heavy work (`heavy_pool`), on the model's device."""
    parameter = next(model.parameters(), None)
    return cpu_threads_to(heavy_pool(model), torch.device("cpu") if parameter is None else parameter.device)

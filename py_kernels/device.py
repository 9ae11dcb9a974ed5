"""Which device the kernel computes on, and what a person needs to know about it (`pladder doctor`)."""
from __future__ import annotations

import os
import platform
import sys
import time

import torch

from . import native
from .errors import KernelInputError


def resolve(requested: str) -> torch.device:
    """'auto' picks CUDA when present; 'cpu', 'cuda' and 'cuda:N' are taken as asked, or refused with the reason."""
    if requested == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(requested)
    except RuntimeError as error:
        raise KernelInputError(f"device {requested!r} is not a torch device; use 'auto', 'cpu', 'cuda' or 'cuda:N'") from error
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise KernelInputError(f"device {requested!r} asked for, but this torch ({torch.__version__}) sees no CUDA GPU; use 'cpu' or 'auto'")
        if device.index is not None and device.index >= torch.cuda.device_count():
            raise KernelInputError(f"device {requested!r} asked for, but only {torch.cuda.device_count()} CUDA device(s) exist")
    elif device.type != "cpu":
        raise KernelInputError(f"device {requested!r} is not supported; use 'auto', 'cpu', 'cuda' or 'cuda:N'")
    return device


def configure_threads(threads: int | None) -> int:
    # Debian's torch starts with one OpenMP thread here whatever the core count: set it explicitly.
    count = threads if threads and threads > 0 else (len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1)
    torch.set_num_threads(count)
    return count


def matmul_gflops(device: torch.device, size: int = 1024, repeats: int = 10) -> float:
    a = torch.randn(size, size, device=device)
    b = torch.randn(size, size, device=device)
    a @ b  # warm-up: first call allocates and picks kernels
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    start = time.perf_counter()
    for _ in range(repeats):
        a @ b
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    seconds = time.perf_counter() - start
    return 2 * size**3 * repeats / seconds / 1e9


def blas_library() -> str:
    """The BLAS that numpy/torch resolve to on Linux, read from the process's mapped libraries."""
    try:
        with open("/proc/self/maps", encoding="utf-8") as maps:
            names = {line.split()[-1] for line in maps
                     if "/" in line and any(k in line.rsplit("/", 1)[-1].lower() for k in ("blas", "mkl", "blis"))}
        return ", ".join(sorted(os.path.basename(n) for n in names)) or "unknown"
    except OSError:
        return "unknown"


def fused_ops(device: torch.device) -> str:
    """Which version of the step's element-wise work runs (native/__init__.py): the C kernels or torch's ops."""
    if device.type != "cpu":
        return f"torch ops ({device.type})"
    status = native.status()
    return f"C kernels ({status['path']})" if status["available"] else f"torch ops: {status['reason']}"


def describe(device: torch.device, threads: int) -> dict:
    info: dict = {
        "python": sys.executable,
        "python_version": platform.python_version(),
        "torch": torch.__version__,
        "torchvision": _torchvision_version(),
        "device": str(device),
        "threads": threads,
        "blas": blas_library(),
        "fused_ops": fused_ops(device),
        "cuda_available": torch.cuda.is_available(),
        "cuda_device_count": torch.cuda.device_count() if torch.cuda.is_available() else 0,
        "cuda_name": None,
        "cuda_memory_bytes": None,
    }
    if device.type == "cuda":
        props = torch.cuda.get_device_properties(device)
        info["cuda_name"] = props.name
        info["cuda_memory_bytes"] = int(props.total_memory)
    return info


def _torchvision_version() -> str | None:
    try:
        import torchvision

        return torchvision.__version__
    except ImportError:
        return None

"""The CPU step's element-wise work in C (fused_ops.c): batch normalisation in training (vectors and feature maps,
with the ladder's noise), the vanilla combinator, the conv columns' 2x2 max pooling (models/columns/pooling.py) and
Adam, forward and backward, each one or two passes over the data, called through ctypes on float32 CPU tensors.

Why: with torch 1.13 on the CPU each of these is a dozen ops, each a pass over the data with its own allocation and
dispatch; the profiler put about 16 ms of a 45 ms fc ladder step in them, whose matrix products take about 22 ms
(docs/results.md, section ladder, measures what the kernels gain). Debian's torch has no LLVM, so TorchScript cannot
fuse them, and torch.compile is 2.x only.

Built at first use with the system's C compiler (`CC`, else `cc`) for this CPU, into `.cache/native/` (else the
temp directory), one file per source, compiler and CPU, written atomically so that processes side by side can race.
Plain C, no torch headers: it runs with any torch. Without a compiler, or with `PLADDER_NATIVE=0`, `library()` is
None and the callers (ladder_ops.py, models/columns/pooling.py, optim.py) use their torch versions, which give the
same numbers to float rounding (tests/test_native.py). On CUDA the torch versions always run.
"""
from __future__ import annotations

import contextlib
import ctypes
import hashlib
import os
import platform
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Iterator, Optional

import torch

from ..paths import REPO_ROOT

SOURCE = Path(__file__).with_name("fused_ops.c")
_FLAGS = ["-O3", "-std=c11", "-fno-math-errno", "-fPIC", "-shared"]
_NATIVE_FLAGS = ["-march=native"]  # dropped when the compiler does not know it
# The batch norm kernels split channels over torch's OpenMP threads (the same libgomp as torch's); without OpenMP
# they run on the calling thread, the same numbers.
_OPENMP_FLAGS = ["-fopenmp"]

_c_idx, _c_float, _ptr = ctypes.c_int64, ctypes.c_float, ctypes.c_void_p
_SIGNATURES = {  # name: (restype, argtypes); a c_int result is 0, or -1 out of memory (raised as MemoryError)
    "normalise_forward": (ctypes.c_int, [_c_idx] * 7 + [_c_float] + [_ptr] * 6),
    "normalise_backward": (ctypes.c_int, [_c_idx] * 5 + [_ptr] * 6),
    "combinator_forward": (None, [_c_idx] * 3 + [_ptr] * 6),
    "combinator_backward": (None, [_c_idx] * 3 + [_ptr] * 9),
    "adam_step": (None, [_c_idx] + [_ptr] * 4 + [_c_float] * 4),
    "max_pool_2x2_forward": (ctypes.c_int, [_c_idx] * 4 + [_ptr] * 3),
    "max_pool_2x2_backward": (None, [_c_idx] * 4 + [_ptr] * 3),
}

_loaded: Optional[ctypes.CDLL] = None
_status: Optional[dict] = None
_enabled = True


def _cpu_identity() -> str:
    """What -march=native compiles for: the CPU's model and flags (a shared cache must not mix machines)."""
    try:
        with open("/proc/cpuinfo") as f:
            lines = [l for l in f.read().splitlines() if l.startswith(("model name", "flags", "Features", "CPU part"))]
        return "\n".join(sorted(set(lines)))
    except OSError:
        return platform.processor() or platform.machine()


def _cache_dirs() -> Iterator[Path]:
    yield REPO_ROOT / ".cache" / "native"
    yield Path(tempfile.gettempdir()) / f"progressive-ladder-native-{os.getuid() if hasattr(os, 'getuid') else 0}"


def _compiler_version(cc: str) -> str:
    try:
        return subprocess.run([cc, "--version"], capture_output=True, text=True, timeout=30).stdout
    except (OSError, subprocess.SubprocessError):
        return ""


def _compile(cc: str, target: Path) -> Optional[str]:
    """Compile SOURCE to `target` (atomically); None, or why it failed."""
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(suffix=".so", dir=target.parent)
    os.close(fd)
    error = "no attempt"
    try:
        for extra in ([*_NATIVE_FLAGS, *_OPENMP_FLAGS], _OPENMP_FLAGS, _NATIVE_FLAGS, []):
            done = subprocess.run([cc, *_FLAGS, *extra, str(SOURCE), "-o", tmp, "-lm"], capture_output=True,
                                  text=True, timeout=120)
            if done.returncode == 0:
                os.replace(tmp, target)
                return None
            error = done.stderr.strip()[-500:] or f"{cc} exited with {done.returncode}"
        return error
    except (OSError, subprocess.SubprocessError) as e:
        return f"{type(e).__name__}: {e}"
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def _load() -> dict:
    global _loaded
    if os.environ.get("PLADDER_NATIVE", "1") == "0":
        return {"available": False, "reason": "PLADDER_NATIVE=0"}
    cc = os.environ.get("CC") or shutil.which("cc") or shutil.which("gcc")
    if not cc:
        return {"available": False, "reason": "no C compiler (cc, gcc or CC); the torch versions run instead"}
    key = hashlib.sha256(b"\0".join([SOURCE.read_bytes(), " ".join(_FLAGS + _NATIVE_FLAGS + _OPENMP_FLAGS).encode(),
                                     _compiler_version(cc).encode(), _cpu_identity().encode()])).hexdigest()[:16]
    errors = []
    for directory in _cache_dirs():
        path = directory / f"fused_ops-{key}.so"
        try:
            if not path.exists():
                error = _compile(cc, path)
                if error:
                    errors.append(error)
                    continue
            lib = ctypes.CDLL(str(path))
        except OSError as e:
            errors.append(f"{path}: {e}")
            continue
        for name, (restype, argtypes) in _SIGNATURES.items():
            fn = getattr(lib, name)
            fn.restype, fn.argtypes = restype, argtypes
            if restype is ctypes.c_int:  # the kernels that allocate scratch return -1 when they cannot
                fn.errcheck = _raise_when_out_of_memory
        _loaded = lib
        return {"available": True, "path": str(path), "compiler": cc}
    return {"available": False, "reason": f"could not build {SOURCE.name} with {cc}: {errors[-1]}"}


def _raise_when_out_of_memory(code: int, fn, _args) -> int:
    if code != 0:
        raise MemoryError(f"the native kernel {fn.__name__} could not allocate its scratch buffers")
    return code


def status() -> dict:
    """{"available": bool, and "path" and "compiler", or "reason"}: built or loaded on the first call."""
    global _status
    if _status is None:
        _status = _load()
    return _status


def library() -> Optional[ctypes.CDLL]:
    """The compiled kernels, or None (no compiler, PLADDER_NATIVE=0, or switched off by `disabled()`)."""
    return _loaded if _enabled and status()["available"] else None


def usable(*tensors: torch.Tensor) -> Optional[ctypes.CDLL]:
    """The library when every tensor is a float32 CPU tensor, else None. The kernels read memory as contiguous
    arrays: the caller passes `t.contiguous()`."""
    lib = library()
    if lib is None:
        return None
    for t in tensors:
        if t.device.type != "cpu" or t.dtype != torch.float32:
            return None
    return lib


def ptr(t: Optional[torch.Tensor]) -> Optional[int]:
    return None if t is None else t.data_ptr()


@contextlib.contextmanager
def disabled() -> Iterator[None]:
    """Run the torch versions inside the block (tests and benchmarks compare the two)."""
    global _enabled
    before, _enabled = _enabled, False
    try:
        yield
    finally:
        _enabled = before

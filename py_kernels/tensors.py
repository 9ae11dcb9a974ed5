"""Tensors kept in the kernel by name, and the binary path that moves them to and from TypeScript.

JSON moves about a million floats a second through pythonia; raw little-endian bytes in a file on a RAM-backed
directory (chosen by TypeScript, normally /dev/shm) move hundreds of millions. TypeScript removes each file once read.
"""
from __future__ import annotations

import hashlib
import os
import sys
from pathlib import Path

import numpy as np
import torch

from .errors import KernelInputError

DTYPES: dict[str, torch.dtype] = {
    "float32": torch.float32,
    "float64": torch.float64,
    "int32": torch.int32,
    "int64": torch.int64,
    "uint8": torch.uint8,
}
NAMES = {dtype: name for name, dtype in DTYPES.items()}


class TensorStore:
    def __init__(self, exchange_dir: str):
        self.exchange_dir = Path(exchange_dir)
        self.exchange_dir.mkdir(parents=True, exist_ok=True)
        self._tensors: dict[str, torch.Tensor] = {}
        self._serial = 0

    def put(self, name: str, tensor: torch.Tensor) -> dict:
        self._tensors[name] = tensor
        return self.meta(name)

    def get(self, name: str) -> torch.Tensor:
        try:
            return self._tensors[name]
        except KeyError:
            known = ", ".join(sorted(self._tensors)) or "none"
            raise KernelInputError(f"no tensor named {name!r} in the kernel (known: {known})") from None

    def drop(self, name: str) -> None:
        self._tensors.pop(name, None)

    def meta(self, name: str) -> dict:
        tensor = self.get(name)
        return {"name": name, "shape": list(tensor.shape), "dtype": _dtype_name(tensor), "device": str(tensor.device)}

    def export(self, name: str) -> dict:
        """Writes the tensor's bytes (C order, little-endian) to a fresh file and returns where and what they are."""
        tensor = self.get(name).detach()
        array = tensor.cpu().contiguous().numpy()
        if sys.byteorder != "little":  # pragma: no cover - every platform torch supports today is little-endian
            array = array.byteswap()
        self._serial += 1
        path = self.exchange_dir / f"out-{os.getpid()}-{self._serial}.bin"
        array.tofile(path)
        return {**self.meta(name), "path": str(path), "bytes": array.nbytes}

    def load(self, name: str, path: str, shape: list[int], dtype: str, device: torch.device) -> dict:
        """Reads raw bytes written by TypeScript into a tensor named `name`, then removes the file."""
        if dtype not in DTYPES:
            raise KernelInputError(f"dtype {dtype!r} is not supported; use one of {', '.join(DTYPES)}")
        expected = int(np.prod(shape)) * torch.tensor([], dtype=DTYPES[dtype]).element_size()
        actual = os.path.getsize(path)
        if actual != expected:
            raise KernelInputError(f"{path}: {actual} bytes, but shape {shape} of {dtype} needs {expected}")
        array = np.fromfile(path, dtype=np.dtype(dtype).newbyteorder("<"))
        os.unlink(path)
        return self.put(name, torch.from_numpy(array.reshape(shape)).to(device))

    def sha256(self, name: str) -> str:
        return hashlib.sha256(self.get(name).detach().cpu().contiguous().numpy().tobytes()).hexdigest()


def _dtype_name(tensor: torch.Tensor) -> str:
    try:
        return NAMES[tensor.dtype]
    except KeyError:
        raise KernelInputError(f"tensor dtype {tensor.dtype} cannot cross the bridge; convert it to one of {', '.join(DTYPES)}") from None

"""Reading torch files that may come from elsewhere (column files, checkpoints) without running code from them.

`torch.load` unpickles, and a pickle may name any Python callable (os.system, builtins.eval) and have it called while
loading. The files read here only ever hold tensors in plain containers, so the unpickler below resolves only the few
names torch needs to rebuild dense tensors and refuses every other name before anything is called.

One allowlist on every torch version, rather than `weights_only=True`: torch 1.13 has the flag, but its unpickler is
bypassable up to torch 2.5 (CVE-2025-32434) and cannot even read a float; the same check on the CPU and on lab GPUs.
Only torch's zip format (torch.save's default since 1.6) is read: the legacy formats unpickle several streams and
extract tar members, and a TorchScript archive would go to torch.jit.load. None of them is a file we write.
"""
from __future__ import annotations

import _compat_pickle
import collections
import io
import os
import pickle
import stat
import types
import zipfile
from pathlib import Path
from typing import Any, Dict, Tuple

import torch

from .errors import KernelInputError

PLAIN = "tensors and plain containers (dict, list, tuple, str, int, float, bool, None)"

# torch 1.13's torch.load replaces a pickle_module it is given by pickle itself unless weights_only=True (2.0 fixed it).
_LOAD_HONOURS_PICKLE_MODULE = int(torch.__version__.split(".")[0]) >= 2


def _allowed() -> Dict[Tuple[str, str], Any]:
    names: Dict[Tuple[str, str], Any] = {
        ("collections", "OrderedDict"): collections.OrderedDict,  # state_dict() containers
        ("torch._utils", "_rebuild_tensor_v2"): torch._utils._rebuild_tensor_v2,  # every dense tensor
        ("torch._utils", "_rebuild_tensor"): torch._utils._rebuild_tensor,
        ("torch._utils", "_rebuild_parameter"): torch._utils._rebuild_parameter,  # nn.Parameter values
        ("torch.nn.parameter", "Parameter"): torch.nn.Parameter,
        ("torch", "UntypedStorage"): torch.UntypedStorage,
    }
    # torch itself maps typed storage names (torch.FloatStorage) to a dtype holder; these cover versions that ask us.
    for storage in torch._storage_classes:
        names[(storage.__module__, storage.__name__)] = storage
    return names


_ALLOWED = _allowed()


class RefusedGlobal(pickle.UnpicklingError):
    """The file names a Python object outside the allowlist; nothing it names was called."""

    def __init__(self, qualified: str):
        super().__init__(qualified)
        self.qualified = qualified


class _RestrictedUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        module = _compat_pickle.IMPORT_MAPPING.get(module, module)  # protocol 2 writes __builtin__ for builtins
        try:
            return _ALLOWED[(module, name)]
        except KeyError:
            raise RefusedGlobal(f"{module}.{name}") from None


def _restricted_load(file, **kwargs) -> Any:
    return _RestrictedUnpickler(file, **kwargs).load()


# What torch.load expects of a pickle_module: a module with Unpickler (which torch subclasses) and load.
_PICKLE = types.ModuleType("pladder_restricted_pickle")
_PICKLE.Unpickler = _RestrictedUnpickler
_PICKLE.load = _restricted_load


def _typed_storages() -> Dict[Any, int]:
    """Each typed storage class (torch.FloatStorage...) with its element size."""
    sizes = {}
    for storage in torch._storage_classes:
        try:
            sizes[storage] = torch._utils._element_size(storage.dtype)
        except (AttributeError, RuntimeError, TypeError):  # UntypedStorage, TypedStorage itself: no dtype
            pass
    return sizes


_TYPED_STORAGES = _typed_storages()


class _StorageName:
    """A storage class as the size check's pass sees it: its element size; calling it builds nothing."""

    def __init__(self, itemsize: int):
        self.itemsize = itemsize

    def __call__(self, *args, **kwargs) -> "_Inert":
        return _Inert()


class _Inert:
    """What every allowed call returns in the size check's pass: nothing is built, and BUILD's state is dropped."""

    def __setstate__(self, state) -> None:
        pass


class _DeclaredStorages(_RestrictedUnpickler):
    """The check's pass over the pickle: the same allowlist, no tensor built, every storage's (key, bytes) noted.

    torch reads a storage's record whole but gives the storage the size the pickle declares: declared larger than its
    record, the tensors over it read (and a copy of them keeps) whatever memory follows, or fault."""

    def __init__(self, file):
        super().__init__(file, encoding="utf-8")
        self.declared = []

    def find_class(self, module: str, name: str) -> Any:
        found = super().find_class(module, name)
        if found is torch.UntypedStorage:
            return _StorageName(1)
        if found in _TYPED_STORAGES:
            return _StorageName(_TYPED_STORAGES[found])
        return found if found is collections.OrderedDict else (lambda *args, **kwargs: _Inert())

    def persistent_load(self, saved_id: Any) -> _Inert:
        if not (isinstance(saved_id, tuple) and len(saved_id) == 5 and isinstance(saved_id[1], _StorageName)
                and isinstance(saved_id[4], int) and saved_id[4] >= 0):
            raise pickle.UnpicklingError(f"a storage reference that is not torch's: {saved_id!r:.200}")
        self.declared.append((saved_id[2], saved_id[4] * saved_id[1].itemsize))
        return _Inert()


def _check_storage_sizes(archive: zipfile.ZipFile, names: list) -> None:
    """Each storage the pickle declares fits in its record (raises pickle.UnpicklingError, or RefusedGlobal)."""
    if len(set(names)) != len(names):
        raise pickle.UnpicklingError("a member name appears twice")
    prefix = names[0].split("/")[0]  # torch looks every record up under the first member's folder
    pass_ = _DeclaredStorages(io.BytesIO(archive.read(f"{prefix}/data.pkl")))
    pass_.load()
    for key, nbytes in pass_.declared:
        record = f"{prefix}/data/{key}"
        if record not in names:
            raise pickle.UnpicklingError(f"a tensor's storage record data/{key} is missing")
        if nbytes > archive.getinfo(record).file_size:
            raise pickle.UnpicklingError(f"a storage is declared {nbytes} bytes but its record data/{key} holds "
                                         f"{archive.getinfo(record).file_size}")


def _check_views(obj: Any) -> None:
    """No tensor views more elements than its storage holds (a stride of 0 over one stored number can declare a
    terabyte that costs nothing until a network of its shape is built)."""
    seen, stack = set(), [obj]
    while stack:
        item = stack.pop()
        if id(item) in seen:
            continue
        seen.add(id(item))
        if isinstance(item, torch.Tensor):
            storage = item.untyped_storage() if hasattr(item, "untyped_storage") else item.storage()
            if item.numel() * item.element_size() > storage.nbytes():
                raise pickle.UnpicklingError(f"a tensor of shape {list(item.shape)} views {item.numel()} elements "
                                             f"over a storage of {storage.nbytes()} bytes (overlapping strides)")
        elif isinstance(item, dict):
            stack.extend(item.values())
        elif isinstance(item, (list, tuple)):
            stack.extend(item)


def _torch_load(buffer: io.BytesIO, map_location: Any) -> Any:
    if _LOAD_HONOURS_PICKLE_MODULE:
        # weights_only=False only because torch refuses a pickle_module with it; every name the file asks for is still
        # resolved by _RestrictedUnpickler.find_class (torch 2.x subclasses pickle_module.Unpickler), so no code runs.
        return torch.load(buffer, map_location=map_location, pickle_module=_PICKLE, weights_only=False)
    # torch 1.x: the zip reader that torch.load itself calls, given our pickle module.
    with torch.serialization._open_zipfile_reader(buffer) as archive:
        return torch.serialization._load(archive, map_location, _PICKLE, encoding="utf-8")


# Files are read whole into memory before they are checked: a limit well above the largest we write.
MAX_FILE_BYTES = 4 << 30


def load(path: str, *, what: str, hint: str, map_location: Any = "cpu") -> Any:
    """The object in torch file `path`, if it holds only tensors and plain containers.

    Raises KernelInputError naming `what` (e.g. "checkpoint") and the file, ending with `hint` (what to do): when the
    file names any other Python object (refused before anything is called), or when it cannot be read.
    """
    def damaged(reason: str) -> KernelInputError:
        return KernelInputError(f"{what} {path} is damaged (truncated, or not a file written by torch.save): "
                                f"{reason}; {hint}")

    try:
        info = os.stat(path)
        if stat.S_ISDIR(info.st_mode):
            raise KernelInputError(f"{what} {path} is a folder, not a file; {hint}")
        if not stat.S_ISREG(info.st_mode):  # a FIFO would block the read forever, /dev/zero fill the memory
            raise KernelInputError(f"{what} {path} is not a regular file (a device, FIFO or socket); {hint}")
        if info.st_size > MAX_FILE_BYTES:
            raise KernelInputError(f"{what} {path} is {info.st_size} bytes, more than any file this project writes "
                                   f"(at most {MAX_FILE_BYTES}: an AlexNet run's checkpoint is under 1 GiB); {hint}")
        data = Path(path).read_bytes()  # read once: what is checked is what is loaded
    except OSError as error:
        raise KernelInputError(f"cannot read {what} {path}: {error.strerror or error}") from None
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))  # opened once: the CRCs, the names and the storages' sizes
        bad_member = archive.testzip()  # CRC of every member: catches damage inside the file too
        names = archive.namelist()
    except Exception as error:  # BadZipFile, or a crafted member's unsupported or broken compression
        raise damaged(f"not a readable torch zip archive ({error})") from None
    with archive:
        if bad_member is not None:
            raise damaged(f"its member {bad_member} fails its CRC check")
        if any(n == "constants.pkl" or n.endswith("/constants.pkl") for n in names):
            raise KernelInputError(f"{what} {path} is a TorchScript archive (torch.jit.save), which holds code; "
                                   f"refusing to load it; {hint}")
        try:
            _check_storage_sizes(archive, names)
            loaded = _torch_load(io.BytesIO(data), map_location)
            _check_views(loaded)
            return loaded
        except RefusedGlobal as refused:
            raise KernelInputError(
                f"{what} {path} holds a pickled object of type {refused.qualified}; column files and checkpoints "
                f"may hold only {PLAIN}; refusing to load it; {hint}") from None
        except Exception as error:  # zip, pickle or storage errors: the bytes are not a whole torch file
            raise damaged(f"{type(error).__name__}: {error}") from None

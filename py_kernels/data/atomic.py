"""Atomic file writes: a killed process leaves either the old file or the new one, never half of one.

Every file the kernels write goes through `atomic_write` (torch files through `save_torch`), so that a write the disk
refuses (full, over quota, read-only) ends the same way everywhere: the temporary file removed, the previous file
intact, and a StorageError that names the path and what to do, never a bare OSError or a crash.
"""
from __future__ import annotations

import contextlib
import errno
import io
import os
import tempfile
from pathlib import Path
from typing import IO, Iterator, Union

from ..errors import StorageError

PathLike = Union[str, "os.PathLike[str]"]


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


# mkstemp creates 0600 files; give the final file the permissions a plain open() would.
_FILE_MODE = 0o666 & ~_umask()


# What the disk said, for a person (errno -> meaning); other OSErrors are not the place's fault and stay as they are.
_REFUSALS = {
    errno.ENOSPC: "no space left on device",
    errno.EDQUOT: "disk quota exceeded",
    errno.EFBIG: "the file is too large for this file system",
    errno.EROFS: "the file system is read-only",
    errno.EACCES: "permission denied",
}

DEFAULT_HINT = "free space there (or give a folder on another disk) and run the command again"


@contextlib.contextmanager
def atomic_write(path: PathLike, mode: str = "wb", hint: str = DEFAULT_HINT) -> Iterator[IO]:
    """Yields a file to write; on success it is fsynced and renamed over `path`, on error it is removed.

    The temporary file lives in the destination directory because os.replace is only atomic within one filesystem.
    A write the disk refuses (full, quota, read-only, forbidden) raises StorageError naming `path`, ending with `hint`
    (what to do); `path` itself is untouched.
    """
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".tmp-{path.name}.")
    except OSError as error:
        raise _refusal(error, path, hint) from None
    try:
        os.chmod(tmp, _FILE_MODE)
        with os.fdopen(fd, mode) as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException as error:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        if isinstance(error, OSError) and error.errno in _REFUSALS:
            raise _refusal(error, path, hint) from None
        raise
    fsync_dir(path.parent)


def _refusal(error: OSError, path: Path, hint: str) -> Exception:
    meaning = _REFUSALS.get(error.errno) if error.errno is not None else None
    if meaning is None:
        return error
    return StorageError(f"cannot write {path}: {meaning} ({errno.errorcode.get(error.errno, error.errno)}); "
                        f"{'its previous content is intact; ' if path.exists() else ''}{hint}")


def save_torch(obj: object, path: PathLike, hint: str = DEFAULT_HINT) -> None:
    """torch.save(obj) to `path`, atomically. Serialised in memory first: torch.save straight into a file aborts the
    process inside torch's C++ writer when a write fails (a full disk), where Python's own writes raise OSError."""
    buffer = io.BytesIO()
    import torch  # here: the data loaders import this module without needing torch
    torch.save(obj, buffer)
    with atomic_write(path, "wb", hint) as f:
        f.write(buffer.getbuffer())


def fsync_dir(directory: PathLike) -> None:
    """Makes a rename durable (the directory entry itself must reach the disk); best effort where unsupported."""
    with contextlib.suppress(OSError):
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)

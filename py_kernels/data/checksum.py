"""md5 of data files, memoised by (path, size, mtime_ns, ctime_ns, inode) so large sources are hashed once, not on
every load."""
from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Dict, Optional, Tuple

from ..progress import Progress, ProgressSink
from .atomic import atomic_write

_CHUNK = 1 << 20

# A file's identity for memoisation. Size and mtime alone miss a same-size edit whose mtime was set back (os.utime,
# touch -d); the inode change time cannot be set back by a user, and the inode changes when a file is replaced.
_Stat = Tuple[int, int, int, int]  # size, mtime_ns, ctime_ns, inode


def md5_file(path: str, progress_sink: Optional[ProgressSink] = None) -> str:
    """Hex md5 of a file, streamed in 1 MiB chunks."""
    size = os.path.getsize(path)
    progress = Progress(progress_sink, f"md5 {Path(path).name}", size)
    digest = hashlib.md5()
    done = 0
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(_CHUNK), b""):
            digest.update(chunk)
            done += len(chunk)
            progress.update(done)
    return digest.hexdigest()


class Md5Memo:
    """md5 lookups that skip re-hashing unchanged files.

    Always memoised in this process; also across processes in `<index_dir>/md5-index.json` when an index_dir
    (the cache dir) is given. The index is only a hint keyed by size, mtime, ctime and inode; a lost or corrupt
    index, or an entry written before ctime and inode were recorded, just means hashing again.
    """

    INDEX_NAME = "md5-index.json"

    def __init__(self, index_dir: Optional[str] = None):
        self.index_path = Path(index_dir) / self.INDEX_NAME if index_dir else None
        self._memo: Dict[str, Tuple[_Stat, str]] = {}
        if self.index_path is not None:
            self._memo.update(self._read_index(self.index_path))

    def md5(self, path: str, progress_sink: Optional[ProgressSink] = None) -> str:
        key = os.path.realpath(path)
        st = os.stat(key)
        stat = (st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino)
        hit = self._memo.get(key)
        if hit is not None and hit[0] == stat:
            return hit[1]
        digest = md5_file(key, progress_sink)
        self._memo[key] = (stat, digest)
        self._write_index()
        return digest

    @staticmethod
    def _read_index(path: Path) -> Dict[str, Tuple[_Stat, str]]:
        try:
            raw = json.loads(path.read_text())
        except (OSError, ValueError):
            return {}
        if not isinstance(raw, dict):
            return {}
        entries = {}
        for k, v in raw.items():
            try:
                entries[k] = ((int(v["size"]), int(v["mtime_ns"]), int(v["ctime_ns"]), int(v["ino"])), str(v["md5"]))
            except (KeyError, TypeError, ValueError, AttributeError):
                continue  # an older or damaged entry: that file is hashed again
        return entries

    def _write_index(self) -> None:
        if self.index_path is None:
            return
        # Merge with what other processes wrote meanwhile; a lost update only costs a re-hash later.
        merged = self._read_index(self.index_path)
        merged.update(self._memo)
        raw = {k: {"size": s[0], "mtime_ns": s[1], "ctime_ns": s[2], "ino": s[3], "md5": d}
               for k, (s, d) in sorted(merged.items())}
        try:
            with atomic_write(self.index_path, "w") as f:
                json.dump(raw, f, indent=1)
        except OSError:
            pass  # a read-only cache dir must not break loading


# Shared by loaders called without a memo, so one process hashes each file at most once.
DEFAULT_MEMO = Md5Memo()


def checksum_status(md5: str, official_md5: str, n_examples: Optional[int], official_n: int) -> str:
    """How a file we do not refuse (SVHN, MNIST-M) compares with the official release.

    "official": byte-identical to the official file. "mismatch": different bytes and either the official number of
    examples (corrupt or re-encoded: worth a look) or an unreadable header (n_examples None). "unofficial": a
    readable, different set, such as a fixture subset.
    """
    if md5 == official_md5:
        return "official"
    if n_examples is None or n_examples == official_n:
        return "mismatch"
    return "unofficial"

"""SVHN format 2 (cropped 32x32 digits, `{train,test}_32x32.mat`): loading, and download where there is internet."""
from __future__ import annotations

import contextlib
import os
import socket
import urllib.error
import urllib.request
from pathlib import Path
from typing import Dict, Optional, Tuple

import numpy as np

from ..errors import DataError, KernelInputError
from ..progress import Progress, ProgressSink
from .atomic import fsync_dir
from .checksum import md5_file

SPLITS = ("train", "test")
URL = "http://ufldl.stanford.edu/housenumbers/{split}_32x32.mat"
OFFICIAL_MD5: Dict[str, str] = {
    "train_32x32.mat": "e26dedcc434d2e4c54c9b2d4a06d8373",
    "test_32x32.mat": "eb5a983be6a315427106f1b164d9cef3",
}
OFFICIAL_COUNTS = {"train": 73257, "test": 26032}
# Sizes of the official files, used only to size the progress bar when the server sends no Content-Length.
_APPROX_BYTES = {"train": 182_040_794, "test": 64_275_384}

CONNECT_TIMEOUT_S = 5.0  # fail fast on machines without internet
READ_TIMEOUT_S = 60.0
_CHUNK = 1 << 20


def file_name(split: str) -> str:
    if split not in SPLITS:
        raise KernelInputError(f"SVHN split {split!r} does not exist; use one of {list(SPLITS)}.")
    return f"{split}_32x32.mat"


def _loadmat(path: Path, keys: Tuple[str, ...]) -> dict:
    import scipy.io  # deferred: scipy is only needed for SVHN

    if not path.is_file():
        raise DataError(f"SVHN file {path} is missing. Download it with `bin/pladder data download svhn` (on a machine "
                        f"with internet) or put the official {path.name} there by hand; the data directory comes from "
                        f"PLADDER_DATA/--data-dir.")
    try:
        return scipy.io.loadmat(str(path), variable_names=list(keys))
    except NotImplementedError as e:  # MATLAB v7.3 (HDF5) files
        raise DataError(f"SVHN file {path} is a MATLAB v7.3 file ({e}); the official format-2 files are MATLAB v5: "
                        f"use the official {path.name}.") from e
    except Exception as e:  # scipy raises ValueError, TypeError, OSError, MatReadError... on corrupt files
        raise DataError(f"SVHN file {path} is not a readable .mat file ({type(e).__name__}: {e}); it is truncated or "
                        f"corrupt: download the official {path.name} again.") from e


def _labels(path: Path, y: object) -> np.ndarray:
    """int64 (N,) digits from `y` (N, 1), where SVHN writes digit 0 as label 10."""
    if not isinstance(y, np.ndarray) or y.ndim != 2 or y.shape[1] != 1 or not np.issubdtype(y.dtype, np.number):
        raise DataError(f"SVHN file {path}: key 'y' must be a numeric (N, 1) array, found "
                        f"{getattr(y, 'shape', type(y).__name__)} {getattr(y, 'dtype', '')}.")
    labels = y[:, 0].astype(np.int64)
    if labels.size and (labels.min() < 1 or labels.max() > 10 or not np.array_equal(labels, y[:, 0])):
        bad = labels[(labels < 1) | (labels > 10)]
        raise DataError(f"SVHN file {path}: key 'y' must hold labels 1..10 (10 = digit 0), found "
                        f"{bad[:5].tolist() if bad.size else 'non-integer values'}.")
    labels[labels == 10] = 0
    return labels


def load_svhn(path: str) -> Tuple[np.ndarray, np.ndarray]:
    """uint8 images (N, 32, 32, 3) and int64 labels (N,) in 0..9 from a format-2 .mat file.

    Accepts any file in the official layout, official or not (the fixture subset loads through here); the
    caller reports checksum status separately (checksum.checksum_status).
    """
    p = Path(path)
    mat = _loadmat(p, ("X", "y"))
    for key in ("X", "y"):
        if key not in mat:
            raise DataError(f"SVHN file {p} has no key {key!r} (found {sorted(k for k in mat if not k.startswith('__'))}"
                            f"): not a format-2 file; use the official {p.name}.")
    x = mat["X"]
    if not isinstance(x, np.ndarray) or x.ndim != 4 or x.shape[:3] != (32, 32, 3) or x.dtype != np.uint8:
        raise DataError(f"SVHN file {p}: key 'X' must be uint8 (32, 32, 3, N), found "
                        f"{getattr(x, 'shape', type(x).__name__)} {getattr(x, 'dtype', '')}.")
    y = _labels(p, mat["y"])
    if x.shape[3] != len(y):
        raise DataError(f"SVHN file {p}: key 'X' holds {x.shape[3]} images but key 'y' {len(y)} labels.")
    # MATLAB stores (H, W, C, N); models want one contiguous image per row.
    return np.ascontiguousarray(np.transpose(x, (3, 0, 1, 2))), y


def count_examples(path: str) -> Optional[int]:
    """Number of images from the .mat header (scipy.io.whosmat), without reading pixels; None if unreadable."""
    import scipy.io

    try:
        shapes = {name: shape for name, shape, _ in scipy.io.whosmat(path)}
    except Exception:
        return None
    shape = shapes.get("X")
    return int(shape[3]) if shape is not None and len(shape) == 4 else None


def load_labels(path: str) -> np.ndarray:
    """int64 labels (N,) alone, without reading the images."""
    p = Path(path)
    mat = _loadmat(p, ("y",))
    if "y" not in mat:
        raise DataError(f"SVHN file {p} has no key 'y': not a format-2 file; use the official {p.name}.")
    return _labels(p, mat["y"])


def download_svhn(dest_dir: str, split: str, progress_sink: Optional[ProgressSink] = None, *,
                  url: Optional[str] = None, md5: Optional[str] = None) -> str:
    """Downloads the official `{split}_32x32.mat` into dest_dir and returns its path.

    Streams into `<file>.part`, resumes a partial one with an HTTP Range request, checks the md5, then renames,
    so the final name only ever holds a complete, verified file. `url`/`md5` override the official ones (tests).
    """
    name = file_name(split)
    url = url or URL.format(split=split)
    expected = md5 or OFFICIAL_MD5[name]
    final = Path(dest_dir) / name
    part = final.with_name(name + ".part")
    if final.is_file() and md5_file(str(final)) == expected:
        return str(final)
    _check_reachable(url, final)
    final.parent.mkdir(parents=True, exist_ok=True)
    try:
        _fetch(url, part, split, progress_sink)
    except urllib.error.HTTPError as e:
        raise DataError(f"Download of {url} was refused: HTTP {e.code} {e.reason}. Fetch {name} by hand and put it "
                        f"at {final}.") from e
    except OSError as e:  # URLError, timeouts and resets mid-stream
        raise DataError(f"Download of {url} broke off ({e}); {part} keeps what arrived and the next call resumes "
                        f"from there.") from e

    actual = md5_file(str(part))
    if actual != expected:
        part.unlink()  # resuming a wrong file cannot fix it
        raise DataError(f"Downloaded {url} has md5 {actual}, expected {expected}; the download was removed: "
                        f"try again, or fetch {name} by hand and put it at {final}.")
    os.replace(part, final)
    fsync_dir(final.parent)
    return str(final)


def _check_reachable(url: str, final: Path) -> None:
    """Opens a plain TCP connection first (to the proxy, where urllib would use one), so a machine without internet
    fails in seconds, not minutes."""
    parsed = urllib.request.urlparse(url)
    proxy = urllib.request.getproxies().get(parsed.scheme)
    if proxy and not urllib.request.proxy_bypass(parsed.hostname or ""):
        target = urllib.request.urlparse(proxy if "://" in proxy else f"http://{proxy}")
    else:
        target = parsed
    port = target.port or (443 if target.scheme == "https" else 80)
    try:
        socket.create_connection((target.hostname, port), timeout=CONNECT_TIMEOUT_S).close()
    except OSError as e:  # socket.gaierror (DNS), timeout, refused, unreachable
        via = "" if target is parsed else f" through the proxy {target.hostname}:{port}"
        raise DataError(f"This machine cannot reach {parsed.hostname}{via} to download SVHN ({type(e).__name__}: {e}). "
                        f"Download {url} on a machine with internet and put it at {final} (md5 "
                        f"{OFFICIAL_MD5.get(final.name, '?')}), or point PLADDER_DATA/--data-dir at a directory whose "
                        f"svhn/ holds it.") from e


def _fetch(url: str, part: Path, split: str, progress_sink: Optional[ProgressSink]) -> None:
    have = part.stat().st_size if part.is_file() else 0
    request = urllib.request.Request(url, headers={"Range": f"bytes={have}-"} if have else {})
    try:
        response = urllib.request.urlopen(request, timeout=READ_TIMEOUT_S)
    except urllib.error.HTTPError as e:
        if e.code == 416 and have:  # nothing left to fetch: the .part is already whole
            return
        raise
    with contextlib.closing(response):
        if have and response.status != 206:
            have = 0  # the server ignored the Range header: start over
        length = response.headers.get("Content-Length")
        total = have + int(length) if length else _APPROX_BYTES[split]
        progress = Progress(progress_sink, f"download svhn {split}", total)
        done = have
        with open(part, "ab" if have else "wb") as f:
            for chunk in iter(lambda: response.read(_CHUNK), b""):
                f.write(chunk)
                done += len(chunk)
                progress.update(min(done, total - 1))  # the final update below closes the bar
            f.flush()
            os.fsync(f.fileno())
        # http.client reads a connection closed early as a normal end of stream: compare with Content-Length.
        if length and done < total:
            raise ConnectionError(f"the connection closed after {done} of {total} bytes")
        progress.update(total)

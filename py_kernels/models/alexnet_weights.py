"""Where the AlexNet column's ImageNet weights come from: torchvision's own file, at torchvision's own cache path.

torchvision's `AlexNet_Weights.IMAGENET1K_V1` (0.13 and later; `pretrained=True` before) is `URL` below, and
torchvision keeps it where `torch.hub.load_state_dict_from_url` puts it: `<torch.hub.get_dir()>/checkpoints/FILE_NAME`,
get_dir() being $TORCH_HOME/hub, else $XDG_CACHE_HOME/torch/hub, else ~/.cache/torch/hub. The same path is read here
(torch.hub computes it), so a machine where torchvision has downloaded the weights needs nothing more, and a machine
without internet needs that one file copied there.

The file is read with py_kernels/safe_load.py: no code runs from it. It is in torch's zip format: torchvision re-saved its
classification weights with the zip serialisation in 2021 (pytorch/vision#3620, closing #2068 about the old
legacy-format files), which is when the file's name changed from alexnet-owt-4df8aa71.pth to FILE_NAME. The tests
write their stand-in file in that same format, at that same path, so it is read by exactly this code.

The 8 hex digits in the name are the start of the file's sha256 (torch.hub's convention, checked on download). A file
already in place is not refused for another hash (torchvision does not check it either); its sha256, and whether it is
torchvision's file, go into the description every run that uses it records (`provenance`).
"""
from __future__ import annotations

import hashlib
import socket
from pathlib import Path
from typing import Dict, Optional

import torch

from .. import safe_load
from ..errors import KernelInputError

URL = "https://download.pytorch.org/models/alexnet-owt-7be5be79.pth"
FILE_NAME = "alexnet-owt-7be5be79.pth"
SHA256_PREFIX = "7be5be79"
DOWNLOAD_TIMEOUT_S = 30  # per socket operation: a machine whose firewall drops packets fails in seconds, not hours


def weights_path() -> Path:
    """<torch.hub.get_dir()>/checkpoints/alexnet-owt-7be5be79.pth: where torchvision keeps (and looks for) the file."""
    return Path(torch.hub.get_dir()) / "checkpoints" / FILE_NAME


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _download(url: str, path: Path) -> None:
    """torch.hub's own download (a temporary file, its sha256 checked against the name's prefix, then moved)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    previous = socket.getdefaulttimeout()
    socket.setdefaulttimeout(DOWNLOAD_TIMEOUT_S)
    try:
        torch.hub.download_url_to_file(url, str(path), hash_prefix=SHA256_PREFIX, progress=False)
    finally:
        socket.setdefaulttimeout(previous)


def ensure_file(url: Optional[str] = None) -> Path:
    """The weights file, downloaded from `url` (default URL) first when it is missing. KernelInputError naming the
    path to put it when it is missing and cannot be downloaded (no internet)."""
    url = url or URL
    path = weights_path()
    if path.is_file():
        return path
    try:
        _download(url, path)
    except Exception as error:  # URLError, a timeout, a refused connection, a hash mismatch: all mean "no file"
        raise KernelInputError(
            f"the AlexNet column's ImageNet weights are not at {path} and cannot be downloaded from {url} "
            f"({type(error).__name__}: {error}); on a machine with internet, download that URL (or run "
            f"`python -c \"import torchvision; torchvision.models.alexnet(weights='IMAGENET1K_V1')\"`, which puts it "
            f"in that machine's torch cache) and copy the file to {path} here (set TORCH_HOME to use another "
            f"cache directory: the file is then looked for at $TORCH_HOME/hub/checkpoints/{FILE_NAME}); or set "
            f"pretrained: false for a random AlexNet (labelled as such in the results)") from None
    return path


def load_imagenet_state(url: Optional[str] = None) -> Dict[str, torch.Tensor]:
    """The file's state dict (torchvision's AlexNet keys: features.*, classifier.*), float32 tensors on the CPU."""
    path = ensure_file(url)
    hint = (f"replace it with torchvision's {FILE_NAME} from {URL} (a zip-format torch file; the older "
            f"alexnet-owt-4df8aa71.pth is in the legacy format, which is not read)")
    state = safe_load.load(str(path), what="AlexNet weights file", hint=hint)
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise KernelInputError(f"AlexNet weights file {path} holds {type(state).__name__}, not a state dict of "
                               f"tensors; {hint}")
    bad = sorted(k for k, v in state.items() if v.dtype != torch.float32)
    if bad:
        raise KernelInputError(f"AlexNet weights file {path} holds non-float32 tensors {bad[:4]}; {hint}")
    return state


def provenance(pretrained: bool, trunk_seed: int) -> Dict[str, object]:
    """What a result must say about the trunk's weights: {"pretrained", "label", "path", "sha256", "torchvision_file"}
    ("path" and the rest are None for a random trunk). Reads (and hashes) the file when pretrained."""
    if not pretrained:
        return {"pretrained": False, "path": None, "sha256": None, "torchvision_file": None,
                "label": f"AlexNet with RANDOM weights (pretrained: false, trunk_seed {trunk_seed}), not ImageNet"}
    path = weights_path()
    sha256 = file_sha256(path) if path.is_file() else None
    official = sha256 is not None and sha256.startswith(SHA256_PREFIX)
    which = "torchvision's file" if official else f"NOT torchvision's file (its sha256 does not start {SHA256_PREFIX})"
    return {"pretrained": True, "path": str(path), "sha256": sha256, "torchvision_file": official,
            "label": f"AlexNet with ImageNet weights from {path} (sha256 {sha256}, {which})"}

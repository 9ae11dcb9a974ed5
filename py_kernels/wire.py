"""What may cross the bridge: plain JSON with every non-finite float made explicit.

pythonia parses Python's replies with Node's JSON parser, which throws outside any try/catch on NaN or Infinity and
kills the Node process. So every reply is encoded here, in Python, as a JSON string with `allow_nan=False`, and each
NaN/Infinity becomes `{"$nonfinite": "NaN" | "Infinity" | "-Infinity"}`, a value the TypeScript schemas name.
"""
from __future__ import annotations

import json
import math
from pathlib import PurePath
from typing import Any

import numpy as np

try:  # torch is optional here so that the encoder can be tested on its own
    import torch
except ImportError:  # pragma: no cover
    torch = None

NONFINITE_KEY = "$nonfinite"


def _float(value: float) -> Any:
    if math.isfinite(value):
        return value
    if math.isnan(value):
        return {NONFINITE_KEY: "NaN"}
    return {NONFINITE_KEY: "Infinity" if value > 0 else "-Infinity"}


def to_plain(value: Any) -> Any:
    """Converts a Python result into JSON-able values: numpy/torch scalars to numbers, small arrays to lists."""
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return _float(value)
    if isinstance(value, dict):
        return {str(k): to_plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_plain(v) for v in value]
    if isinstance(value, PurePath):
        return str(value)
    if isinstance(value, np.generic):
        return to_plain(value.item())
    if isinstance(value, np.ndarray):
        return to_plain(value.tolist())
    if torch is not None and isinstance(value, torch.Tensor):
        return to_plain(value.detach().cpu().tolist())
    raise TypeError(f"cannot send a {type(value).__name__} across the bridge; return plain data or a tensor handle")


def dumps(value: Any) -> str:
    return json.dumps(to_plain(value), allow_nan=False, separators=(",", ":"))

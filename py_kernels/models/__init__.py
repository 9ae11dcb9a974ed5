"""Model registry: `build_model(name, **config)` is the one way to ask for a network by name (torchvision style).

Every builder takes keyword-only, annotated arguments (its config fields plus an optional `seed` for the weight
initialisation) and returns an `nn.Module` on the CPU; move it with `.to(device)`.
"""
from __future__ import annotations

import inspect
from typing import Callable, Dict, List

import torch.nn as nn

from ..errors import KernelInputError
from .column import EncoderColumn, build_column, column_from_state
from .ladder import Ladder, LadderConfig, build_ladder
from .mlp import MLP, MLPConfig, build_mlp
from .progressive import ProgressiveConfig, ProgressiveNetwork, build_progressive, parse_spec

BUILDERS: Dict[str, Callable[..., nn.Module]] = {
    "ladder": build_ladder,
    "mlp": build_mlp,
    "progressive": build_progressive,
}


def list_models() -> List[str]:
    return sorted(BUILDERS)


def build_model(name: str, **config) -> nn.Module:
    builder = BUILDERS.get(name)
    if builder is None:
        raise KernelInputError(f"unknown model {name!r}; known models: {', '.join(list_models())}")
    accepted = inspect.signature(builder).parameters
    unknown = sorted(k for k in config if k not in accepted)
    if unknown:
        raise KernelInputError(
            f"model {name!r} got unknown option(s) {unknown}; it accepts {', '.join(accepted)}")
    return builder(**config)


__all__ = ["BUILDERS", "EncoderColumn", "Ladder", "LadderConfig", "MLP", "MLPConfig", "build_column",
           "build_ladder", "build_mlp", "build_model", "build_progressive", "column_from_state", "list_models",
           "parse_spec", "ProgressiveConfig", "ProgressiveNetwork"]

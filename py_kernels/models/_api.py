"""The two registries (torchvision's `models/_api.py` shape): columns by architecture, models by name.

A column file registers its builder with `@register_column("fc", module=FCColumn, config=FCColumnConfig)`; a model
file with `@register_model("ladder", objective="ladder", config=LadderConfig)`. Builders take keyword-only,
annotated arguments (the config's fields, plus an optional `seed` for the weight initialisation) and return a module
on the CPU. A config class is called with the same fields (no `seed`) and touches no tensor or file: it is what
`describe_model` reads.

The objective names the trainer (`training.TRAINERS`): "ladder" (supervised + denoising costs on labeled and
unlabeled batches) or "supervised" (cross-entropy on labeled batches).
"""
from __future__ import annotations

import inspect
from dataclasses import dataclass, fields
from typing import Any, Callable, Dict, Optional, Type, TypeVar

import torch
import torch.nn as nn

from ..errors import KernelInputError
from .column_api import Column

OBJECTIVES = ("ladder", "supervised")

B = TypeVar("B", bound=Callable[..., Any])


@dataclass(frozen=True)
class ColumnEntry:
    name: str
    module: Type[Column]
    config: Callable[..., Any]     # the config dataclass, called with the builder's fields minus `seed`
    builder: Callable[..., Column]

    @property
    def input_view(self) -> str:
        return self.module.input_view

    def view_of(self, config: Any) -> str:
        """The view a column of this config reads (`Column.reads`, known before the column is built)."""
        return getattr(config, "input_view", None) or self.module.input_view

    def build(self, config: Any, seed: Optional[int]) -> Column:
        """The column of an already made config (its fields are the builder's options)."""
        return self.builder(seed=seed, **{f.name: getattr(config, f.name) for f in fields(config)})


@dataclass(frozen=True)
class ModelEntry:
    name: str
    objective: str
    config: Callable[..., Any]     # called with the builder's fields minus `seed`; has a `columns` property
    builder: Callable[..., nn.Module]


@dataclass(frozen=True)
class ColumnDecl:
    """A column as a config declares it: what `describe_model` reports, no tensors."""
    name: str
    architecture: str
    config: Any


COLUMNS: Dict[str, ColumnEntry] = {}
MODELS: Dict[str, ModelEntry] = {}


def register_column(name: str, *, module: Type[Column], config: Callable[..., Any]) -> Callable[[B], B]:
    def register(builder: B) -> B:
        if name in COLUMNS:
            raise ValueError(f"a column architecture {name!r} is already registered ({COLUMNS[name].builder})")
        if not module.input_view:
            raise ValueError(f"column {module.__name__} declares no input_view")
        module.architecture = name
        COLUMNS[name] = ColumnEntry(name, module, config, builder)
        return builder
    return register


def register_model(name: str, *, objective: str, config: Callable[..., Any]) -> Callable[[B], B]:
    def register(builder: B) -> B:
        if name in MODELS:
            raise ValueError(f"a model {name!r} is already registered ({MODELS[name].builder})")
        if objective not in OBJECTIVES:
            raise ValueError(f"model {name!r}: objective must be one of {OBJECTIVES}, got {objective!r}")
        MODELS[name] = ModelEntry(name, objective, config, builder)
        return builder
    return register


def _lookup(registry: Dict[str, Any], name: str, what: str):
    entry = registry.get(name)
    if entry is None:
        raise KernelInputError(f"unknown {what} {name!r}; known: {', '.join(sorted(registry))}")
    return entry


def get_column(name: str) -> ColumnEntry:
    return _lookup(COLUMNS, name, "column architecture")


def get_model(name: str) -> ModelEntry:
    return _lookup(MODELS, name, "model")


def check_options(builder: Callable[..., Any], options: Dict[str, Any], what: str) -> None:
    """Every option the builder takes, and none it does not (`seed` may be left out)."""
    params = inspect.signature(builder).parameters
    unknown = sorted(k for k in options if k not in params)
    missing = sorted(k for k, p in params.items() if p.default is inspect.Parameter.empty and k not in options)
    if unknown or missing:
        problems = ([f"unknown option(s) {unknown}"] if unknown else []) + ([f"missing {missing}"] if missing else [])
        raise KernelInputError(f"{what}: {' and '.join(problems)}; it takes {', '.join(params)}")


def build_column(architecture: str, *, seed: Optional[int] = None, **options) -> Column:
    entry = get_column(architecture)
    check_options(entry.builder, options, f"column {architecture!r}")
    return entry.builder(seed=seed, **options)


def column_config(architecture: str, **options) -> Any:
    """The column's config dataclass from its options, without building it."""
    entry = get_column(architecture)
    check_options(entry.config, options, f"column {architecture!r}")
    return entry.config(**options)


def column_from_state(architecture: str, state: Dict[str, torch.Tensor]) -> Column:
    return get_column(architecture).module.from_state(state)


def build_model(name: str, **options) -> nn.Module:
    entry = get_model(name)
    check_options(entry.builder, options, f"model {name!r}")
    return entry.builder(**options)


def model_config(name: str, **options) -> Any:
    entry = get_model(name)
    check_options(entry.config, options, f"model {name!r}")
    return entry.config(**options)


def seeded_generator(seed: Optional[int]) -> Optional[torch.Generator]:
    """A CPU generator for a builder's `seed` (None: the global RNG)."""
    return None if seed is None else torch.Generator().manual_seed(int(seed))

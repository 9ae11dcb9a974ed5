"""Models and columns by name (torchvision style): `build_model(name, **config)` and `build_column(architecture,
**config)` are the one way to ask for a network; `describe_model` says what a model needs and gives, building nothing.

Layout: `_api.py` the registries, `column_api.py` the `Column` protocol, `columns/` one file per column architecture
("fc", "conv"), `adapters.py` the lateral adapters, and one file per model: `ladder.py`, `conv_ladder.py`, `mlp.py`,
`progressive.py`.

Every model has `output_column` (its trained column, exported as a reusable source), `layer_shapes` (that column's),
`forward_clean(x)` (test-time logits), `encoder_activations(x)` and `costs(...)` for its objective's trainer.
"""
from __future__ import annotations

from typing import Any, Dict, List

from ..errors import KernelInputError
from . import columns  # noqa: F401  registers the column architectures
from ._api import (COLUMNS, MODELS, OBJECTIVES, ColumnDecl, ColumnEntry, ModelEntry, build_column, build_model,
                   column_config, column_from_state, get_column, get_model, model_config)
from .adapters import ADAPTERS, PLACEMENTS, AdapterSpec, build_adapter
from .column_api import Column, Shape
from .columns.conv import ConvColumn, ConvColumnConfig, build_conv_column
from .columns.fc import FCColumn, FCColumnConfig, build_fc_column
from .conv_ladder import ConvLadder, ConvLadderConfig, build_conv_ladder
from .ladder import Ladder, LadderConfig, build_ladder
from .mlp import MLP, MLPConfig, build_mlp
from .progressive import ProgressiveConfig, ProgressiveNetwork, build_progressive, parse_spec


def describe_model(architecture: str, config: Dict[str, Any]) -> Dict[str, Any]:
    """What a model reads and what it is, from its config alone (no file read, no tensor built):
    {"architecture", "objective" ("ladder" | "supervised": its trainer), "input_view" (the output column's data
    view), "views" (every view its columns read, [{"view", "options"}], options None but for a view computed by a
    frozen network, e.g. {"pretrained", "trunk_seed"} of "alexnet-features"), "input_shape", "classes",
    "layer_shapes" (the output column's, input first), "columns": [{"name", "architecture", "input_view",
    "layer_shapes"}, ...] (the last one is the output)}. Shapes are lists of ints. A model given several views takes
    them as one `ViewInputs` (view_inputs.py).

    `config` is the model's options, e.g. {"widths": [...]} for "mlp"; an "architecture" key, if present, must
    equal `architecture`."""
    options = dict(config)
    if options.pop("architecture", architecture) != architecture:
        raise KernelInputError(f"describe_model({architecture!r}, ...) got a config of architecture "
                         f"{config['architecture']!r}")
    entry = get_model(architecture)
    decls = model_config(architecture, **options).columns
    described: List[Dict[str, Any]] = [
        {"name": d.name, "architecture": d.architecture, "input_view": get_column(d.architecture).view_of(d.config),
         "layer_shapes": [list(s) for s in d.config.layer_shapes]} for d in decls]
    views: Dict[str, Any] = {}
    for d, column in zip(decls, described):
        options = getattr(d.config, "view_options", None)
        if views.setdefault(column["input_view"], options) != options:
            raise KernelInputError(f"columns read the view {column['input_view']!r} computed two ways "
                                   f"({views[column['input_view']]} and {options}, column {d.name!r}); one model "
                                   f"reads each view one way: give those columns the same options")
    output = described[-1]
    return {
        "architecture": architecture,
        "objective": entry.objective,
        "input_view": output["input_view"],
        "views": [{"view": view, "options": options} for view, options in views.items()],
        "input_shape": output["layer_shapes"][0],
        "classes": output["layer_shapes"][-1][0],
        "layer_shapes": output["layer_shapes"],
        "columns": described,
    }


__all__ = ["ADAPTERS", "COLUMNS", "MODELS", "OBJECTIVES", "AdapterSpec", "Column", "ColumnDecl", "ColumnEntry",
           "ConvColumn", "ConvColumnConfig", "ConvLadder", "ConvLadderConfig", "FCColumn", "FCColumnConfig",
           "Ladder", "LadderConfig", "MLP", "MLPConfig", "ModelEntry", "PLACEMENTS", "ProgressiveConfig",
           "ProgressiveNetwork", "Shape", "build_adapter", "build_column", "build_conv_column", "build_conv_ladder",
           "build_fc_column", "build_ladder", "build_mlp", "build_model", "build_progressive", "column_config",
           "column_from_state", "describe_model", "get_column", "get_model", "model_config", "parse_spec"]

"""Reading a trainer checkpoint (checkpoint.pt) that may have been edited, replaced or written by another version, and
refusing it, by name, unless it is one the trainer it is loaded into could have written itself.

A checkpoint is untrusted data like any column file: safe_load reads it without running code; `validate` then checks
its structure against a `Template` of the trainer that is to continue from it (the trainer's own state now and the
shape of every parameter its optimiser steps), so that nothing reaches torch's loaders (load_state_dict, the RNGs'
set_state, Adam's state) that they would fail on with a traceback, or worse take silently (a sampler position past its
data, a seed other than the run's). The identity of the run (kind, seed, schedule) must be the trainer's, which is
built from the run's config.json.
"""
from __future__ import annotations

import math
import os
from dataclasses import dataclass
from typing import Any, Dict, List, NoReturn, Optional, Sequence, Tuple

import torch

from . import safe_load
from .errors import KernelInputError

# What to do about a checkpoint that is refused: the run directory holds its complete epochs in metrics.jsonl too.
FIX = "delete it to train the run again from its first epoch (or start the run over: bin/pladder run FILE --fresh)"

# The optimiser's hyperparameters that the trainers' Adam reads in every step (optim.py), with the kind each has.
_GROUP_KEYS = {"lr": "number", "betas": "pair", "eps": "number", "weight_decay": "number", "amsgrad": "bool"}

@dataclass
class Template:
    """What a checkpoint must look like to be loaded into a trainer: `reference`, a checkpoint the trainer would write
    now (its state_dict, or a batched trainer's seed_state_dict), and `parameters`, the shape of each parameter its
    optimiser steps, in the optimiser's order (a batched trainer's without the seed dimension)."""
    reference: dict
    parameters: List[Tuple[int, ...]]


def template(reference: dict, parameters: Sequence[Sequence[int]]) -> Template:
    return Template(reference, [tuple(int(n) for n in shape) for shape in parameters])


def read(path: str, device: torch.device, expected: Template) -> dict:
    """The checkpoint in `path` (safe-loaded onto `device`), checked against `expected` (a trainer's
    checkpoint_template); else a KernelInputError that names the file, what is wrong with it and what to do. Without
    checkpoint.pt the runner trains the run from epoch 1 again: the way out of a damaged one."""
    if os.path.isdir(path):
        raise KernelInputError(f"checkpoint {path} is a folder, not a checkpoint file; {FIX}")
    if not os.path.isfile(path):
        raise KernelInputError(f"checkpoint {path} does not exist")
    state = safe_load.load(path, what="checkpoint", map_location=device, hint=FIX)
    validate(state, expected, path)
    return state


def validate(state: Any, expected: Template, path: str) -> None:
    """Raises a KernelInputError naming `path` unless `state` has the structure of `expected.reference`: the same
    identity (kind, seed, schedule), an epoch within the schedule, the network's every key with its shape and dtype,
    an Adam state for the optimiser's parameters, generator and RNG states of the right size, samplers over the
    trainer's data."""
    def refuse(problem: str) -> NoReturn:
        raise KernelInputError(f"checkpoint {path} {problem}; {FIX}")

    reference = expected.reference
    if not isinstance(state, dict):
        refuse(f"holds a {type(state).__name__}, not a trainer checkpoint (a dict); it was not written by pladder run")
    required = ("kind", "epoch", "epochs_planned", "lr", "decay_fraction", "seed", "model", "optimizer", "generator",
                "samplers", "torch_rng")
    missing = [key for key in required if key not in state]
    if missing:
        refuse(f"is not a trainer checkpoint: it has no {_names(missing)} (one holds {', '.join(required)}); it was "
               f"not written by pladder run, or was edited")

    # -- identity and schedule: the run's, from its config.json -----------------------------------------------------
    for key in ("epoch", "epochs_planned", "seed"):
        if not _is_int(state[key]):
            refuse(f"has {key} = {state[key]!r}, which is not an integer")
    for key in ("lr", "decay_fraction"):
        if not _is_number(state[key]):
            refuse(f"has {key} = {state[key]!r}, which is not a finite number")
    if state["seed"] != reference["seed"]:
        refuse(f"is seed {state['seed']}'s, but the run is seed {reference['seed']} (its config.json and its "
               f"folder seed-{reference['seed']}); a checkpoint continues only the seed that wrote it")
    check_schedule(state, reference, refuse)
    if not 0 <= state["epoch"] <= state["epochs_planned"]:
        refuse(f"is at epoch {state['epoch']}, outside the run's {state['epochs_planned']} planned epochs "
               f"(0..{state['epochs_planned']})")

    # -- the network ----------------------------------------------------------------------------------------------
    _check_tensors(state["model"], reference["model"], "model", refuse)

    # -- the optimiser --------------------------------------------------------------------------------------------
    _check_optimizer(state["optimizer"], reference["optimizer"], expected.parameters, refuse)

    # -- random number generators ---------------------------------------------------------------------------------
    _check_rng(state["generator"], reference["generator"], "generator", refuse)
    _check_rng(state["torch_rng"], reference["torch_rng"], "torch_rng", refuse)
    if "cuda_rng" in state:
        cuda = state["cuda_rng"]
        if not isinstance(cuda, (list, tuple)) or not all(isinstance(t, torch.Tensor) and t.dtype == torch.uint8
                                                          and t.dim() == 1 for t in cuda):
            refuse("has a cuda_rng that is not a list of byte tensors (torch.cuda.get_rng_state_all())")
        if torch.cuda.is_available():
            if len(cuda) > torch.cuda.device_count():
                refuse(f"holds the RNG states of {len(cuda)} CUDA devices, this machine has "
                       f"{torch.cuda.device_count()}")
            for i, t in enumerate(cuda):
                size = torch.cuda.get_rng_state(i).numel()
                if t.numel() != size:
                    refuse(f"has cuda_rng[{i}] of {t.numel()} bytes, a CUDA generator's state is {size} bytes")

    # -- the samplers: positions in the trainer's data ------------------------------------------------------------
    samplers, mine = state["samplers"], reference["samplers"]
    if not isinstance(samplers, dict) or set(samplers) != set(mine):
        got = sorted(samplers) if isinstance(samplers, dict) else type(samplers).__name__
        refuse(f"has samplers {got}, the trainer has {sorted(mine)}")
    for name, sampler in samplers.items():
        _check_sampler(sampler, mine[name]["n"], f"samplers[{name!r}]", refuse)
    # `last_metrics`, the record of its last epoch, is checked where it is returned: the bridge validates every reply
    # against its zod schema (bridge/calls.ts), the one definition of an epoch record.


def check_schedule(state: dict, reference: dict, refuse) -> None:
    """`state` is a checkpoint of `reference`'s kind of trainer and schedule (epochs_planned, lr, decay_fraction): the
    one rule, for a file read here and for a state handed to a trainer (Trainer.check_checkpoint)."""
    if state.get("kind") != reference["kind"]:
        refuse(f"is for a {state.get('kind')!r} trainer, but the run's config.json builds a {reference['kind']!r} "
               f"trainer")
    for key in ("epochs_planned", "lr", "decay_fraction"):
        if state[key] != reference[key]:
            refuse(f"was trained with {key} = {state[key]}, but the run's config.json gives {key} = {reference[key]}; "
                   f"it continues exactly only under the schedule it was trained with")


def _names(keys: Sequence[Any], limit: int = 4) -> str:
    shown = ", ".join(repr(k) for k in list(keys)[:limit])
    return shown + (f" and {len(keys) - limit} more" if len(keys) > limit else "")


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _shape(t: torch.Tensor) -> Tuple[int, ...]:
    return tuple(t.shape)


def _check_tensors(saved: Any, mine: Dict[str, torch.Tensor], what: str, refuse) -> None:
    """`saved` a dict of tensors with exactly the keys of `mine`, each of its shape and dtype."""
    if not isinstance(saved, dict):
        refuse(f"has a {what} state of type {type(saved).__name__}, not a dict of tensors")
    missing, extra = [k for k in mine if k not in saved], [k for k in saved if k not in mine]
    if missing:
        refuse(f"lacks {what} key(s) {_names(missing)} that the network built from the run's config.json has")
    if extra:
        refuse(f"has {what} key(s) {_names(extra)} that the network built from the run's config.json does not have")
    for key, value in mine.items():
        got = saved[key]
        if not isinstance(got, torch.Tensor):
            refuse(f"has {what}[{key!r}] of type {type(got).__name__}, not a tensor")
        if _shape(got) != _shape(value):
            refuse(f"has {what}[{key!r}] of shape {_shape(got)}, but the network built from the run's config.json "
                   f"has {_shape(value)}")
        if got.dtype != value.dtype:
            refuse(f"has {what}[{key!r}] of dtype {got.dtype}, the network's is {value.dtype}")


def _check_optimizer(saved: Any, mine: dict, parameters: List[Tuple[int, ...]], refuse) -> None:
    if not isinstance(saved, dict) or not isinstance(saved.get("state"), dict) \
            or not isinstance(saved.get("param_groups"), list):
        refuse("has an optimizer state that is not an Adam state dict ({'state': {...}, 'param_groups': [...]})")
    groups, my_groups = saved["param_groups"], mine["param_groups"]
    if len(groups) != len(my_groups):
        refuse(f"has {len(groups)} optimizer parameter group(s), the trainer's Adam has {len(my_groups)}")
    ids: List[int] = []
    for g, (group, my_group) in enumerate(zip(groups, my_groups)):
        if not isinstance(group, dict) or not isinstance(group.get("params"), list) \
                or not all(_is_int(i) for i in group["params"]):
            refuse(f"has optimizer param_groups[{g}] without its list of parameter indices ('params')")
        if len(group["params"]) != len(my_group["params"]):
            refuse(f"has optimizer param_groups[{g}] over {len(group['params'])} parameters, the trainer's Adam "
                   f"steps {len(my_group['params'])}")
        for key, kind in _GROUP_KEYS.items():
            value = group.get(key)
            ok = (isinstance(value, bool) if kind == "bool" else _is_number(value) if kind == "number" else
                  isinstance(value, (list, tuple)) and len(value) == 2 and all(_is_number(b) for b in value))
            if not ok:
                refuse(f"has optimizer param_groups[{g}][{key!r}] = {value!r}, not a valid Adam setting")
        ids.extend(group["params"])
    if sorted(ids) != list(range(len(parameters))):
        refuse(f"numbers the optimizer's parameters {_names(sorted(ids))}, the trainer's Adam has "
               f"{len(parameters)} (0..{len(parameters) - 1}, each once)")
    shape_of = dict(zip(ids, parameters))
    for i, entry in saved["state"].items():
        if i not in shape_of:
            refuse(f"has an optimizer state for parameter {i!r}, the trainer's Adam has parameters "
                   f"0..{len(parameters) - 1}")
        if not isinstance(entry, dict) or not {"step", "exp_avg", "exp_avg_sq"} <= set(entry):
            refuse(f"has an optimizer state for parameter {i} without its step, exp_avg and exp_avg_sq")
        step = entry["step"]
        if isinstance(step, torch.Tensor):
            step = float(step) if step.numel() == 1 else None
        if not _is_number(step) or step < 0:
            refuse(f"has an optimizer step count {entry['step']!r} for parameter {i}, not a number >= 0")
        for key in ("exp_avg", "exp_avg_sq"):
            value = entry[key]
            if not isinstance(value, torch.Tensor) or not value.is_floating_point() \
                    or _shape(value) != shape_of[i]:
                got = _shape(value) if isinstance(value, torch.Tensor) else type(value).__name__
                refuse(f"has optimizer state[{i}][{key!r}] of shape {got}, but that parameter of the network built "
                       f"from the run's config.json has shape {shape_of[i]}")


def _check_rng(saved: Any, mine: torch.Tensor, what: str, refuse) -> None:
    if not isinstance(saved, torch.Tensor) or saved.dtype != torch.uint8 or saved.dim() != 1 \
            or saved.numel() != mine.numel():
        got = (f"{saved.dtype} tensor of shape {_shape(saved)}" if isinstance(saved, torch.Tensor)
               else type(saved).__name__)
        refuse(f"has a {what} state that is a {got}, a generator's state is a uint8 tensor of {mine.numel()} bytes")


def _check_sampler(saved: Any, n: int, what: str, refuse) -> None:
    if not isinstance(saved, dict) or not {"perm", "pos", "n"} <= set(saved):
        refuse(f"has {what} without its perm, pos and n")
    if saved["n"] != n or not _is_int(saved["n"]):
        refuse(f"has {what} over {saved['n']!r} examples, the run's data has {n}")
    if not _is_int(saved["pos"]) or not 0 <= saved["pos"] <= n:
        refuse(f"has {what} at position {saved['pos']!r}, outside 0..{n}")
    perm: Optional[torch.Tensor] = saved["perm"]
    if perm is None:
        return
    if not isinstance(perm, torch.Tensor) or perm.dtype != torch.int64 or _shape(perm) != (n,) \
            or not torch.equal(perm.sort().values.cpu(), torch.arange(n)):
        refuse(f"has {what} whose perm is not a permutation of the run's {n} examples")

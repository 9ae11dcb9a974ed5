"""Several seeds of one experiment trained together in one kernel (`pladder run --batch-seeds`), held by the kernel
between calls like a run (runs.py) and driven epoch by epoch from TypeScript.

A group is the runs of seeds s_1..s_K of one experiment: each keeps its own run directory, metrics, checkpoint (in
the single trainer's format, so a seed resumes alone or with others) and exported model and column, exactly as a run
of its own; only the training is shared. How (`seed_threads_pay`): on a GPU, one batched network (batched_training.py:
each slice trains as that seed alone would, up to the summation order of the batched matrix products), which exists
for the fc ladder, the MLP and progressive networks of fc columns (each seed on its own source columns); on a CPU
kernel with several cores, and on the CPU for any other model reading one view of the data (conv columns), each
seed's own trainer, stepped by one thread per core (seed_threads.py: bit for bit the run alone).
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Dict, List, Optional, Sequence, Union

import torch

from . import checkpoints
from .batched_training import BatchedLadderTrainer, BatchedSupervisedTrainer, BatchedTrainer
from .cpu_threads import cpu_threads_for
from .errors import KernelInputError
from .models import build_model, describe_model, get_model
from .models.batched_fc import BatchedMLP, stack_columns
from .models.batched_ladder import stack_ladders
from .models.batched_progressive import stack_progressive
from .progress import ProgressSink
from .runs import _indices, _save_atomic, export_model, model_input
from .seed_threads import SeedThreadsTrainer
from .tensors import TensorStore
from .training import trainer_for

def has_batched_twin(model: dict) -> bool:
    """A model (runs.create's) with a batched network (models/batched_ladder.py, batched_fc.py,
    batched_progressive.py): the fc ladder, the MLP, progressive networks of fc columns."""
    if model.get("architecture") == "progressive":
        return all(column.get("architecture") == "fc" for column in model["spec"]["columns"])
    return model.get("architecture") in ("ladder", "mlp")


def batched_network_takes(model: dict, training: dict) -> bool:
    """Whether the seeds can train as one batched network: the model has one, and the training does not ask for
    population statistics (which the batched trainers do not compute)."""
    return has_batched_twin(model) and training["population_statistics"] is None


def why_seeds_apart(model: dict, training: dict, device_type: str) -> Optional[str]:
    """None where the seeds of `model` can train together on a device of `device_type` (`pladder run --batch-seeds`,
    which plans its jobs with this rule through api.run_group_support), else why each seed trains a run of its own.
    On the CPU any model whose columns read one view of the data can (each seed's own trainer, in threads); elsewhere
    only as one batched network."""
    if device_type == "cpu":
        views = describe_model(model["architecture"], model)["views"]
        if len(views) > 1:
            return (f"its columns read {len(views)} views of the data ({', '.join(v['view'] for v in views)}); seeds "
                    f"train together on one view only")
        return None
    if not has_batched_twin(model):
        this = (f"a progressive network of {'/'.join(sorted({c['architecture'] for c in model['spec']['columns']}))} "
                f"columns" if model.get("architecture") == "progressive" else repr(model.get("architecture")))
        return (f"on {device_type} seeds train together as one batched network, which exists for the fc ladder, the "
                f"MLP and progressive networks of fc columns, not for {this}")
    if not batched_network_takes(model, training):
        return f"training.population_statistics is not supported by the batched network on {device_type}"
    return None


def seed_threads_pay(device: torch.device, threads: int, model: dict, training: dict) -> bool:
    """Seeds in threads (seed_threads.py) on the CPU: on a kernel of two or more threads, where they measured faster
    than the batched network (docs/results.md, section seeds), and for any seeds the batched network does not take
    (conv columns, population statistics: on one thread their seeds then step in turn). The batched network on a
    GPU, and where it takes the seeds on one core (one op for all seeds instead of one each)."""
    return device.type == "cpu" and (threads >= 2 or not batched_network_takes(model, training))


# What a group trains with: the batched network, or each seed's own trainer in threads.
GroupTrainer = Union[BatchedTrainer, SeedThreadsTrainer]


@dataclass
class Group:
    trainer: GroupTrainer
    architecture: str
    options: List[dict]               # each seed's model options (its dict without "architecture"), to rebuild it
    seeds: List[int]
    x_test: torch.Tensor              # (Nt, in), every seed's
    y_test: torch.Tensor
    x_validation: Optional[torch.Tensor]  # (K, Nv, in): each seed's own held-out images, or None
    y_validation: Optional[torch.Tensor]  # (K, Nv)
    batches: dict


_groups: Dict[str, Group] = {}


def get(group_id: str) -> Group:
    try:
        return _groups[group_id]
    except KeyError:
        raise KernelInputError(f"no run group {group_id!r} in the kernel; create it with run_group_create first") from None


def create(group_id: str, models: Sequence[dict], training: dict, seeds: Sequence[int], tensors: dict,
           splits: Sequence[dict], test_limit: Optional[int], store: TensorStore, device: torch.device,
           threads: int = 1) -> dict:
    """The networks of `seeds` (each initialised as its own run would be) and the group's trainer: one batched network,
    or on a CPU kernel of `threads` >= 2 threads each seed's own trainer in threads (`seed_threads_pay`). models[k]:
    seed k's model, as runs.create takes it (one architecture; a progressive network's source columns are seed k's
    own); training, test_limit: as runs.create takes them; tensors: {train_x, train_y, test_x, test_y}; splits[k]:
    seed k's {train, labeled, validation} index tensors (api.data_pool_split with seed k).
    -> {"group_id", "seeds", "parameters" (one seed's), "labeled", "unlabeled", "validation", "trained_as"
    ({"kind": "batched_network"} or {"kind": "seed_threads", "threads"})}"""
    architecture = models[0].get("architecture") if models else None
    if any(model.get("architecture") != architecture for model in models):
        raise KernelInputError(f"the seeds of a run group share one architecture, got "
                               f"{sorted({str(m.get('architecture')) for m in models})}")
    reason = why_seeds_apart(models[0], training, device.type)
    if reason:
        raise KernelInputError(f"the seeds of this {architecture!r} cannot train together: {reason}; leave "
                               f"--batch-seeds off for it")
    threaded = seed_threads_pay(device, threads, models[0], training)
    if len(seeds) < 2 or len(splits) != len(seeds) or len(models) != len(seeds) or len(set(seeds)) != len(seeds):
        raise KernelInputError(f"a run group needs two or more distinct seeds and one model and split each, got seeds "
                               f"{list(seeds)}, {len(models)} models and {len(splits)} splits")
    x, y = model_input(store, tensors["train_x"]), store.get(tensors["train_y"])
    if not isinstance(x, torch.Tensor):
        raise KernelInputError("batched seeds read one view of the data (train_x names one tensor)")
    n = len(x)
    per_seed = [{key: None if split[key] is None else _indices(store, split, key, n)
                 for key in ("train", "labeled", "validation")} for split in splits]
    validation_sizes = {0 if s["validation"] is None else s["validation"].numel() for s in per_seed}
    if len(validation_sizes) != 1:
        raise KernelInputError(f"the seeds' validation sets differ in size ({sorted(validation_sizes)}); batched "
                               f"seeds are evaluated together")
    options = [{k: v for k, v in model.items() if k != "architecture"} for model in models]
    networks = [build_model(architecture, seed=int(s), **o).to(device) for s, o in zip(seeds, options)]
    trainer_class = trainer_for(get_model(architecture).objective)
    batches = trainer_class.epoch_options(training)
    if threaded:
        # each seed the trainer its own run would have (runs.create), on the same tensors
        trainer: GroupTrainer = SeedThreadsTrainer(
            [trainer_class.for_run(net, x, y, s["train"], s["labeled"], training, int(seed))
             for net, s, seed in zip(networks, per_seed, seeds)], threads)
    else:
        schedule = dict(epochs_planned=training["epochs"], lr=training["learning_rate"],
                        decay_fraction=training["decay_fraction"])
        if architecture == "ladder":
            data = [(x[s["labeled"]], y[s["labeled"]], x[s["train"]]) for s in per_seed]
            trainer = BatchedLadderTrainer(stack_ladders(networks), data, seeds, **schedule)
        else:
            data = [(x[s["labeled"]], y[s["labeled"]]) for s in per_seed]
            batched = (stack_progressive(networks) if architecture == "progressive"
                       else stack_columns(networks, BatchedMLP))
            trainer = BatchedSupervisedTrainer(batched, data, seeds, **schedule)
    validated = per_seed[0]["validation"] is not None
    test = slice(None) if test_limit is None else slice(0, int(test_limit))
    _groups[group_id] = Group(
        trainer, architecture, options, [int(s) for s in seeds], store.get(tensors["test_x"])[test],
        store.get(tensors["test_y"])[test],
        torch.stack([x[s["validation"]] for s in per_seed]) if validated else None,
        torch.stack([y[s["validation"]] for s in per_seed]) if validated else None, batches)
    return {"group_id": group_id, "seeds": [int(s) for s in seeds],
            "parameters": sum(p.numel() for p in networks[0].parameters() if p.requires_grad),
            "labeled": [int(s["labeled"].numel()) for s in per_seed],
            "unlabeled": [int(s["train"].numel()) for s in per_seed], "validation": validation_sizes.pop(),
            "trained_as": ({"kind": "seed_threads", "threads": trainer.threads}
                           if isinstance(trainer, SeedThreadsTrainer) else {"kind": "batched_network"})}


def epoch(group_id: str, checkpoint_paths: Sequence[Optional[str]], progress: Optional[ProgressSink]) -> List[dict]:
    """One epoch of every seed, evaluated (each on its own validation set, all on the test set), each seed's checkpoint
    written to checkpoint_paths[k] (None: not written, e.g. a seed that has ended) -> per seed what runs.epoch
    returns for a run of its own, plus "seeds_batched"; the times are the group's."""
    group = get(group_id)
    trainer = group.trainer
    if len(checkpoint_paths) != len(group.seeds):
        raise KernelInputError(f"{len(checkpoint_paths)} checkpoint paths for {len(group.seeds)} seeds; give one per "
                               f"seed (null for a seed whose checkpoint is not to be written)")
    started = time.perf_counter()
    with cpu_threads_for(trainer.model):
        metrics = trainer.train_epoch(**group.batches, progress_sink=progress)
        evaluated = time.perf_counter()
        validation = ([{"accuracy": None, "error": None, "examples": 0}] * len(group.seeds)
                      if group.x_validation is None else trainer.evaluate(group.x_validation, group.y_validation))
        test = trainer.evaluate(group.x_test, group.y_test)
    for m, v, t in zip(metrics, validation, test):
        m.update(validation_accuracy=v["accuracy"], validation_error=v["error"], validation_examples=v["examples"],
                 test_accuracy=t["accuracy"], test_error=t["error"], test_examples=t["examples"],
                 train_seconds=evaluated - started, eval_seconds=time.perf_counter() - evaluated)
    for k, path in enumerate(checkpoint_paths):
        if path:
            _save_atomic({**trainer.seed_state_dict(k), "last_metrics": metrics[k]}, path)
    for m in metrics:
        m["kernel_seconds"] = time.perf_counter() - started
    return metrics


def load_checkpoints(group_id: str, paths: Sequence[str]) -> dict:
    """Every seed's checkpoint (one per seed, in seed order, all of one epoch) -> {"epoch", "last_metrics": [...]}."""
    group = get(group_id)
    if len(paths) != len(group.seeds):
        raise KernelInputError(f"{len(paths)} checkpoints for {len(group.seeds)} seeds; give one per seed")
    states = [checkpoints.read(path, group.trainer.device, group.trainer.seed_checkpoint_template(k))
              for k, path in enumerate(paths)]
    group.trainer.load_seed_state_dicts(states)
    return {"epoch": group.trainer.epoch, "last_metrics": [s.get("last_metrics") for s in states]}


def export(group_id: str, index: int, model_path: str, column_path: str) -> dict:
    """Seed `index`'s network as it is now, as a run of its own exports it (runs.export): model.pt and column.pt."""
    group = get(group_id)
    if not 0 <= index < len(group.seeds):
        raise KernelInputError(f"seed index {index} is outside the group's {len(group.seeds)} seeds")
    single = build_model(group.architecture, seed=group.seeds[index], **group.options[index])
    single.load_state_dict(group.trainer.seed_model_state(index))
    return export_model(group.architecture, single, model_path, column_path)


def close(group_id: str) -> None:
    _groups.pop(group_id, None)

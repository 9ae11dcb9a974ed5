"""Training runs held by the kernel between calls: one trainer per run id, driven epoch by epoch from TypeScript.

TypeScript owns the loop, the run directory and the metrics (and when to stop: on the validation set, never the
test set); this module owns the tensors: it builds the model and trainer from a run spec and tensors already loaded
into the kernel (the training split and its pool split, api.data_pool_split), trains and evaluates one epoch per
call, and writes checkpoints atomically (a run killed at any moment resumes from its last complete epoch).

A finished run can also be held for analysis only (`load_model`: its network rebuilt from its spec and model.pt),
with an `Evaluator` in place of a trainer: the calls that read the model work on it, the ones that train refuse it.
"""
from __future__ import annotations

import hashlib
import os
import time
from dataclasses import dataclass
from typing import Dict, Optional, Tuple, Union

import torch

from . import checkpoints, safe_load
from .cpu_threads import cpu_threads_for
from .data.atomic import save_torch
from .errors import KernelInputError
from .models import Column, build_model, column_from_state, get_model
from .models.view_inputs import Input, ViewInputs
from .progress import ProgressSink
from .tensors import TensorStore
from .training import Evaluator, Trainer, source_column_state, trainer_for


@dataclass
class Run:
    trainer: Evaluator                # a Trainer (create), or an Evaluator alone for a run loaded for analysis
    architecture: str
    x_test: Optional[Input]           # (Nt, ...) the run's test set; None for a loaded run (its calls name tensors)
    y_test: Optional[torch.Tensor]    # (Nt,)
    x_validation: Optional[Input]     # (Nv, ...) held out of the training pool, or None
    y_validation: Optional[torch.Tensor]  # (Nv,)
    batches: dict


_runs: dict[str, Run] = {}


def get(run_id: str) -> Run:
    try:
        return _runs[run_id]
    except KeyError:
        raise KernelInputError(f"no run {run_id!r} in the kernel; create it with run_create first") from None


def _trainer(run_id: str, what: str) -> Tuple[Run, Trainer]:
    """The run and its trainer, for the calls that train or checkpoint (`what`): a loaded run has none."""
    run = get(run_id)
    if not isinstance(run.trainer, Trainer):
        raise KernelInputError(f"run {run_id!r} was loaded from its model file for analysis (run_load_model) and "
                               f"cannot {what}; create it with run_create to train it")
    return run, run.trainer


def create(run_id: str, model: dict, training: dict, seed: int, tensors: dict, test_limit: Optional[int],
           store: TensorStore, device: torch.device) -> dict:
    """Builds the network (weights initialised from `seed`) and its trainer.

    model: {"architecture": a registered model ("ladder" | "mlp" | "progressive"), ...its options} (models/);
    training: epochs, iterations_per_epoch, learning_rate, decay_fraction, labeled_batch, unlabeled_batch (others
    ignored); tensors: names of train_x (N, ...), train_y (N,), the index vectors of `data_pool_split` into them,
    train (the pool minus validation: a ladder's unlabeled pool), labeled (a subset of train: the labels the trainer
    sees), validation (or None), and test_x, test_y; test_limit: evaluate on the first N test examples only (None:
    all). The model's objective picks the trainer. train_x and test_x name one tensor, or for a model whose columns
    read several views (describe_model's "views") {view: tensor name}, each view of the same split.
    -> {"run_id", "parameters" (trainable), "labeled", "unlabeled" (the pool's size), "validation" (0 if none),
    "notes" (what every result of the run must say, e.g. that an AlexNet column's weights are random)}
    """
    x, y = model_input(store, tensors["train_x"]), store.get(tensors["train_y"])
    n = len(x)
    train = _indices(store, tensors, "train", n)
    labeled = _indices(store, tensors, "labeled", n)
    validation = None if tensors["validation"] is None else _indices(store, tensors, "validation", n)
    if not bool(torch.isin(labeled, train).all()):
        raise KernelInputError(f"tensors.labeled ({tensors['labeled']!r}) must lie inside tensors.train "
                               f"({tensors['train']!r}): the labeled images are drawn from the training pool")
    if validation is not None and bool(torch.isin(validation, train).any()):
        raise KernelInputError(f"tensors.validation ({tensors['validation']!r}) shares images with tensors.train "
                               f"({tensors['train']!r}); a validation set must be held out of training")
    options = {k: v for k, v in model.items() if k != "architecture"}
    network = build_model(model["architecture"], seed=seed, **options).to(device)
    trainer_class = trainer_for(get_model(model["architecture"]).objective)
    trainer = trainer_class.for_run(network, x, y, train, labeled, training, seed)
    batches = trainer_class.epoch_options(training)
    test = slice(None) if test_limit is None else slice(0, int(test_limit))
    _runs[run_id] = Run(trainer, model["architecture"], model_input(store, tensors["test_x"])[test],
                        store.get(tensors["test_y"])[test], None if validation is None else x[validation],
                        None if validation is None else y[validation], batches)
    parameters = sum(p.numel() for p in network.parameters() if p.requires_grad)
    # A column built on weights from elsewhere (an AlexNet trunk) says which: ImageNet's file, or random.
    notes = [m.provenance()["label"] for m in network.modules() if isinstance(m, Column) and hasattr(m, "provenance")]
    return {"run_id": run_id, "parameters": parameters, "labeled": int(labeled.numel()),
            "unlabeled": int(train.numel()), "validation": 0 if validation is None else int(validation.numel()),
            "notes": notes}


def model_input(store: TensorStore, names: Union[str, Dict[str, str]]) -> Input:
    """A network's input: one tensor's name, or {view: tensor name} -> a ViewInputs of those views."""
    if isinstance(names, dict):
        return ViewInputs({view: store.get(name) for view, name in names.items()})
    return store.get(names)


def _indices(store: TensorStore, tensors: dict, key: str, n: int) -> torch.Tensor:
    """tensors[key]'s index vector (M,) int64, non-empty, into a training split of n examples."""
    name = tensors[key]
    if not isinstance(name, str):
        raise KernelInputError(f"tensors.{key} must name an index tensor (data_pool_split's), got {name!r}")
    t = store.get(name)
    if t.dtype != torch.int64 or t.dim() != 1 or t.numel() == 0:
        raise KernelInputError(f"tensors.{key} ({name!r}) must be a non-empty int64 index vector, "
                               f"got {t.dtype} {tuple(t.shape)}")
    low, high = int(t.min()), int(t.max())
    if low < 0 or high >= n:
        raise KernelInputError(f"tensors.{key} ({name!r}) holds indices {low}..{high}, but the training split has "
                               f"{n} examples (0..{n - 1}); split the same labels that train_y names")
    return t


def epoch(run_id: str, checkpoint_path: Optional[str], progress: Optional[ProgressSink]) -> dict:
    """Trains one epoch, evaluates the clean path on the validation set (when there is one: what a run may be
    stopped on) and on the test set (for reporting), writes the checkpoint; returns the metrics: the trainer's,
    validation_accuracy / validation_error (None without a validation set) / validation_examples (0),
    test_accuracy / test_error / test_examples, train_seconds, eval_seconds, kernel_seconds."""
    run, trainer = _trainer(run_id, "train an epoch")
    started = time.perf_counter()
    with cpu_threads_for(trainer.model):
        metrics = trainer.train_epoch(**run.batches, progress_sink=progress)
        evaluated = time.perf_counter()
        validation = {"accuracy": None, "error": None, "examples": 0}
        if run.x_validation is not None:
            validation = trainer.evaluate(run.x_validation, run.y_validation)
        test = trainer.evaluate(run.x_test, run.y_test)
    metrics.update(validation_accuracy=validation["accuracy"], validation_error=validation["error"],
                   validation_examples=validation["examples"],
                   test_accuracy=test["accuracy"], test_error=test["error"], test_examples=test["examples"],
                   train_seconds=evaluated - started, eval_seconds=time.perf_counter() - evaluated)
    if checkpoint_path:
        save_checkpoint(run_id, checkpoint_path, metrics)
    metrics["kernel_seconds"] = time.perf_counter() - started
    return metrics


def save_checkpoint(run_id: str, path: str, last_metrics: Optional[dict] = None) -> None:
    state = _trainer(run_id, "write a checkpoint")[1].state_dict()
    state["last_metrics"] = last_metrics  # so a run killed right after this write still has the epoch's record
    _save_atomic(state, path)


def load_checkpoint(run_id: str, path: str) -> dict:
    run, trainer = _trainer(run_id, "resume from a checkpoint")
    state = checkpoints.read(path, trainer.device, trainer.checkpoint_template())
    trainer.load_state_dict(state)
    return {"epoch": trainer.epoch, "last_metrics": state.get("last_metrics")}


def export(run_id: str, model_path: str, column_path: str) -> dict:
    """The final model, and its clean encoder as a reusable source column (weights, betas, BN statistics)."""
    run = get(run_id)
    return export_model(run.architecture, run.trainer.model, model_path, column_path)


def export_model(architecture: str, model: torch.nn.Module, model_path: str, column_path: str) -> dict:
    """model.pt ({"architecture", "state"}) and column.pt (its reusable column), each written atomically."""
    _save_atomic({"architecture": architecture, "state": model.state_dict()}, model_path)
    # A progressive network's reusable column is the one it trained (its frozen columns are someone else's).
    _save_atomic(source_column_state(model), column_path)
    return {"model": model_path, "column": column_path}


def load_model(run_id: str, model: dict, model_path: str, device: torch.device) -> dict:
    """A finished run's network, for analysis: built from `model` (the dict run_create took) and given the whole
    state in `model_path` (a run's model.pt, {"architecture", "state"}: `export`), held as run `run_id` with an
    Evaluator (no training). The state dict must cover every parameter and buffer of the network exactly (strict).

    Columns whose weights come from a file in the spec are built with fresh weights instead (weights from init, same
    frozen flag): model.pt already holds every column's weights, so the source column files need not exist any
    more. -> {"run_id", "architecture", "parameters" (all, frozen ones included), "tensors" (state entries loaded)}
    """
    architecture = model.get("architecture") if isinstance(model, dict) else None
    if not isinstance(architecture, str):
        raise KernelInputError(f"model must be the model dict run_create takes ({{\"architecture\": ..., ...}}), "
                               f"got {model!r}")
    if not os.path.isfile(model_path):
        raise KernelInputError(f"model file {model_path} does not exist; a finished run writes model.pt")
    # Onto the CPU, where the network is built; it moves to `device` once, whole.
    saved = safe_load.load(model_path, what="model file", map_location=torch.device("cpu"),
                           hint="export the run again (its model.pt)")
    if not isinstance(saved, dict) or not isinstance(saved.get("state"), dict) or "architecture" not in saved:
        got = sorted(saved) if isinstance(saved, dict) else type(saved).__name__
        raise KernelInputError(f"model file {model_path} must hold {{\"architecture\", \"state\"}} as a run's "
                               f"model.pt does, got {got}")
    if saved["architecture"] != architecture:
        raise KernelInputError(f"model file {model_path} holds a {saved['architecture']!r} network, but the model "
                               f"given is a {architecture!r}; pass the spec the run was created with")
    options = {k: v for k, v in model.items() if k != "architecture"}
    if architecture == "progressive":
        options["spec"] = _weights_from_init(options.get("spec"))
    network = build_model(architecture, seed=0, **options)  # every weight is overwritten below
    try:
        network.load_state_dict(saved["state"], strict=True)
    except RuntimeError as e:  # missing or unexpected keys, or shapes that differ from the spec's
        raise KernelInputError(f"model file {model_path} does not fit the model given: {e}") from None
    network = network.to(device).eval()
    _runs[run_id] = Run(Evaluator(network), architecture, None, None, None, None, {})
    return {"run_id": run_id, "architecture": architecture,
            "parameters": sum(p.numel() for p in network.parameters()), "tensors": len(saved["state"])}


def _weights_from_init(spec: object) -> object:
    """A progressive spec with every {"from": "file"} column built from init (its `frozen` kept): the weights come
    from the run's model file, not from the column files."""
    if not isinstance(spec, dict) or not isinstance(spec.get("columns"), list):
        return spec  # parse_spec says what is wrong with it
    columns = [{**c, "weights": {"from": "init"}} if isinstance(c, dict) and isinstance(c.get("weights"), dict)
               and c["weights"].get("from") == "file" else c for c in spec["columns"]]
    return {**spec, "columns": columns}


def weights_sha256(run_id: str, prefix: str = "") -> str:
    """One hash over every parameter and buffer whose name starts with `prefix`, in a fixed order: equal hashes mean
    bit-identical weights (and batch-norm statistics)."""
    digest = hashlib.sha256()
    for name, tensor in sorted(get(run_id).trainer.model.state_dict().items()):
        if not name.startswith(prefix):
            continue
        digest.update(name.encode())
        digest.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    return digest.hexdigest()


def scalars(run_id: str, suffix: str) -> dict:
    """Every one-element parameter whose name ends with `suffix` (e.g. the laterals' alpha), by name."""
    return {name: float(p) for name, p in get(run_id).trainer.model.named_parameters()
            if name.endswith(suffix) and p.numel() == 1}


def column_outputs(run_id: str, column_path: str, x: torch.Tensor) -> dict:
    """Max |difference| between the saved column's outputs and the run's own clean encoder, layer by layer."""
    run = get(run_id)
    state = safe_load.load(column_path, what="column file", map_location=run.trainer.device,
                           hint="export the run's column again")
    model = run.trainer.model
    column = column_from_state(model.output_column.architecture, state).eval()
    model.eval()
    with torch.no_grad():
        ours = model.encoder_activations(x)
        theirs = column.activations(x)
    return {"layers": len(ours), "max_abs_difference": [float((a - b).abs().max()) for a, b in zip(ours, theirs)]}


def close(run_id: str) -> None:
    _runs.pop(run_id, None)


def _save_atomic(obj: object, path: str) -> None:
    """A run's torch file (checkpoint.pt, model.pt, column.pt), written atomically (data/atomic.py): on a full disk the
    previous file stays and the error says where and how to go on."""
    run_dir = os.path.dirname(os.path.abspath(path))
    save_torch(obj, path, hint=f"free space on that disk and continue the run (bin/pladder run --resume {run_dir}), or "
                               f"give --runs-dir on another disk")


def path_determinism(run_id: str, x: torch.Tensor) -> dict:
    """For a ladder: is the clean path deterministic and noise-free, and is the corrupted path noisy?"""
    run = get(run_id)
    model = run.trainer.model
    if not hasattr(model, "forward_corrupted"):
        raise KernelInputError(f"run {run_id!r} is a {run.architecture}, which has no corrupted path")
    was_training = model.training
    model.eval()
    with torch.no_grad():
        clean_a, clean_b = model.forward_clean(x), model.forward_clean(x)
        model.train()  # the corrupted path is a training-time path (batch statistics + noise)
        noisy_a, noisy_b = model.forward_corrupted(x), model.forward_corrupted(x)
    model.train(was_training)
    return {
        "clean_identical": bool(torch.equal(clean_a, clean_b)),
        "corrupted_max_abs_difference": float((noisy_a - noisy_b).abs().max()),
    }

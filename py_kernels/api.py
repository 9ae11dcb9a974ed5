"""The one module TypeScript calls, through pythonia. Nothing else in py_kernels is called across the bridge.

Every call goes through `dispatch(name, args_json, progress)`, which returns one JSON string:
`{"ok": true, "value": ...}` or `{"ok": false, "error": {"type", "message", "traceback"}}`. A string is the one kind of
value pythonia moves without building proxies, it cannot carry a bare NaN (see wire.py), and errors keep their Python
type and traceback. TypeScript declares each call with the zod schema of its value (src/bridge/calls.ts).
"""
from __future__ import annotations

import inspect
import json
import os
import sys
import time
import traceback
from pathlib import Path
from typing import Any, Callable, ContextManager

# pythonia loads this file by path: make `py_kernels` importable as a package.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from py_kernels import data  # noqa: E402
from py_kernels import device as devices  # noqa: E402
from py_kernels import call_args, lifecycle, run_groups, runs, wire  # noqa: E402
from py_kernels.errors import KernelInputError  # noqa: E402
from py_kernels.tensors import DTYPES, TensorStore  # noqa: E402
from py_kernels.cpu_threads import (configure_cpu_runtime, cpu_threads_for, cpu_threads_to,  # noqa: E402
                                    heavy_pool, pools_to_split)

import torch  # noqa: E402

lifecycle.die_with_parent()


class _Session:
    """What one kernel process holds between calls: its device and its named tensors."""

    def __init__(self, device: torch.device, store: TensorStore, threads: int):
        self.device = device
        self.store = store
        self.threads = threads  # the CPU threads that do the heavy work (OpenBLAS's pool where it has one)


_session: _Session | None = None
CALLS: dict[str, Callable[..., Any]] = {}
TAKES_PROGRESS: set[str] = set()  # read once at registration, not on every call across the bridge


def call(fn: Callable[..., Any]) -> Callable[..., Any]:
    CALLS[fn.__name__] = fn
    if "progress" in inspect.signature(fn).parameters:
        TAKES_PROGRESS.add(fn.__name__)
    return fn


def session() -> _Session:
    if _session is None:
        raise KernelInputError("the kernel was not started; call 'start' first")
    return _session


# --- life and environment ---------------------------------------------------------------------------------------------


@call
def start(device: str, threads: int | None, exchange_dir: str) -> dict:
    global _session
    resolved = devices.resolve(device)
    if resolved.type == "cpu":
        # OpenBLAS gets the cores and torch one thread until a conv model's call moves them (cpu_threads.py).
        compute_threads = configure_cpu_runtime(threads)["openblas_threads"] or devices.configure_threads(threads)
    else:
        compute_threads = devices.configure_threads(threads)
    _session = _Session(resolved, TensorStore(exchange_dir), compute_threads)
    # A quick matmul (tens of ms) so that a reference BLAS is caught before hours of slow training.
    quick_rate = devices.matmul_gflops(resolved, size=512, repeats=5) if resolved.type == "cpu" else None
    return {"pid": os.getpid(), **devices.describe(resolved, compute_threads), "matmul_gflops": quick_rate}


@call
def ping() -> dict:
    return {"pid": os.getpid(), "time": time.time()}


@call
def api_calls() -> list:
    """The registered calls (a test holds them equal to TypeScript's table and to the exported schema)."""
    return sorted(CALLS)


@call
def environment(measure_matmul: bool = True) -> dict:
    current = session().device
    info = devices.describe(current, session().threads)
    info["matmul_gflops"] = devices.matmul_gflops(current) if measure_matmul else None
    return info


# --- tensors ----------------------------------------------------------------------------------------------------------


@call
def tensor_random(name: str, shape: list[int], dtype: str = "float32", seed: int = 0) -> dict:
    generator = torch.Generator().manual_seed(seed)
    if dtype not in DTYPES:
        raise KernelInputError(f"dtype {dtype!r} is not supported; use one of {', '.join(DTYPES)}")
    if DTYPES[dtype].is_floating_point:
        tensor = torch.randn(shape, generator=generator, dtype=DTYPES[dtype])
    else:
        tensor = torch.randint(0, 256, shape, generator=generator, dtype=DTYPES[dtype])
    return session().store.put(name, tensor.to(session().device))


@call
def tensor_import(name: str, path: str, shape: list[int], dtype: str) -> dict:
    return session().store.load(name, path, shape, dtype, session().device)


@call
def tensor_export(name: str) -> dict:
    return session().store.export(name)


@call
def tensor_sha256(name: str) -> str:
    return session().store.sha256(name)


@call
def tensor_drop(name: str) -> None:
    session().store.drop(name)


# --- data -------------------------------------------------------------------------------------------------------------


@call
def data_describe(name: str, data_dir: str, cache_dir: str | None) -> dict:
    return data.describe(name, data_dir, cache_dir)


@call
def data_load(name: str, split: str, view: str, data_dir: str, cache_dir: str | None, store_as: str,
              view_options: dict | None = None, progress: Callable[[dict], None] | None = None) -> dict:
    """Loads a view of a dataset split into the kernel's device as tensors `<store_as>.x` and `<store_as>.y`;
    `view_options`: a view computed by a frozen network needs them (model_describe's "views"), computed on this
    kernel's device and kept in the cache (py_kernels/data/features.py)."""
    started = time.perf_counter()
    x, y = data.load_view(name, split, view, data_dir, cache_dir, progress, view_options, session().device)
    store, device = session().store, session().device
    return {
        "x": store.put(f"{store_as}.x", x.to(device)),
        "y": store.put(f"{store_as}.y", y.to(device)),
        "label_counts": torch.bincount(y, minlength=10).tolist(),
        "seconds": time.perf_counter() - started,
    }


@call
def data_pool_split(labels: str, pool: dict | None, validation: int, labeled: int | None, seed: int,
                    store_as: str) -> dict:
    """The images of a loaded training split that an experiment may use (py_kernels/data/splits.py): the index range
    `pool` ({"start", "stop"}, None: all), `validation` of them held out (validation/10 per class; 0: none), and a
    balanced label budget `labeled` (labeled/10 per class; None: all) from the rest, chosen by `seed`. Stores sorted
    int64 indices into the full split as `<store_as>.train`, `<store_as>.labeled`, `<store_as>.validation`."""
    y = session().store.get(labels)
    if y.dim() != 1 or y.dtype != torch.int64:
        raise KernelInputError(f"labels {labels!r} must be an int64 vector (N,) of a loaded split's labels, "
                               f"got {y.dtype} {tuple(y.shape)}")
    if pool is not None and (not isinstance(pool, dict) or set(pool) != {"start", "stop"}):
        raise KernelInputError(f"pool must be {{\"start\": int, \"stop\": int}} or None, got {pool!r}")
    y_np = y.cpu().numpy()
    split = data.pool_split(y_np, None if pool is None else (pool["start"], pool["stop"]), validation, labeled, seed)
    store, device = session().store, session().device
    names = {part: f"{store_as}.{part}" for part in ("train", "labeled", "validation")}
    for part in ("train", "labeled", "validation"):
        indices = getattr(split, part)
        if indices is None:
            store.drop(names[part])  # no stale validation set from an earlier split under this name
            names[part] = None
        else:
            store.put(names[part], torch.from_numpy(indices).to(device))
    per_class = torch.bincount(torch.from_numpy(y_np[split.labeled]), minlength=10)[:10].tolist()
    return {**names, "counts": split.counts, "per_class": per_class}


@call
def data_contact_sheet(name: str, split: str, count: int, out_png: str, data_dir: str, seed: int) -> dict:
    return data.contact_sheet(name, split, count, out_png, data_dir, seed)


@call
def data_download_svhn(dest_dir: str, split: str, url: str | None = None, md5: str | None = None,
                       progress: Callable[[dict], None] | None = None) -> dict:
    """From the official site, or from `url` (a mirror) with its `md5`."""
    return {"path": data.download_svhn(dest_dir, split, progress, url=url, md5=md5)}


# --- training runs (py_kernels/runs.py) ------------------------------------------------------------------------------


@call
def model_describe(model: dict) -> dict:
    """What the model reads (its input view), how it trains (its objective) and its layers' shapes, without training."""
    from py_kernels.models import describe_model

    config = {k: v for k, v in model.items() if k != "architecture"}
    return describe_model(model["architecture"], config)


@call
def run_create(run_id: str, model: dict, training: dict, seed: int, tensors: dict, test_limit: int | None) -> dict:
    return runs.create(run_id, model, training, seed, tensors, test_limit, session().store, session().device)


@call
def run_epoch(run_id: str, checkpoint_path: str | None, progress: Callable[[dict], None] | None = None) -> dict:
    return runs.epoch(run_id, checkpoint_path, progress)


@call
def run_load_checkpoint(run_id: str, path: str) -> dict:
    return runs.load_checkpoint(run_id, path)


@call
def run_export(run_id: str, model_path: str, column_path: str) -> dict:
    return runs.export(run_id, model_path, column_path)


@call
def run_weights_sha256(run_id: str, prefix: str = "") -> str:
    return runs.weights_sha256(run_id, prefix)


@call
def run_scalars(run_id: str, suffix: str) -> dict:
    return runs.scalars(run_id, suffix)


@call
def run_column_check(run_id: str, column_path: str, x: str) -> dict:
    return runs.column_outputs(run_id, column_path, session().store.get(x))


@call
def run_path_determinism(run_id: str, x: str) -> dict:
    return runs.path_determinism(run_id, session().store.get(x))


@call
def run_close(run_id: str) -> None:
    runs.close(run_id)


# --- several seeds of one experiment as one batched network (run_groups.py) ---------------------------------------


@call
def run_group_support(model: dict, training: dict, device: str) -> dict:
    """Whether the seeds of `model` can train together on a `device` ("cpu" or "cuda") kernel: the rule
    run_group_create applies, asked when the jobs are planned (run_groups.why_seeds_apart).
    -> {"together": bool, "reason": None, or why each seed trains a run of its own}"""
    reason = run_groups.why_seeds_apart(model, training, device)
    return {"together": reason is None, "reason": reason}


@call
def run_group_create(group_id: str, models: list, training: dict, seeds: list, tensors: dict, splits: list,
                     test_limit: int | None) -> dict:
    return run_groups.create(group_id, models, training, seeds, tensors, splits, test_limit, session().store,
                             session().device, session().threads)


@call
def run_group_epoch(group_id: str, checkpoint_paths: list, progress: Callable[[dict], None] | None = None) -> list:
    return run_groups.epoch(group_id, checkpoint_paths, progress)


@call
def run_group_load_checkpoints(group_id: str, paths: list) -> dict:
    return run_groups.load_checkpoints(group_id, paths)


@call
def run_group_export(group_id: str, index: int, model_path: str, column_path: str) -> dict:
    return run_groups.export(group_id, index, model_path, column_path)


@call
def run_group_close(group_id: str) -> None:
    run_groups.close(group_id)


@call
def run_load_model(run_id: str, model: dict, model_path: str) -> dict:
    """A finished run's network from its model.pt, held as `run_id` for analysis (no training): runs.load_model.
    -> {"run_id", "architecture", "parameters", "tensors"}"""
    return runs.load_model(run_id, model, model_path, session().device)


# --- analysis ---------------------------------------------------------------------------------------------------------


@call
def aps_accuracy(run_id: str, x: str | dict, y: str, limit: int | None, sites: list, variances: list, draws: int, seed: int,
                 scale: str, store_as: str, progress: Callable[[dict], None] | None = None) -> dict:
    """The measurement behind Average Perturbation Sensitivity (py_kernels/perturbation.py): the accuracy on (x, y)
    (x: one tensor's name, or {view: name} for a network whose columns read several views)
    of run `run_id`'s progressive network with Gaussian noise at one site at a time, sites [{"column", "layer"}, ...],
    for each of the site's variances (variances[i], sigma^2 >= 0) and each of `draws` draws seeded from (seed, column,
    layer, level, draw); scale "raw" (std = sigma) or "relative" (std = sigma * each unit's clean std over x); `limit`:
    the first N examples of (x, y) only (None: all).
    Stores the accuracies as `store_as`, (sites, max_levels, draws) float64, NaN past a site's own levels.
    -> {"accuracy": the stored tensor's meta, "clean_accuracy", "reaches_output": [per site], "activation_std":
    [per site {"mean", "min", "max", "zero_units", "units"}], "examples", "computed", "seconds"}"""
    from py_kernels import perturbation

    started = time.perf_counter()
    run = runs.get(run_id)
    model = run.trainer.model
    if not isinstance(model, perturbation.ProgressiveNetwork):
        raise KernelInputError(f"run {run_id!r} is a {run.architecture} network; aps_accuracy needs a progressive "
                               f"one (its columns hold the perturbation sites)")
    store = session().store
    rows = slice(None) if limit is None else slice(0, int(limit))
    with cpu_threads_for(model):
        result = perturbation.aps_accuracy(model, runs.model_input(store, x)[rows], store.get(y)[rows],
                                           perturbation.parse_sites(sites, model), variances, draws, seed, scale,
                                           progress)
    meta = store.put(store_as, result.accuracy.to(session().device))
    return {
        "accuracy": meta,
        "clean_accuracy": result.clean_accuracy,
        "reaches_output": result.reaches_output,
        "activation_std": [{"mean": float(u.mean()), "min": float(u.min()), "max": float(u.max()),
                            "zero_units": int((u == 0).sum()), "units": int(u.numel())} for u in result.unit_std],
        "examples": result.examples,
        "computed": result.computed,
        "seconds": time.perf_counter() - started,
    }


# --- diagnostics: what the bridge must survive (used by the bridge's tests) ------------------------------------------


@call
def diagnostic_nonfinite() -> dict:
    return {
        "nan": float("nan"),
        "inf": float("inf"),
        "minus_inf": float("-inf"),
        "finite": 1.5,
        "numpy": torch.tensor([1.0, float("nan")]).numpy()[1],
        "nested": [{"loss": float("nan")}, torch.tensor([float("inf"), 2.0])],
    }


@call
def diagnostic_raise(message: str) -> None:
    raise RuntimeError(message)


@call
def diagnostic_crash(how: str) -> None:
    """Ends the kernel process the hard way, as a segfault or the out-of-memory killer would."""
    import signal

    if how == "kill":
        os.kill(os.getpid(), signal.SIGKILL)
    os._exit(3)


@call
def diagnostic_sleep(seconds: float, progress: Callable[[dict], None] | None = None) -> dict:
    from py_kernels.progress import Progress

    steps = max(1, int(seconds / 0.01))
    bar = Progress(progress, "sleep", steps)
    for step in range(1, steps + 1):
        time.sleep(seconds / steps)
        bar.update(step)
    return {"slept": seconds}


# --- the entry point --------------------------------------------------------------------------------------------------


def dispatch(name: str, args_json: str, progress_callback: Any = None) -> str:
    """Runs call `name` with keyword arguments from `args_json`; never raises (see the module docstring)."""
    try:
        fn = CALLS.get(name)
        if fn is None:
            raise KernelInputError(f"unknown kernel call {name!r}; known calls: {', '.join(sorted(CALLS))}")
        kwargs = json.loads(args_json)
        call_args.check(name, kwargs)
        if name in TAKES_PROGRESS:
            kwargs["progress"] = None if progress_callback is None else (lambda event: progress_callback(wire.dumps(event)))
        return wire.dumps({"ok": True, "value": fn(**kwargs)})
    except BaseException as error:  # noqa: BLE001 - every failure must reach TypeScript as data, not kill the bridge
        return json.dumps(
            {
                "ok": False,
                "error": {
                    "type": type(error).__name__,
                    "module": type(error).__module__,
                    "message": str(error),
                    "traceback": traceback.format_exc(),
                },
            }
        )


@call
def bench_plain_ladder(x: str, y: str, labeled: str, iterations: int, model: dict, learning_rate: float) -> dict:
    """The plain PyTorch loop of the same recipe, under the kernel's thread settings: seconds per iteration."""
    from py_kernels.reference import plain_ladder

    store = session().store
    seconds = plain_ladder.seconds_per_iteration(store.get(x), store.get(y), store.get(labeled), iterations, model,
                                                 learning_rate)
    return {"seconds_per_iteration": seconds}


def _bench_trainer(x: str, y: str, labeled: str, model: dict, training: dict):
    """A function running k steps of a LadderTrainer of `model` (a ladder or conv ladder, seed 1) on x[labeled]
    (labeled) and x (the unlabeled pool), with the CPU threads a run of it has -> their seconds, and the trainer,
    warmed up (allocations, Adam's state)."""
    from py_kernels.models import build_model
    from py_kernels.training import LadderTrainer

    store, device = session().store, session().device
    xs, ys, rows = store.get(x), store.get(y), store.get(labeled)
    options = {k: v for k, v in model.items() if k != "architecture"}
    trainer = LadderTrainer(build_model(model["architecture"], seed=1, **options).to(device), xs[rows], ys[rows], xs,
                            epochs_planned=training["epochs"], lr=training["learning_rate"],
                            decay_fraction=training["decay_fraction"], seed=1)
    batches = {"labeled_batch": training["labeled_batch"], "unlabeled_batch": training["unlabeled_batch"]}

    def train(k: int, threads: Callable[[], ContextManager] = lambda: cpu_threads_for(trainer.model)) -> float:
        with threads():
            return trainer.train_epoch(k, **batches)["seconds"]

    train(3)
    return train, trainer


@call
def bench_ladder_step(x: str, y: str, labeled: str, model: dict, training: dict, iterations: int, rounds: int) -> dict:
    """The project's ladder step against its matrix products alone, alternated in this kernel (reference/
    step_matmuls.py), on the batches of `training`. -> step_matmuls.step_against_matmuls's figures."""
    from py_kernels.reference.step_matmuls import step_against_matmuls

    train, trainer = _bench_trainer(x, y, labeled, model, training)
    shapes = [tuple(p.shape) for p in trainer.model.parameters() if p.requires_grad]
    return step_against_matmuls(train, iterations, rounds, session().device, shapes)


@call
def bench_native_step(x: str, y: str, labeled: str, model: dict, training: dict, iterations: int, rounds: int) -> dict:
    """A ladder or conv ladder step with the C kernels and with torch's ops, and on a CPU kernel with a separate
    OpenBLAS pool also with the kernel's threads in the other pool than its model's (cpu_threads.py), alternated in
    this kernel (reference/step_matmuls.py). -> step_matmuls.native_against_torch_ops's figures, "pool" (where the
    model's step runs its threads; None where there is no choice) and "other_pool_seconds" (None likewise)."""
    from py_kernels.reference.step_matmuls import native_against_torch_ops

    train, trainer = _bench_trainer(x, y, labeled, model, training)
    device = session().device
    if not pools_to_split(device):
        return {**native_against_torch_ops(train, iterations, rounds), "pool": None, "other_pool_seconds": None}
    pool = heavy_pool(trainer.model)
    other = "blas" if pool == "torch" else "torch"
    return {**native_against_torch_ops(train, iterations, rounds,
                                       {"other_pool": lambda k: train(k, lambda: cpu_threads_to(other, device))}),
            "pool": pool}


@call
def bench_seeds_ladder(x: str, y: str, model: dict, training: dict, seeds: int, how: str, iterations: int) -> dict:
    """Throughput of `seeds` ladders of `model` (seeds 1..K) in this kernel, trained `how`: "alone" (seeds 1: the
    single-seed LadderTrainer, what each process of `--parallel` runs), "batched_network" (one module,
    batched_training.py) or "seed_threads" (each seed's own trainer, stepped by this kernel's threads,
    seed_threads.py). Labeled: the first 100 rows of x; unlabeled pool: all of x; `training`'s batches.
    -> {"seeds", "how", "iterations", "seconds_per_iteration", "examples_per_second" (all seeds together),
    "examples", "started", "ended" (the timed iterations' wall clock, time.time(): kernels run side by side are
    counted over the span from the first start to the last end)}."""
    from py_kernels.reference.seed_trainers import ladder_trainer

    if how == "alone" and seeds != 1:
        raise KernelInputError(f"a run alone trains one seed; got seeds={seeds} with how='alone'")
    store = session().store
    options = {k: v for k, v in model.items() if k != "architecture"}
    trainer = ladder_trainer(options, training, store.get(x), store.get(y), seeds, how, session().device,
                             session().threads)
    batches = {"labeled_batch": training["labeled_batch"], "unlabeled_batch": training["unlabeled_batch"]}
    trainer.train_epoch(iterations=2, **batches)  # warm-up: allocations, Adam's state
    started = time.time()
    result = trainer.train_epoch(iterations=iterations, **batches)
    ended = time.time()
    seconds = (result if how == "alone" else result[0])["seconds"]
    examples = seeds * iterations * (batches["labeled_batch"] + batches["unlabeled_batch"])
    return {"seeds": seeds, "how": how, "iterations": iterations, "seconds_per_iteration": seconds / iterations,
            "examples_per_second": examples / seconds, "examples": examples, "started": started, "ended": ended}


def bench_tolist(name: str) -> list:
    """The tensor as a Python list, for pythonia's own JSON path: only the benchmark compares against it."""
    return session().store.get(name).detach().cpu().tolist()

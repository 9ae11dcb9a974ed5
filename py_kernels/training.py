"""Training steps, one call per epoch (TypeScript drives the epoch loop; the batches of an epoch run here).

A model's objective (its registration, models/_api.py) names its trainer in `TRAINERS`: "ladder" -> `LadderTrainer`
(a model with `costs(x_labeled, y_labeled, x_unlabeled, generator)`, on labeled batches + an unlabeled pool),
"supervised" -> `SupervisedTrainer` (a model with `costs(x, y)`, on a labeled set). Both use Adam, the CuriousAI
schedule (the rate stays constant, then after `(1 - decay_fraction) * epochs_planned` epochs decays linearly per epoch
to 0 at `epochs_planned`) and one seeded `torch.Generator` on the data's device for batch order and noise. A trainer
class builds itself for a run from the run's `training` settings (`for_run`) and says what each epoch takes from them
(`epoch_options`).

Batches: each data set is drawn as a cycle of random permutations (sampling without replacement, a new permutation
when one is used up), so 600 unlabeled batches of 100 visit each of 60000 images once.

Exact resume: `state_dict()` holds the model, the optimiser, the epoch counter, the generator, the samplers'
permutations and positions, and the global torch RNG states; a trainer rebuilt with the same data and arguments and
given that state continues bit for bit like the uninterrupted run (on CPU; CUDA kernels may be non-deterministic).
Values returned to the caller are plain Python numbers; a non-finite loss is returned as None (JSON-safe).
"""
from __future__ import annotations

import copy
import math
import time
from typing import Dict, Generator, Optional, Tuple, Type, Union

import torch
import torch.nn as nn

from . import checkpoints
from .cpu_threads import configure_cpu_runtime
from .errors import KernelInputError
from .models.column_api import Column, Shape
from .models.columns.layer import recompute_population_statistics
from .models.view_inputs import Input, ViewInputs
from .optim import make_adam
from .progress import Progress, ProgressSink


def _num(x) -> Optional[float]:
    x = float(x)
    return x if math.isfinite(x) else None


def source_column_state(model: nn.Module) -> Dict[str, torch.Tensor]:
    """A model's trained column (`model.output_column`: a ladder's clean encoder, the MLP itself, a progressive
    network's last column), or a column, as its state dict: for "fc" {"layers.{i}.weight" (out, in),
    "layers.{i}.beta" (out,), "layers.{L-1}.gamma" (classes,), "layers.{i}.running_mean" (out,),
    "layers.{i}.running_var" (out,) (these two absent in a column without batch norm)}, detached copies. Load with `models.column_from_state(architecture, state)`."""
    column = getattr(model, "output_column", model)
    if not isinstance(column, Column):
        raise KernelInputError(f"source_column_state needs a model with an output_column or a Column, "
                               f"got {type(model).__name__}")
    return column.export_state()


class _Cycler:
    """Indices 0..n-1 in a cycle of random permutations drawn from `generator`."""

    def __init__(self, n: int, generator: torch.Generator, device: torch.device):
        self.n, self.generator, self.device = n, generator, device
        self.perm: Optional[torch.Tensor] = None
        self.pos = 0

    def take(self, k: int) -> torch.Tensor:
        parts = []
        while k > 0:
            if self.perm is None or self.pos == self.n:
                self.perm = torch.randperm(self.n, generator=self.generator, device=self.device)
                self.pos = 0
            step = min(k, self.n - self.pos)
            parts.append(self.perm[self.pos:self.pos + step])
            self.pos += step
            k -= step
        return parts[0] if len(parts) == 1 else torch.cat(parts)

    def state_dict(self) -> dict:
        return {"perm": None if self.perm is None else self.perm.clone(), "pos": self.pos, "n": self.n}

    def load_state_dict(self, state: dict) -> None:
        if int(state["n"]) != self.n:
            raise KernelInputError(f"checkpoint sampler covers {state['n']} examples, this data has {self.n}")
        self.perm = None if state["perm"] is None else state["perm"].to(self.device)
        self.pos = int(state["pos"])


def _check_xy(name: str, x: Input, y: Optional[torch.Tensor], device: torch.device,
              shape: Union[Shape, Dict[str, Shape]], classes: Optional[int] = None) -> None:
    """x (N, *shape) float32 on `device`, or with `shape` {view: shape} (a model whose columns read several views) a
    ViewInputs holding exactly those views, each (N, *its shape); y (N,) int64 in 0..classes-1."""
    if isinstance(shape, dict):
        if len(shape) == 1 and not isinstance(x, ViewInputs):
            shape = next(iter(shape.values()))  # every column reads one view: x is its tensor
        elif not isinstance(x, ViewInputs) or set(x.shapes()) != set(shape):
            got = sorted(x.shapes()) if isinstance(x, ViewInputs) else f"one {type(x).__name__}"
            raise KernelInputError(f"{name} must hold the views {sorted(shape)} (the model's columns read them), "
                                   f"got {got}; load each view and pass them by name")
        else:
            for view, view_shape in shape.items():
                _check_xy(f"{name} (view {view})", x.of(view), None, device, view_shape)
            x = next(iter(x.tensors.values()))  # the labels are checked against its rows below
            shape = tuple(x.shape[1:])
    if not isinstance(x, torch.Tensor) or x.dtype != torch.float32 or tuple(x.shape[1:]) != tuple(shape):
        got = f"{x.dtype} {tuple(x.shape)}" if isinstance(x, torch.Tensor) else type(x).__name__
        raise KernelInputError(f"{name} must be a float32 tensor (N, {', '.join(map(str, shape))}), got {got}")
    if x.device != device:
        raise KernelInputError(f"{name} is on {x.device} but the model is on {device}; move one of them")
    if y is not None:
        if not isinstance(y, torch.Tensor) or y.dtype != torch.int64 or tuple(y.shape) != (x.shape[0],):
            got = f"{y.dtype} {tuple(y.shape)}" if isinstance(y, torch.Tensor) else type(y).__name__
            raise KernelInputError(f"labels for {name} must be an int64 tensor ({x.shape[0]},), got {got}")
        if y.device != device:
            raise KernelInputError(f"labels for {name} are on {y.device} but the model is on {device}")
        if classes is not None and y.numel() and (int(y.min()) < 0 or int(y.max()) >= classes):
            raise KernelInputError(
                f"labels for {name} must lie in 0..{classes - 1}, got {int(y.min())}..{int(y.max())} "
                f"(SVHN's label 10 means digit 0: map it before training)")


def _schedule(training: dict, seed: int) -> dict:
    """A run's `training` settings as a trainer's keyword arguments."""
    return dict(epochs_planned=training["epochs"], lr=training["learning_rate"],
                decay_fraction=training["decay_fraction"], seed=seed,
                population_examples=training["population_statistics"])


class Evaluator:
    """A model held for evaluation only (a finished run loaded for analysis, runs.load_model): its test-time
    accuracy, no optimiser, no training state. Every `Trainer` is one."""

    def __init__(self, model: nn.Module):
        self.model = model
        self.device = next(model.parameters()).device

    def _shapes(self) -> Tuple[Union[Shape, Dict[str, Shape]], int]:
        """(input shape, classes) of the model; the input as {view: shape} when its columns read several views."""
        shapes = self.model.layer_shapes
        views = getattr(self.model, "input_shapes", {})
        return (views if len(views) > 1 else shapes[0]), shapes[-1][0]

    @torch.no_grad()
    def evaluate(self, x: Input, y: torch.Tensor, batch_size: int = 10000) -> Dict[str, float]:
        """Clean-path accuracy with the test-time (running) BN statistics -> {"accuracy", "error", "examples"}."""
        _check_xy("x", x, y, self.device, *self._shapes())
        was_training = self.model.training
        self.model.eval()
        correct = torch.zeros((), dtype=torch.int64, device=self.device)
        for i in range(0, len(x), batch_size):
            logits = self.model.forward_clean(x[i:i + batch_size])
            correct += (logits.argmax(dim=1) == y[i:i + batch_size]).sum()
        self.model.train(was_training)
        n = len(x)
        acc = int(correct) / max(n, 1)
        return {"accuracy": acc, "error": 1.0 - acc, "examples": n}


class Trainer(Evaluator):
    kind = "base"  # the objective it trains (models/_api.py OBJECTIVES); also written into its checkpoints

    def __init__(self, model: nn.Module, *, epochs_planned: int, lr: float, decay_fraction: float, seed: int,
                 tune_cpu: bool, population_examples: Optional[int] = None):
        super().__init__(model)
        # None: test time uses the running averages; N: the statistics of the pool's first N images, after each epoch
        self.population_examples = None if population_examples is None else int(population_examples)
        if tune_cpu and self.device.type == "cpu":
            configure_cpu_runtime()
        self.epochs_planned, self.base_lr, self.decay_fraction, self.seed = (
            int(epochs_planned), float(lr), float(decay_fraction), int(seed))
        self.epoch = 0  # epochs completed
        self.generator = torch.Generator(device=self.device)
        self.generator.manual_seed(self.seed)
        self.optimizer = make_adam(model.parameters(), self.base_lr, self.device)  # optim.py

    def lr_at(self, epoch: int) -> float:
        """Learning rate of 0-based epoch `epoch` (CuriousAI LRDecay: constant up to the decay start, then linear)."""
        first = int(round(self.epochs_planned * (1.0 - self.decay_fraction)))
        if epoch <= first or first >= self.epochs_planned:
            return self.base_lr
        return self.base_lr * max(0.0, (self.epochs_planned - epoch) / (self.epochs_planned - first))

    def _begin_epoch(self) -> float:
        lr = self.lr_at(self.epoch)
        for group in self.optimizer.param_groups:
            group["lr"] = lr
        self.model.train()
        return lr

    def _end_epoch(self, pool: Input, batch_size: int) -> None:
        """After an epoch's steps: the test-time batch-norm statistics recomputed on the pool's first images (when
        the run asks for it), then the epoch counted."""
        if self.population_examples is not None:
            recompute_population_statistics(self.model, self.model.forward_clean, pool[:self.population_examples],
                                            batch_size)
        self.epoch += 1

    @classmethod
    def for_run(cls, model: nn.Module, x: Input, y: torch.Tensor, train: torch.Tensor, labeled: torch.Tensor,
                training: dict, seed: int) -> "Trainer":
        """The trainer of a run: x (N, ...) and y (N,) the training split, train (Nt,) the indices of the examples
        it may use (the unlabeled pool: the experiment's pool minus its validation set), labeled (Nl,) the indices
        of those whose labels it may use (a subset of train), training its settings (epochs, learning_rate, ...)."""
        raise NotImplementedError

    @staticmethod
    def epoch_options(training: dict) -> dict:
        """The keyword arguments of `train_epoch` from a run's training settings."""
        raise NotImplementedError

    # -- checkpoints ---------------------------------------------------------------------------------------------------
    def _sampler_states(self) -> dict:
        raise NotImplementedError

    def _load_sampler_states(self, state: dict) -> None:
        raise NotImplementedError

    def state_dict(self) -> dict:
        """Everything an exact resume needs, as detached copies (plain dicts, tensors, numbers: torch.save-able)."""
        state = {
            "kind": self.kind, "epoch": self.epoch, "epochs_planned": self.epochs_planned, "lr": self.base_lr,
            "decay_fraction": self.decay_fraction, "seed": self.seed,
            "model": {k: v.detach().clone() for k, v in self.model.state_dict().items()},
            "optimizer": copy.deepcopy(self.optimizer.state_dict()),
            "generator": self.generator.get_state().clone(),
            "samplers": self._sampler_states(),
            "torch_rng": torch.get_rng_state(),
        }
        if torch.cuda.is_available() and torch.cuda.is_initialized():
            state["cuda_rng"] = torch.cuda.get_rng_state_all()
        return state

    def checkpoint_template(self) -> checkpoints.Template:
        """What a checkpoint must hold to be loaded into this trainer (checkpoints.validate): what it would write
        now, and the shape of every parameter its optimiser steps."""
        return checkpoints.template(self.state_dict(), [p.shape for group in self.optimizer.param_groups
                                                        for p in group["params"]])

    def check_checkpoint(self, state: dict, whose: str = "") -> None:
        """A checkpoint this trainer can continue exactly: its kind and schedule (checkpoints.check_schedule); `whose`
        names it in the message (e.g. "seed 2's ")."""
        def refuse(problem: str):
            raise KernelInputError(f"{whose}checkpoint {problem}")

        schedule = {"kind": self.kind, "epochs_planned": self.epochs_planned, "lr": self.base_lr,
                    "decay_fraction": self.decay_fraction}
        checkpoints.check_schedule(state, schedule, refuse)

    def load_state_dict(self, state: dict) -> None:
        self.check_checkpoint(state)
        self.model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.generator.set_state(state["generator"].cpu())
        self._load_sampler_states(state["samplers"])
        self.epoch = int(state["epoch"])
        self.seed = int(state["seed"])
        torch.set_rng_state(state["torch_rng"].cpu())
        if "cuda_rng" in state and torch.cuda.is_available():
            torch.cuda.set_rng_state_all(state["cuda_rng"])


# One epoch's steps as a generator: yields the steps done after each, returns the epoch's result (a trainer's
# `epoch_steps`). The same steps whoever drives them: `run_steps` here, seed_threads.py's workers a step at a time.
EpochSteps = Generator[int, None, dict]


def run_steps(steps: EpochSteps, iterations: int, progress_sink: Optional[ProgressSink]) -> dict:
    """Every step of `steps`, reported to `progress_sink` (rate-limited) -> the epoch's result."""
    progress = Progress(progress_sink, "train_epoch", iterations)
    while True:
        try:
            done = next(steps)
        except StopIteration as end:
            return end.value
        progress.update(done)


def check_ladder_batches(iterations: int, labeled_batch: int, unlabeled_batch: int) -> None:
    """An epoch of the ladder's batches: at least one iteration, at least two examples a batch (batch norm)."""
    if iterations < 1 or labeled_batch < 2 or unlabeled_batch < 2:
        raise KernelInputError(
            f"need iterations >= 1 and batches >= 2 (batch norm), got iterations={iterations}, "
            f"labeled_batch={labeled_batch}, unlabeled_batch={unlabeled_batch}")


class LadderTrainer(Trainer):
    """Semi-supervised training (a `Ladder`). x_labeled (Nl, 784) float32, y_labeled (Nl,) int64,
    x_unlabeled (Nu, 784) float32 (the pool includes the labeled images), all on the model's device."""

    kind = "ladder"

    def __init__(self, model: nn.Module, x_labeled: torch.Tensor, y_labeled: torch.Tensor, x_unlabeled: torch.Tensor,
                 *, epochs_planned: int, lr: float, decay_fraction: float, seed: int, tune_cpu: bool = True,
                 population_examples: Optional[int] = None):
        super().__init__(model, epochs_planned=epochs_planned, lr=lr, decay_fraction=decay_fraction, seed=seed,
                         tune_cpu=tune_cpu, population_examples=population_examples)
        shape, classes = self._shapes()
        _check_xy("x_labeled", x_labeled, y_labeled, self.device, shape, classes)
        _check_xy("x_unlabeled", x_unlabeled, None, self.device, shape)
        self.x_labeled, self.y_labeled, self.x_unlabeled = x_labeled, y_labeled, x_unlabeled
        self.labeled = _Cycler(x_labeled.shape[0], self.generator, self.device)
        self.unlabeled = _Cycler(x_unlabeled.shape[0], self.generator, self.device)

    @classmethod
    def for_run(cls, model, x, y, train, labeled, training, seed):
        # The unlabeled pool is x[train] (labeled images included); the whole split is used as it is, not copied.
        every = train.numel() == x.shape[0] and torch.equal(train, torch.arange(x.shape[0], device=train.device))
        return cls(model, x[labeled], y[labeled], x if every else x[train], **_schedule(training, seed))

    @staticmethod
    def epoch_options(training: dict) -> dict:
        return {"iterations": training["iterations_per_epoch"], "labeled_batch": training["labeled_batch"],
                "unlabeled_batch": training["unlabeled_batch"]}

    def train_epoch(self, iterations: int, labeled_batch: int, unlabeled_batch: int,
                    progress_sink: Optional[ProgressSink] = None) -> dict:
        """-> {"epoch": completed epochs, "lr", "iterations", "seconds", "examples_per_s",
        "loss_total", "loss_supervised", "loss_denoising": [C_d(0) .. C_d(L)] (unweighted, 0 without a cost)},
        losses averaged over the epoch's iterations."""
        return run_steps(self.epoch_steps(iterations, labeled_batch, unlabeled_batch), iterations, progress_sink)

    def epoch_steps(self, iterations: int, labeled_batch: int, unlabeled_batch: int) -> EpochSteps:
        """`train_epoch` a step at a time: yields after each step, returns its result (`run_steps` drives it)."""
        check_ladder_batches(iterations, labeled_batch, unlabeled_batch)
        t0 = time.perf_counter()
        lr = self._begin_epoch()
        model, opt, gen = self.model, self.optimizer, self.generator
        xl, yl, xu = self.x_labeled, self.y_labeled, self.x_unlabeled
        n_layers = len(model.layer_shapes)
        sums = torch.zeros(2 + n_layers, device=self.device)  # total, supervised, denoising per layer
        for i in range(iterations):
            il = self.labeled.take(labeled_batch)
            iu = self.unlabeled.take(unlabeled_batch)
            out = model.costs(xl[il], yl[il], xu[iu], generator=gen)
            opt.zero_grad(set_to_none=True)
            out["total"].backward()
            opt.step()
            with torch.no_grad():
                sums[0] += out["total"].detach()
                sums[1] += out["supervised"].detach()
                sums[2:] += out["denoising"]
            yield i + 1
        means = (sums / iterations).tolist()
        self._end_epoch(xu, unlabeled_batch)
        seconds = time.perf_counter() - t0
        return {
            "epoch": self.epoch, "lr": lr, "iterations": iterations, "seconds": seconds,
            "examples_per_s": iterations * (labeled_batch + unlabeled_batch) / seconds,
            "loss_total": _num(means[0]), "loss_supervised": _num(means[1]),
            "loss_denoising": [_num(v) for v in means[2:]],
        }

    def _sampler_states(self) -> dict:
        return {"labeled": self.labeled.state_dict(), "unlabeled": self.unlabeled.state_dict()}

    def _load_sampler_states(self, state: dict) -> None:
        self.labeled.load_state_dict(state["labeled"])
        self.unlabeled.load_state_dict(state["unlabeled"])


class SupervisedTrainer(Trainer):
    """Supervised training (an MLP or a progressive network: `costs(x, y)`, `forward_clean`, `layer_shapes`):
    x (N, 784) float32 (or a ViewInputs, for a network whose columns read several views), y (N,) int64 on the
    model's device. Stopping at a target accuracy is the caller's job
    (see `evaluate`)."""

    kind = "supervised"

    def __init__(self, model: nn.Module, x: Input, y: torch.Tensor, *, epochs_planned: int, lr: float,
                 decay_fraction: float, seed: int, tune_cpu: bool = True, population_examples: Optional[int] = None):
        super().__init__(model, epochs_planned=epochs_planned, lr=lr, decay_fraction=decay_fraction, seed=seed,
                         tune_cpu=tune_cpu, population_examples=population_examples)
        _check_xy("x", x, y, self.device, *self._shapes())
        self.x, self.y = x, y
        self.sampler = _Cycler(len(x), self.generator, self.device)

    @classmethod
    def for_run(cls, model, x, y, train, labeled, training, seed):
        return cls(model, x[labeled], y[labeled], **_schedule(training, seed))  # labeled lies inside train

    @staticmethod
    def epoch_options(training: dict) -> dict:
        return {"iterations": training["iterations_per_epoch"], "batch_size": training["labeled_batch"]}

    def train_epoch(self, iterations: int, batch_size: int, progress_sink: Optional[ProgressSink] = None) -> dict:
        """-> {"epoch", "lr", "iterations", "seconds", "examples_per_s", "loss_total", "loss_supervised"}."""
        return run_steps(self.epoch_steps(iterations, batch_size), iterations, progress_sink)

    def epoch_steps(self, iterations: int, batch_size: int) -> EpochSteps:
        """`train_epoch` a step at a time: yields after each step, returns its result (`run_steps` drives it)."""
        if iterations < 1 or batch_size < 2:
            raise KernelInputError(
                f"need iterations >= 1 and batch_size >= 2 (batch norm), got {iterations} and {batch_size}")
        t0 = time.perf_counter()
        lr = self._begin_epoch()
        model, opt = self.model, self.optimizer
        total = torch.zeros((), device=self.device)
        for i in range(iterations):
            idx = self.sampler.take(batch_size)
            loss = model.costs(self.x[idx], self.y[idx])["total"]
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            with torch.no_grad():
                total += loss.detach()
            yield i + 1
        mean = float(total) / iterations
        self._end_epoch(self.x, batch_size)
        seconds = time.perf_counter() - t0
        return {
            "epoch": self.epoch, "lr": lr, "iterations": iterations, "seconds": seconds,
            "examples_per_s": iterations * batch_size / seconds,
            "loss_total": _num(mean), "loss_supervised": _num(mean),
        }

    def _sampler_states(self) -> dict:
        return {"data": self.sampler.state_dict()}

    def _load_sampler_states(self, state: dict) -> None:
        self.sampler.load_state_dict(state["data"])


# objective (a model's registration) -> its trainer
TRAINERS: Dict[str, Type[Trainer]] = {t.kind: t for t in (LadderTrainer, SupervisedTrainer)}


def trainer_for(objective: str) -> Type[Trainer]:
    trainer = TRAINERS.get(objective)
    if trainer is None:
        raise KernelInputError(f"no trainer for objective {objective!r}; trainers: {', '.join(sorted(TRAINERS))}")
    return trainer

"""The seeds of one experiment trained as one batched module (models/batched_ladder.py, models/batched_fc.py).

Each seed keeps what its single-seed trainer (training.py) would have: its own generator, seeded with its seed, for
its batch order (its own `_Cycler`s over its own data: a seed's labeled subset is its own) and its noise, drawn in the
single trainer's order; its slice of every parameter and of Adam's state (Adam is element-wise, so a step over (K, ...)
tensors is each seed's step); its own losses and metrics. So slice k trains as seed k alone would: the same batches
and noise, the same numbers up to the summation order inside the batched GEMMs. Nothing reduces across seeds: a seed
that diverges (NaN) keeps its NaN to itself and the others train on, bit for bit as without it.

Checkpoints stay per seed, in the single trainer's format (`seed_state_dict(k)`; `Trainer.state_dict`): a seed's
checkpoint resumes it alone (`LadderTrainer.load_state_dict`) or batched with others at the same epoch
(`load_seed_state_dicts`), exactly.
"""
from __future__ import annotations

import copy
import time
from typing import Dict, List, Optional, Sequence, Tuple

import torch
import torch.nn as nn

from . import checkpoints
from .errors import KernelInputError
from .models.batched_fc import BatchedMLP
from .models.batched_ladder import BatchedLadder
from .optim import make_adam
from .progress import Progress, ProgressSink
from .cpu_threads import configure_cpu_runtime
from .training import LadderTrainer, SupervisedTrainer, Trainer, _Cycler, _num, check_ladder_batches


class BatchedTrainer:
    """K seeds' shared clock (epoch, learning-rate schedule, optimiser) and their own generators."""

    kind = "base"  # the single trainer's kind: what each seed's checkpoint says

    def __init__(self, model: nn.Module, seeds: Sequence[int], *, epochs_planned: int, lr: float,
                 decay_fraction: float, tune_cpu: bool = True):
        self.model = model
        self.device = next(model.parameters()).device
        if tune_cpu and self.device.type == "cpu":
            configure_cpu_runtime()
        self.seeds = [int(s) for s in seeds]
        if len(self.seeds) != model.seeds:
            raise KernelInputError(f"the batched network holds {model.seeds} seeds but {len(self.seeds)} seeds were "
                                   f"given ({self.seeds}); give one per slice")
        self.epochs_planned, self.base_lr, self.decay_fraction = int(epochs_planned), float(lr), float(decay_fraction)
        self.epoch = 0
        self.generators = []
        for seed in self.seeds:   # as Trainer.__init__ seeds its one generator
            generator = torch.Generator(device=self.device)
            generator.manual_seed(seed)
            self.generators.append(generator)
        self.optimizer = make_adam(model.parameters(), self.base_lr, self.device)

    # The single trainer's schedule, epoch start and checkpoint checks (they read epochs_planned, decay_fraction,
    # base_lr, epoch, kind, optimizer and model, which this class has under the same names).
    lr_at = Trainer.lr_at
    _begin_epoch = Trainer._begin_epoch
    check_checkpoint = Trainer.check_checkpoint

    def _step(self, total: torch.Tensor) -> None:
        """total (K,): each seed's loss. The gradient of their sum in seed k's slice is seed k's own."""
        self.optimizer.zero_grad(set_to_none=True)
        total.sum().backward()
        self.optimizer.step()

    @torch.no_grad()
    def evaluate(self, x: torch.Tensor, y: torch.Tensor, batch_size: int = 10000) -> List[Dict[str, float]]:
        """Each seed's clean-path accuracy with its running BN statistics: x (N, in) and y (N,) shared by every seed,
        or x (K, N, in) and y (K, N) one set per seed -> [{"accuracy", "error", "examples"}] per seed."""
        was_training = self.model.training
        self.model.eval()
        k = len(self.seeds)
        correct = torch.zeros(k, dtype=torch.int64, device=self.device)
        n = x.shape[-2]
        for i in range(0, n, batch_size):
            logits = self.model.forward_clean(x[..., i:i + batch_size, :])          # (K, b, classes)
            correct += (logits.argmax(dim=2) == y[..., i:i + batch_size]).sum(dim=1)
        self.model.train(was_training)
        return [{"accuracy": c / max(n, 1), "error": 1.0 - c / max(n, 1), "examples": n} for c in correct.tolist()]

    # -- checkpoints: one per seed, in the single trainer's format -------------------------------------------------------
    def _sampler_states(self, k: int) -> dict:
        raise NotImplementedError

    def _load_sampler_states(self, k: int, state: dict) -> None:
        raise NotImplementedError

    def seed_state_dict(self, k: int) -> dict:
        """Seed k's checkpoint, key for key what its single trainer's `state_dict()` holds."""
        full = self.optimizer.state_dict()
        optimizer = {
            "state": {i: {name: (value.clone() if name == "step" else value[k].clone()) for name, value in s.items()}
                      for i, s in full["state"].items()},
            "param_groups": copy.deepcopy(full["param_groups"]),
        }
        state = {
            "kind": self.kind, "epoch": self.epoch, "epochs_planned": self.epochs_planned, "lr": self.base_lr,
            "decay_fraction": self.decay_fraction, "seed": self.seeds[k],
            "model": self.model.seed_state(k),
            "optimizer": optimizer,
            "generator": self.generators[k].get_state().clone(),
            "samplers": self._sampler_states(k),
            "torch_rng": torch.get_rng_state(),
        }
        if torch.cuda.is_available() and torch.cuda.is_initialized():
            state["cuda_rng"] = torch.cuda.get_rng_state_all()
        return state

    def seed_checkpoint_template(self, k: int) -> checkpoints.Template:
        """What seed k's checkpoint must hold to be loaded (checkpoints.validate), as its single trainer's would."""
        return checkpoints.template(self.seed_state_dict(k), [p.shape[1:] for group in self.optimizer.param_groups
                                                              for p in group["params"]])

    def seed_model_state(self, k: int) -> dict:
        """Seed k's network as its single model's state_dict."""
        return self.model.seed_state(k)

    def load_seed_state_dicts(self, states: Sequence[dict]) -> None:
        """Every seed's checkpoint at once (single-trainer or `seed_state_dict` format), in seed order. They must be of
        one epoch (the seeds share the clock and Adam's step count) and of this trainer's seeds and schedule."""
        if len(states) != len(self.seeds):
            raise KernelInputError(f"{len(states)} checkpoints for {len(self.seeds)} batched seeds; give one per seed")
        for k, state in enumerate(states):
            self.check_checkpoint(state, f"seed {self.seeds[k]}'s ")
            if int(state["seed"]) != self.seeds[k]:
                raise KernelInputError(f"checkpoint {k} is seed {state['seed']}'s, slice {k} is seed {self.seeds[k]}'s; "
                                       f"give the checkpoints in the order of the seeds {self.seeds}")
        epochs = sorted({int(s["epoch"]) for s in states})
        if len(epochs) != 1:
            raise KernelInputError(f"the seeds' checkpoints are at epochs {epochs}; batched seeds share one clock: "
                                   f"resume them separately (or batch those at one epoch)")
        params = list(self.model.parameters())
        with torch.no_grad():
            for k, state in enumerate(states):
                self.model.load_seed_state(k, state["model"])
                saved = state["optimizer"]["state"]
                if len(saved) not in (0, len(params)) or any(int(i) >= len(params) for i in saved):
                    raise KernelInputError(f"seed {self.seeds[k]}'s optimiser state covers parameters "
                                           f"{sorted(saved)[:6]}..., the network has {len(params)}")
                for i, p in enumerate(params):
                    if i not in saved:
                        continue
                    mine = self.optimizer.state[p]
                    if not mine:
                        mine.update(step=saved[i]["step"].clone().cpu(), exp_avg=torch.zeros_like(p),
                                    exp_avg_sq=torch.zeros_like(p))
                    if float(mine["step"]) != float(saved[i]["step"]):
                        raise KernelInputError(f"seed {self.seeds[k]}'s optimiser has taken {float(saved[i]['step'])} "
                                               f"steps, seed {self.seeds[0]}'s {float(mine['step'])}; batched seeds "
                                               f"step together: resume them separately")
                    mine["exp_avg"][k].copy_(saved[i]["exp_avg"])
                    mine["exp_avg_sq"][k].copy_(saved[i]["exp_avg_sq"])
                self.generators[k].set_state(state["generator"].cpu())
                self._load_sampler_states(k, state["samplers"])
        self.epoch = epochs[0]
        torch.set_rng_state(states[0]["torch_rng"].cpu())
        if "cuda_rng" in states[0] and torch.cuda.is_available():
            torch.cuda.set_rng_state_all(states[0]["cuda_rng"])

    @staticmethod
    def _metrics(sums: torch.Tensor, iterations: int, seconds: float, examples: int, lr: float, epoch: int,
                 names: Sequence[str]) -> List[dict]:
        """sums (K, M): per seed, the summed losses named by `names` ("loss_denoising" takes the rest)."""
        rows = (sums / iterations).tolist()
        out = []
        for row in rows:
            metrics = {"epoch": epoch, "lr": lr, "iterations": iterations, "seconds": seconds,
                       "examples_per_s": iterations * examples / seconds, "seeds_batched": len(rows)}
            for name, value in zip(names, row):
                metrics[name] = _num(value)
            if len(row) > len(names):
                metrics["loss_denoising"] = [_num(v) for v in row[len(names):]]
            out.append(metrics)
        return out


def _gather(tensors: Sequence[torch.Tensor], indices: Sequence[torch.Tensor]) -> torch.Tensor:
    """[t_k (N_k, ...)], [i_k (B,)] -> (K, B, ...): each seed's batch from its own data."""
    return torch.stack([t[i] for t, i in zip(tensors, indices)])


class BatchedLadderTrainer(BatchedTrainer):
    """K seeds of `LadderTrainer`: data[k] = (x_labeled (Nl_k, in), y_labeled (Nl_k,), x_unlabeled (Nu_k, in)),
    seed k's own labeled subset and unlabeled pool."""

    kind = LadderTrainer.kind

    def __init__(self, model: BatchedLadder, data: Sequence[Tuple[torch.Tensor, torch.Tensor, torch.Tensor]],
                 seeds: Sequence[int], *, epochs_planned: int, lr: float, decay_fraction: float, tune_cpu: bool = True):
        super().__init__(model, seeds, epochs_planned=epochs_planned, lr=lr, decay_fraction=decay_fraction,
                         tune_cpu=tune_cpu)
        if len(data) != len(self.seeds):
            raise KernelInputError(f"{len(data)} data sets for {len(self.seeds)} seeds; give each seed its own")
        self.data = [tuple(d) for d in data]
        self.labeled = [_Cycler(xl.shape[0], g, self.device) for (xl, _, _), g in zip(self.data, self.generators)]
        self.unlabeled = [_Cycler(xu.shape[0], g, self.device) for (_, _, xu), g in zip(self.data, self.generators)]

    def train_epoch(self, iterations: int, labeled_batch: int, unlabeled_batch: int,
                    progress_sink: Optional[ProgressSink] = None) -> List[dict]:
        """-> per seed, what `LadderTrainer.train_epoch` returns for it (+ "seeds_batched"); "seconds" and
        "examples_per_s" are the batch's wall time and one seed's share of the work per second of it."""
        check_ladder_batches(iterations, labeled_batch, unlabeled_batch)
        t0 = time.perf_counter()
        lr = self._begin_epoch()
        progress = Progress(progress_sink, "train_epoch", iterations)
        seeds, n_layers = len(self.seeds), len(self.model.layer_shapes)
        sums = torch.zeros(seeds, 2 + n_layers, device=self.device)   # per seed: total, supervised, C_d per layer
        for i in range(iterations):
            il, iu = [], []
            for k in range(seeds):   # the single trainer's order: labeled, then unlabeled, from seed k's generator
                il.append(self.labeled[k].take(labeled_batch))
                iu.append(self.unlabeled[k].take(unlabeled_batch))
            out = self.model.costs(_gather([d[0] for d in self.data], il), _gather([d[1] for d in self.data], il),
                                   _gather([d[2] for d in self.data], iu), self.generators)
            self._step(out["total"])
            with torch.no_grad():
                sums[:, 0] += out["total"].detach()
                sums[:, 1] += out["supervised"].detach()
                sums[:, 2:] += out["denoising"]
            if progress_sink is not None:
                progress.update(i + 1)
        self.epoch += 1
        return self._metrics(sums, iterations, time.perf_counter() - t0, labeled_batch + unlabeled_batch, lr,
                             self.epoch, ("loss_total", "loss_supervised"))

    def _sampler_states(self, k: int) -> dict:
        return {"labeled": self.labeled[k].state_dict(), "unlabeled": self.unlabeled[k].state_dict()}

    def _load_sampler_states(self, k: int, state: dict) -> None:
        self.labeled[k].load_state_dict(state["labeled"])
        self.unlabeled[k].load_state_dict(state["unlabeled"])


class BatchedSupervisedTrainer(BatchedTrainer):
    """K seeds of `SupervisedTrainer` for the MLP: data[k] = (x (N_k, in), y (N_k,)), seed k's labeled set."""

    kind = SupervisedTrainer.kind

    def __init__(self, model: BatchedMLP, data: Sequence[Tuple[torch.Tensor, torch.Tensor]], seeds: Sequence[int], *,
                 epochs_planned: int, lr: float, decay_fraction: float, tune_cpu: bool = True):
        super().__init__(model, seeds, epochs_planned=epochs_planned, lr=lr, decay_fraction=decay_fraction,
                         tune_cpu=tune_cpu)
        if len(data) != len(self.seeds):
            raise KernelInputError(f"{len(data)} data sets for {len(self.seeds)} seeds; give each seed its own")
        self.data = [tuple(d) for d in data]
        self.samplers = [_Cycler(x.shape[0], g, self.device) for (x, _), g in zip(self.data, self.generators)]

    def train_epoch(self, iterations: int, batch_size: int, progress_sink: Optional[ProgressSink] = None) -> List[dict]:
        """-> per seed, what `SupervisedTrainer.train_epoch` returns for it (+ "seeds_batched")."""
        if iterations < 1 or batch_size < 2:
            raise KernelInputError(
                f"need iterations >= 1 and batch_size >= 2 (batch norm), got {iterations} and {batch_size}")
        t0 = time.perf_counter()
        lr = self._begin_epoch()
        progress = Progress(progress_sink, "train_epoch", iterations)
        sums = torch.zeros(len(self.seeds), 1, device=self.device)
        for i in range(iterations):
            idx = [sampler.take(batch_size) for sampler in self.samplers]
            loss = self.model.costs(_gather([d[0] for d in self.data], idx),
                                    _gather([d[1] for d in self.data], idx))["total"]   # (K,)
            self._step(loss)
            with torch.no_grad():
                sums[:, 0] += loss.detach()
            if progress_sink is not None:
                progress.update(i + 1)
        self.epoch += 1
        metrics = self._metrics(sums, iterations, time.perf_counter() - t0, batch_size, lr, self.epoch,
                                ("loss_total",))
        for m in metrics:
            m["loss_supervised"] = m["loss_total"]
        return metrics

    def _sampler_states(self, k: int) -> dict:
        return {"data": self.samplers[k].state_dict()}

    def _load_sampler_states(self, k: int, state: dict) -> None:
        self.samplers[k].load_state_dict(state["data"])

"""Ladder trainers of K seeds on given data, for the benchmarks (api.bench_seeds_ladder, scripts/device-check.py):
seed k's ladder is built with seed k, its labeled images are x[:100], its unlabeled pool all of x."""
from __future__ import annotations

from typing import Optional

import torch

from ..batched_training import BatchedLadderTrainer
from ..models import build_model
from ..models.batched_ladder import stack_ladders
from ..seed_threads import SeedThreadsTrainer
from ..training import LadderTrainer


def ladder_trainer(options: dict, training: dict, x: torch.Tensor, y: torch.Tensor, seeds: int, how: str,
                   device: torch.device, threads: Optional[int] = None):
    """`how`: "alone" (one LadderTrainer, seeds == 1), "batched_network" (one BatchedLadderTrainer) or "seed_threads"
    (each seed's own trainer stepped by `threads` threads); `options` the ladder's, `training` an experiment's block."""
    schedule = {"epochs_planned": training["epochs"], "lr": training["learning_rate"],
                "decay_fraction": training["decay_fraction"]}
    ladders = [build_model("ladder", seed=s, **options).to(device) for s in range(1, seeds + 1)]
    if how == "batched_network":
        return BatchedLadderTrainer(stack_ladders(ladders), [(x[:100], y[:100], x)] * seeds,
                                    list(range(1, seeds + 1)), **schedule)
    singles = [LadderTrainer(ladder, x[:100], y[:100], x, seed=k + 1, **schedule) for k, ladder in enumerate(ladders)]
    return singles[0] if how == "alone" else SeedThreadsTrainer(singles, threads)

"""reference/step_matmuls: a real ladder step's products are recorded with the shapes and gradients autograd runs,
its noise draws with their sizes, and the replays time them (and Adam) against real steps."""
from __future__ import annotations

import pytest
import torch

from py_kernels.models import build_model
from py_kernels import native
from py_kernels.reference.step_matmuls import (AdamReplay, LinearCall, MatmulReplay, native_against_torch_ops, record,
                                              step_against_matmuls)
from py_kernels.training import LadderTrainer

WIDTHS = [784, 40, 20, 10]


def _trainer() -> LadderTrainer:
    g = torch.Generator().manual_seed(0)
    x = torch.rand(200, 784, generator=g)
    y = torch.arange(200) % 10
    model = build_model("ladder", widths=WIDTHS, noise_std=0.3, denoising_weights=[1000, 10, 0.1, 0.1],
                        gamma_only=False, seed=1)
    return LadderTrainer(model, x[:30], y[:30], x, epochs_planned=2, lr=0.002, decay_fraction=0.5, seed=1)


def test_one_ladder_step_records_the_fused_encoder_and_the_decoder_products():
    trainer = _trainer()
    calls = record(lambda: trainer.train_epoch(1, 8, 12)).linears
    rows = 8 + 12 + 12   # [corrupted labeled | corrupted unlabeled | clean unlabeled]
    encoder = [LinearCall(rows, 784, 40, False, True), LinearCall(rows, 40, 20, True, True),
               LinearCall(rows, 20, 10, True, True)]
    decoder = [LinearCall(12, 10, 20, True, True), LinearCall(12, 20, 40, True, True),
               LinearCall(12, 40, 784, True, True)]   # V(l) z_hat(l+1), from the top down
    assert calls == encoder + decoder
    # the data needs no gradient: no grad-of-input GEMM at the bottom, two GEMMs fewer than three per call
    assert sum(c.flops for c in calls) == MatmulReplay(calls, torch.device("cpu")).flops_per_step
    assert calls[0].flops == 2 * 2 * rows * 784 * 40


def test_one_ladder_step_records_its_noise_draws():
    """The corrupted rows' noise, input first: (labeled + unlabeled) rows x each layer's width, in one draw each."""
    trainer = _trainer()
    draws = record(lambda: trainer.train_epoch(1, 8, 12)).draws
    assert draws == [(8 + 12) * w for w in WIDTHS]


def test_adam_replay_updates_every_parameter_each_step():
    replay = AdamReplay([(3, 4), (5,)], torch.device("cpu"))
    before = [p.detach().clone() for p in replay.parameters]
    assert replay.run(2) > 0
    for p, b in zip(replay.parameters, before):
        assert not torch.equal(p, b)
        assert int(replay.optimizer.state[p]["step"]) == 2


def test_the_step_is_timed_against_its_products_alone():
    trainer = _trainer()
    shapes = [tuple(p.shape) for p in trainer.model.parameters()]
    result = step_against_matmuls(lambda k: trainer.train_epoch(k, 8, 12)["seconds"], iterations=3, rounds=2,
                                  device=torch.device("cpu"), parameter_shapes=shapes)
    assert result["products_per_step"] == 6 * 3 - 1
    assert result["draws_per_step"] == len(WIDTHS) and result["values_drawn_per_step"] == 20 * sum(WIDTHS)
    assert result["parameters"] == sum(p.numel() for p in trainer.model.parameters())
    assert result["draw_seconds"] > 0 and result["adam_seconds"] > 0
    assert result["floor_ratio"] == pytest.approx(
        (result["matmul_seconds"] + result["draw_seconds"] + result["adam_seconds"]) / result["matmul_seconds"])
    assert result["step_seconds"] > 0 and result["matmul_seconds"] > 0
    assert result["ratio"] == pytest.approx(result["step_seconds"] / result["matmul_seconds"])
    if native.library() is None:
        assert result["torch_ops_seconds"] is None
        assert trainer.epoch == 1 + 2   # the recorded step, then one "epoch" per round
    else:  # and per round one more with the torch ops instead of the C kernels
        assert result["torch_ops_seconds"] > 0
        assert trainer.epoch == 1 + 2 * 2


def test_other_ways_of_running_the_steps_are_timed_in_the_same_rounds():
    trainer = _trainer()
    asked = []

    def other(k: int) -> float:
        asked.append(k)
        return trainer.train_epoch(k, 8, 12)["seconds"]
    result = native_against_torch_ops(lambda k: trainer.train_epoch(k, 8, 12)["seconds"], iterations=2, rounds=3,
                                      others={"other_pool": other})
    assert asked == [2, 2, 2]
    assert result["other_pool_seconds"] > 0 and result["step_seconds"] > 0

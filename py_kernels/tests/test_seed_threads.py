"""seed_threads: seeds stepped by worker threads train bit for bit as their runs alone on one thread (batches, noise,
losses, weights; products round differently with more threads), whatever the number of workers; their checkpoints
are the single trainer's and resume exactly; a seed that diverges touches no other; a step that fails stops the epoch
with its error; both pools' thread counts are restored after. On real MNIST subsets."""
from __future__ import annotations

import pytest
import torch

from py_kernels.errors import KernelInputError
from py_kernels.models import build_model
from py_kernels.seed_threads import SeedThreadsTrainer
from py_kernels.cpu_threads import cpu_threads, loaded_openblas
from py_kernels.training import LadderTrainer, SupervisedTrainer
from py_kernels.tests.test_batched import LADDER, SCHEDULE, SEEDS, _labeled, _single_ladders, mnist  # noqa: F401

BATCHES = {"iterations": 4, "labeled_batch": 50, "unlabeled_batch": 50}


def _threaded(mnist, threads: int, seeds=SEEDS) -> SeedThreadsTrainer:  # noqa: F811 (the fixture's value)
    return SeedThreadsTrainer(_single_ladders(mnist, seeds), threads)


def _same_weights(a: torch.nn.Module, b: torch.nn.Module) -> bool:
    return all(torch.equal(x, y) for x, y in zip(a.state_dict().values(), b.state_dict().values()))


def _without_times(metrics: dict) -> dict:
    return {k: v for k, v in metrics.items() if k not in ("seconds", "examples_per_s", "seeds_batched", "seed_threads")}


@pytest.mark.parametrize("threads", [1, 2, 3])
def test_seeds_in_threads_train_bit_for_bit_as_their_runs_alone(mnist, threads):  # noqa: F811
    alone, together = _single_ladders(mnist), _threaded(mnist, threads)
    for _ in range(2):
        ours = together.train_epoch(**BATCHES)
        for k, single in enumerate(alone):
            with cpu_threads(1, 1):
                theirs = single.train_epoch(**BATCHES)
            assert _without_times(ours[k]) == _without_times(theirs)
            assert ours[k]["seeds_batched"] == 3 and ours[k]["seed_threads"] == min(threads, 3)
            assert torch.equal(single.generator.get_state(), together.trainers[k].generator.get_state())
            assert _same_weights(single.model, together.trainers[k].model)
    test = together.evaluate(mnist[2], mnist[3])
    with cpu_threads(1, 1):
        assert [t["error"] for t in test] == [s.evaluate(mnist[2], mnist[3])["error"] for s in alone]
    assert len({t["error"] for t in test}) > 1   # three networks, not one evaluated three times


def test_per_seed_evaluation_sets(mnist):  # noqa: F811
    together = _threaded(mnist, 2)
    x, y = torch.stack([mnist[2][:500], mnist[2][500:1000], mnist[2][1000:1500]]), \
        torch.stack([mnist[3][:500], mnist[3][500:1000], mnist[3][1000:1500]])
    ours = together.evaluate(x, y)
    with cpu_threads(1, 1):
        for k, trainer in enumerate(together.trainers):
            assert ours[k] == trainer.evaluate(x[k], y[k])


def test_a_seed_checkpoint_resumes_alone_or_in_threads_exactly(mnist):  # noqa: F811
    straight, interrupted = _threaded(mnist, 2), _threaded(mnist, 2)
    straight.train_epoch(**BATCHES)
    interrupted.train_epoch(**BATCHES)
    states = [interrupted.seed_state_dict(k) for k in range(3)]
    resumed = _threaded(mnist, 2)
    resumed.load_seed_state_dicts(states)
    alone = _single_ladders(mnist, [SEEDS[1]])[0]
    alone.load_state_dict(states[1])
    assert resumed.epoch == 1
    with cpu_threads(1, 1):
        theirs = alone.train_epoch(**BATCHES)
    ours, again = straight.train_epoch(**BATCHES), resumed.train_epoch(**BATCHES)
    assert _without_times(ours[1]) == _without_times(theirs) == _without_times(again[1])
    for k in range(3):
        assert _same_weights(straight.trainers[k].model, resumed.trainers[k].model)
    with pytest.raises(KernelInputError, match="order of the seeds"):
        _threaded(mnist, 2).load_seed_state_dicts([states[1], states[0], states[2]])
    with pytest.raises(KernelInputError, match="epochs"):
        _threaded(mnist, 2).load_seed_state_dicts([states[0], straight.seed_state_dict(1), states[2]])


def test_a_diverged_seed_touches_no_other(mnist):  # noqa: F811
    clean, diverging = _threaded(mnist, 2), _threaded(mnist, 2)
    with torch.no_grad():   # seed 2 blows up: its first layer's weights turn NaN
        diverging.trainers[1].model.encoder.layers[0].weight[3, 5] = float("nan")
    ours, theirs = diverging.train_epoch(**BATCHES), clean.train_epoch(**BATCHES)
    assert ours[1]["loss_total"] is None and theirs[1]["loss_total"] is not None
    for k in (0, 2):
        assert _without_times(ours[k]) == _without_times(theirs[k])
        assert _same_weights(clean.trainers[k].model, diverging.trainers[k].model)


def test_a_failing_step_stops_the_epoch_with_its_error_and_restores_the_threads(mnist):  # noqa: F811
    blas = loaded_openblas()
    before = blas.openblas_get_num_threads() if blas is not None else None
    torch_before = torch.get_num_threads()
    together = _threaded(mnist, 2)
    with pytest.raises(KernelInputError, match="batches >= 2"):
        together.train_epoch(iterations=3, labeled_batch=1, unlabeled_batch=50)
    x, y = mnist[0][:300], mnist[1][:300]
    broken = SupervisedTrainer(build_model("mlp", widths=[784, 32, 10], seed=1), x, y, seed=1, **SCHEDULE)
    broken.model.costs = lambda *_: (_ for _ in ()).throw(RuntimeError("seed 1 broke"))
    fine = SupervisedTrainer(build_model("mlp", widths=[784, 32, 10], seed=2), x, y, seed=2, **SCHEDULE)
    with pytest.raises(RuntimeError, match="seed 1 broke"):
        SeedThreadsTrainer([broken, fine], 2).train_epoch(iterations=50, batch_size=32)
    if blas is not None:
        assert blas.openblas_get_num_threads() == before
    assert torch.get_num_threads() == torch_before


def test_progress_counts_one_seeds_steps_as_a_run_does(mnist):  # noqa: F811
    events = []
    _threaded(mnist, 2).train_epoch(**BATCHES, progress_sink=events.append)
    assert events[-1] == {"stage": "train_epoch", "done": 4, "total": 4}
    assert [e["done"] for e in events] == sorted(e["done"] for e in events)


def test_conv_gamma_seeds_in_threads_train_as_their_runs_with_population_statistics(mnist):  # noqa: F811
    """A model without a batched network (seeds together on the CPU only in threads), with population statistics,
    which the batched network does not support."""
    x, y = mnist[0][:600], mnist[1][:600]

    def trainers():
        return [LadderTrainer(build_model("conv_ladder", seed=s, channels=[4, 6, 6, 8, 5, 10], noise_std=0.3,
                                          denoising_weight=1.0), x[_labeled(s, 20) % 600], y[_labeled(s, 20) % 600],
                              x, seed=s, population_examples=64, **SCHEDULE) for s in SEEDS]
    together, alone = SeedThreadsTrainer(trainers(), 2), trainers()
    batches = {"iterations": 3, "labeled_batch": 10, "unlabeled_batch": 10}
    ours = together.train_epoch(**batches)
    with cpu_threads(1, 1):
        theirs = [t.train_epoch(**batches) for t in alone]
    assert [_without_times(m) for m in ours] == [_without_times(m) for m in theirs]
    for mine, single in zip(together.trainers, alone):
        assert _same_weights(mine.model, single.model)

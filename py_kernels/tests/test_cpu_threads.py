"""cpu_threads: a model's calls give the kernel's threads to the pool its step runs in (OpenBLAS for fc columns,
torch's for conv columns and a live AlexNet trunk) and restore them after; seed-thread workers run one thread in each
pool, their convolutions included; a conv run trained with the threads in torch's pool resumes bit for bit."""
from __future__ import annotations

import ctypes

import pytest
import torch

from py_kernels.cpu_threads import configure_cpu_runtime, cpu_threads, cpu_threads_for, heavy_pool, loaded_openblas
from py_kernels.models import build_column, build_model
from py_kernels.progress import Progress
from py_kernels.seed_threads import _run_together
from py_kernels.training import LadderTrainer

needs_openblas = pytest.mark.skipif(loaded_openblas() is None, reason="no separate OpenBLAS pool in this torch build")
CONV = {"channels": [4, 6, 6, 8, 5, 10], "noise_std": 0.3, "denoising_weight": 1.0}
FC = {"widths": [784, 16, 10], "noise_std": 0.3, "denoising_weights": [1.0, 0.1, 0.1], "gamma_only": False}


def _threads() -> tuple:
    return torch.get_num_threads(), int(loaded_openblas().openblas_get_num_threads())


def _omp_threads_here() -> int:
    """This thread's OpenMP team size: what a oneDNN convolution started here would use."""
    return int(ctypes.CDLL("libgomp.so.1").omp_get_max_threads())


def test_each_model_names_the_pool_its_step_runs_in():
    assert heavy_pool(build_model("ladder", seed=1, **FC)) == "blas"
    assert heavy_pool(build_model("mlp", widths=[784, 16, 10], seed=1)) == "blas"
    assert heavy_pool(build_model("conv_ladder", seed=1, **CONV)) == "torch"
    assert heavy_pool(build_column("conv", seed=1, channels=[4, 6, 6, 8, 5, 10])) == "torch"
    assert heavy_pool(build_column("alexnet", seed=1, head=[8, 4], pretrained=False, features="live")) == "torch"
    assert heavy_pool(build_column("alexnet", seed=1, head=[8, 4], pretrained=False, features="cached")) == "blas"


@needs_openblas
def test_a_models_calls_take_the_kernels_threads_in_its_pool_and_give_them_back():
    n = configure_cpu_runtime()["openblas_threads"]
    with cpu_threads(1, n):
        with cpu_threads_for(build_model("conv_ladder", seed=1, **CONV)):
            assert _threads() == (n, 1)
        assert _threads() == (1, n)
        with cpu_threads_for(build_model("ladder", seed=1, **FC)):
            assert _threads() == (1, n)
        assert _threads() == (1, n)


@needs_openblas
def test_seed_workers_run_one_thread_in_each_pool_even_for_a_convolution_first():
    seen = []

    def steps():
        seen.append((_omp_threads_here(), *_threads()))  # before any torch op of this worker
        yield 1
        return {}

    with cpu_threads(2, 2):
        _run_together([steps(), steps(), steps()], 2, Progress(None, "train_epoch", 1))
        assert _threads() == (2, 2)
    assert seen == [(1, 1, 1)] * 3


def test_a_conv_run_with_the_threads_in_torchs_pool_resumes_bit_for_bit():
    g = torch.Generator().manual_seed(0)
    x = torch.rand(400, 784, generator=g)
    y = torch.arange(400) % 10

    def trainer() -> LadderTrainer:
        return LadderTrainer(build_model("conv_ladder", seed=1, **CONV), x[:20], y[:20], x, seed=1, epochs_planned=3,
                             lr=0.002, decay_fraction=0.5)
    batches = {"iterations": 3, "labeled_batch": 10, "unlabeled_batch": 10}
    straight, interrupted = trainer(), trainer()
    with cpu_threads(2, 1):
        for _ in range(2):
            straight.train_epoch(**batches)
        interrupted.train_epoch(**batches)
        resumed = trainer()
        resumed.load_state_dict(interrupted.state_dict())
        resumed.train_epoch(**batches)
    for (name, a), b in zip(straight.model.state_dict().items(), resumed.model.state_dict().values()):
        assert torch.equal(a, b), name

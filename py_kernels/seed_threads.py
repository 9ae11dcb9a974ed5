"""The seeds of one experiment trained together in one kernel on the CPU: each seed its own single-seed trainer
(training.py), their steps run by worker threads, one core each (`pladder run --batch-seeds` on the CPU, for any model
reading one view of the data; run_groups.py chooses).

Why not the batched network (batched_training.py) here: on the CPU its matrix products use every core, but its
element-wise work (batch norm, combinators, noise, Adam) runs on one, so three batched seeds trained fewer examples per
second than three processes side by side (docs/results.md, section seeds). Here every core does a whole step of one
seed at a time, as processes side by side would, in one process: the data is loaded once and the seeds report
together. torch's ops and the C kernels release the GIL, so the threads run in parallel.

Each seed is exactly its own run: the same trainer, batches, noise and arithmetic, so its numbers are bit for bit
those of the run alone on one thread (one in each pool, cpu_threads.py: what each run of `--parallel` has on the
CPU; products and convolutions round differently with more threads), its checkpoint is that run's, and a seed that
diverges (NaN) touches no other. Workers take the next step of the seed furthest behind, so K seeds on fewer cores
advance together and finish the epoch together.
"""
from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Callable, List, Optional, Sequence

import torch

from .cpu_threads import cpu_threads
from .errors import KernelInputError
from .models.view_inputs import Input
from .progress import Progress, ProgressSink
from .training import EpochSteps, Trainer


class SeedThreadsTrainer:
    """K single-seed trainers (one per seed, each built as its run would build it) stepped by `threads` workers.
    Offers what run_groups.py asks of a group's trainer: train_epoch, evaluate, seed_state_dict,
    load_seed_state_dicts, seed_model_state, seeds, epoch, device, model."""

    def __init__(self, trainers: Sequence[Trainer], threads: int):
        if not trainers:
            raise KernelInputError("seed threads need at least one seed's trainer")
        self.trainers = list(trainers)
        self.seeds = [t.seed for t in self.trainers]
        self.threads = max(1, min(int(threads), len(self.trainers)))
        self.device = self.trainers[0].device

    @property
    def epoch(self) -> int:
        return self.trainers[0].epoch

    @property
    def model(self) -> torch.nn.Module:
        """Seed 1's network: what the kernel's thread split around the group's calls follows (cpu_threads_for), as
        for a batched network; the workers then pin one thread of each pool for themselves."""
        return self.trainers[0].model

    def train_epoch(self, progress_sink: Optional[ProgressSink] = None, **batches) -> List[dict]:
        """One epoch of every seed (`batches`: the single trainer's `epoch_steps` arguments) -> per seed what its
        `train_epoch` returns, plus "seeds_batched" (K) and "seed_threads" (the workers)."""
        started = time.perf_counter()
        steps = [t.epoch_steps(**batches) for t in self.trainers]
        # progress in one seed's steps, as a run of its own and the batched network report it
        results = _run_together(steps, self.threads, Progress(progress_sink, "train_epoch", batches["iterations"]))
        seconds = time.perf_counter() - started
        for result in results:
            # the group's wall time, and one seed's share of the work per second of it, as the batched network says
            result.update(seconds=seconds, examples_per_s=result["examples_per_s"] * result["seconds"] / seconds,
                          seeds_batched=len(self.trainers), seed_threads=self.threads)
        return results

    def evaluate(self, x: Input, y: torch.Tensor) -> List[dict]:
        """Each seed's accuracy: on x (N, ...) and y (N,) shared by every seed, or x (K, N, ...) and y (K, N) one set
        per seed -> [{"accuracy", "error", "examples"}] per seed."""
        per_seed = y.dim() == 2
        jobs = [(lambda t=t, k=k: t.evaluate(x[k] if per_seed else x, y[k] if per_seed else y))
                for k, t in enumerate(self.trainers)]
        return _run_jobs(jobs, self.threads)

    def seed_state_dict(self, k: int) -> dict:
        return self.trainers[k].state_dict()

    def seed_checkpoint_template(self, k: int):
        return self.trainers[k].checkpoint_template()

    def seed_model_state(self, k: int) -> dict:
        return self.trainers[k].model.state_dict()

    def load_seed_state_dicts(self, states: Sequence[dict]) -> None:
        """Every seed's checkpoint, in seed order."""
        if len(states) != len(self.trainers):
            raise KernelInputError(f"{len(states)} checkpoints for {len(self.trainers)} seeds; give one per seed")
        for k, (trainer, state) in enumerate(zip(self.trainers, states)):
            if int(state.get("seed", -1)) != trainer.seed:
                raise KernelInputError(f"checkpoint {k} is seed {state.get('seed')}'s, slice {k} is seed "
                                       f"{trainer.seed}'s; give the checkpoints in the order of the seeds {self.seeds}")
            trainer.check_checkpoint(state, f"seed {trainer.seed}'s ")
        epochs = sorted({int(s["epoch"]) for s in states})
        if len(epochs) != 1:
            raise KernelInputError(f"the seeds' checkpoints are at epochs {epochs}; seeds trained together share one "
                                   f"clock: resume them separately (or together those at one epoch)")
        for trainer, state in zip(self.trainers, states):
            trainer.load_state_dict(state)


def _run_together(steps: List[EpochSteps], threads: int, progress: Progress) -> List[dict]:
    """Runs every generator of `steps` to its end with `threads` workers, one thread each (in both pools); a worker
    always takes the next step of the seed with the fewest done (none runs two steps of one seed at once) -> their
    results. The calling thread reports progress, the mean of the steps done (the sink may not be called from another
    thread), and re-raises the first error."""
    done, busy = [0] * len(steps), [False] * len(steps)
    results: List[Optional[dict]] = [None] * len(steps)   # a seed's epoch result, once its steps have ended
    lock, errors = threading.Condition(), []

    def next_seed() -> Optional[int]:
        free = [k for k in range(len(steps)) if not busy[k] and results[k] is None]
        return min(free, key=lambda k: done[k]) if free else None

    def work() -> None:
        _one_thread_here()
        while True:
            with lock:
                k = None
                while not errors:
                    k = next_seed()
                    if k is not None or all(r is not None for r in results):
                        break
                    lock.wait()   # every unfinished seed is being stepped by another worker
                if k is None:
                    return
                busy[k] = True
            try:
                step, end = next(steps[k]), None
            except StopIteration as stop:
                step, end = done[k], stop.value
            except BaseException as error:  # noqa: B902 (handed to the calling thread, which raises it)
                with lock:
                    errors.append(error)
                    lock.notify_all()
                return
            with lock:
                done[k], busy[k], results[k] = step, False, end
                lock.notify_all()

    with cpu_threads(1, 1):
        workers = [threading.Thread(target=work, name=f"seed-worker-{i}", daemon=True) for i in range(threads)]
        for worker in workers:
            worker.start()
        reported = -1
        while True:
            alive = [w for w in workers if w.is_alive()]
            if alive:
                alive[0].join(0.2)
            mean_done = sum(done) // len(steps)
            if mean_done != reported:   # the last value once, however soon the workers ended
                progress.update(mean_done)
                reported = mean_done
            if not alive:
                break
    if errors:
        raise errors[0]
    return results  # type: ignore[return-value]


def _run_jobs(jobs: List[Callable[[], dict]], threads: int) -> List[dict]:
    """Each job (a seed's evaluation) on `threads` workers, one thread each -> their results in order."""
    with cpu_threads(1, 1), ThreadPoolExecutor(threads, initializer=_one_thread_here) as pool:
        return [future.result() for future in [pool.submit(job) for job in jobs]]


def _one_thread_here() -> None:
    """A worker's own OpenMP team at one thread: a new thread takes torch's count at its first parallel ATen op,
    but a oneDNN convolution run first would use every core (cpu_threads.py)."""
    torch.set_num_threads(1)

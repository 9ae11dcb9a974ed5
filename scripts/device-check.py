"""The ladder step on one device, measured the way issue 15 asks, as one prepared command for a lent GPU's few minutes
(Python only: a GPU machine may have no Node). Not part of the test suite; `make test` runs it once on the CPU with
tiny counts (py_kernels/tests/test_device_check.py) so that it works when a GPU is at hand:

    PYTHONUNBUFFERED=1 python3 scripts/device-check.py --device cuda --out "$OUT/device-check.json"

What it measures, for experiments/ladder-mnist100.yaml's network and batches on random MNIST-shaped data (the step's
speed does not depend on the pixels):
- one run's step: milliseconds per iteration (the median of 3 slices), and the 150-epoch run it projects to;
- the same steps under torch.profiler: host ops per iteration (every aten op the dispatcher handles, nested ones
  included) and, on CUDA, the device's kernels per iteration and the share of the wall time they keep it busy;
- K seeds as one batched network (py_kernels/batched_training.py) for each K of --seeds-batched: examples per second
  against one run's;
- K single-seed processes side by side (--side-by-side K): examples per second together.
Prints one line per figure and writes them all as JSON to --out."""
from __future__ import annotations

import argparse
import functools
import json
import os
import statistics
import subprocess
import sys
import time
from typing import Callable, List, Tuple

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

import torch  # noqa: E402
import yaml  # noqa: E402
from torch.autograd import DeviceType  # noqa: E402
from torch.profiler import ProfilerActivity, profile  # noqa: E402

from py_kernels.cpu_threads import configure_cpu_runtime, cpu_threads_for  # noqa: E402
from py_kernels.reference.seed_trainers import ladder_trainer  # noqa: E402

EXPERIMENT = os.path.join(ROOT, "experiments", "ladder-mnist100.yaml")
POOL = 10000  # unlabeled images; the first 100 are the labeled ones


@functools.lru_cache(maxsize=None)
def recipe() -> tuple:
    """ladder-mnist100.yaml's model options and training block (read once)."""
    with open(EXPERIMENT) as f:
        experiment = yaml.safe_load(f)
    model = {k: v for k, v in experiment["model"].items() if k != "architecture"}
    return model, experiment["training"]


def timed_steps(seeds: int, device: torch.device):
    """One run (seeds == 1) or `seeds` seeds as one batched network on random MNIST-shaped data
    (reference/seed_trainers.py), and a function running k steps of it -> their seconds."""
    model, training = recipe()
    generator = torch.Generator().manual_seed(0)
    x = torch.rand(POOL, 784, generator=generator).to(device)
    y = torch.randint(0, 10, (POOL,), generator=generator).to(device)
    trainer = ladder_trainer(model, training, x, y, seeds, "alone" if seeds == 1 else "batched_network", device)
    batches = {"labeled_batch": training["labeled_batch"], "unlabeled_batch": training["unlabeled_batch"]}

    def run(k: int) -> float:
        with cpu_threads_for(trainer.model):
            result = trainer.train_epoch(k, **batches)  # ends with the losses' .tolist(): the device has finished
        return (result if seeds == 1 else result[0])["seconds"]

    run(3)  # warm-up: allocations, Adam's state, cuDNN/cuBLAS choices
    return run, training


def seconds_per_iteration(run: Callable[[int], float], iterations: int) -> float:
    return statistics.median(run(iterations) / iterations for _ in range(3))


def profiled(run: Callable[[int], float], iterations: int, device: torch.device) -> dict:
    """Host ops per iteration, and on CUDA the device's kernels per iteration and its busy share of the wall time."""
    activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if device.type == "cuda" else [])
    with profile(activities=activities) as p:
        started = time.perf_counter()
        run(iterations)
        wall_us = (time.perf_counter() - started) * 1e6
    events = p.events()
    host_ops = sum(1 for e in events if e.device_type == DeviceType.CPU and e.name.startswith("aten::"))
    result = {"iterations": iterations, "host_ops_per_iteration": host_ops / iterations,
              "profiled_ms_per_iteration": wall_us / 1e3 / iterations,
              "device_kernels_per_iteration": None, "device_busy_fraction": None}
    if device.type == "cuda":
        spans = [(e.time_range.start, e.time_range.end) for e in events if e.device_type == DeviceType.CUDA]
        if not spans:
            raise RuntimeError("torch.profiler recorded no CUDA events: is CUPTI available to this torch?")
        result.update(device_kernels_per_iteration=len(spans) / iterations,
                      device_busy_fraction=busy_time(spans) / wall_us)
    return result


def busy_time(spans: List[Tuple[float, float]]) -> float:
    """The length of the union of (start, end) intervals: kernels that overlap (several streams) count once."""
    busy, reach = 0.0, float("-inf")
    for start, end in sorted(spans):
        busy += max(0.0, end - max(start, reach))
        reach = max(reach, end)
    return busy


def side_by_side(processes: int, iterations: int, device: str) -> float:
    """Examples per second of `processes` single-seed runs at once, one process each (the CPU's cores shared out)."""
    threads = max(1, (os.cpu_count() or 1) // processes) if device == "cpu" else None
    command = [sys.executable, __file__, "--device", device, "--single", str(iterations)]
    env = {**os.environ, **({"PLADDER_CHECK_THREADS": str(threads)} if threads else {})}
    children = [subprocess.Popen(command, stdout=subprocess.PIPE, text=True, env=env) for _ in range(processes)]
    spans = [json.loads(child.communicate()[0].strip().splitlines()[-1]) for child in children]
    if any(child.returncode for child in children):
        raise RuntimeError(f"a side-by-side process failed: {[child.returncode for child in children]}")
    _, training = recipe()
    examples = processes * iterations * (training["labeled_batch"] + training["unlabeled_batch"])
    return examples / (max(s["ended"] for s in spans) - min(s["started"] for s in spans))


def single(device: torch.device, iterations: int) -> None:
    """One process of `side_by_side`: its timed span on the wall clock, as the last line of its output."""
    run, _ = timed_steps(1, device)
    started = time.time()
    run(iterations)
    print(json.dumps({"started": started, "ended": time.time()}))


def main(argv: List[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--iterations", type=int, default=50, help="steps per timed slice")
    parser.add_argument("--seeds-batched", default="3,15", help="K of the batched networks, comma-separated")
    parser.add_argument("--side-by-side", type=int, default=3, help="processes side by side (0: none)")
    parser.add_argument("--out", help="the JSON file to write")
    parser.add_argument("--single", type=int, help=argparse.SUPPRESS)  # one process of --side-by-side
    args = parser.parse_args(argv)
    device = torch.device(args.device)
    configure_cpu_runtime(int(os.environ["PLADDER_CHECK_THREADS"]) if "PLADDER_CHECK_THREADS" in os.environ else None)
    if args.single is not None:
        single(device, args.single)
        return 0
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else f"cpu, {os.cpu_count()} cores"
    found = {"device": name, "torch": torch.__version__, "iterations": args.iterations}
    print(f"device-check on {name}, torch {torch.__version__}")
    run, training = timed_steps(1, device)
    step = seconds_per_iteration(run, args.iterations)
    examples = training["labeled_batch"] + training["unlabeled_batch"]
    run_minutes = step * training["iterations_per_epoch"] * training["epochs"] / 60
    found["step_ms"] = 1e3 * step
    found["one_run_examples_per_second"] = examples / step
    found["projected_run_minutes"] = run_minutes
    print(f"one run: {1e3 * step:.2f} ms per step, {examples / step:.0f} examples/s; "
          f"{training['epochs']} epochs of {training['iterations_per_epoch']} steps: {run_minutes:.1f} min (steps only)")
    found["profile"] = profiled(run, args.iterations, device)
    print("profiler: " + ", ".join(f"{k} {v:.3g}" for k, v in found["profile"].items() if v is not None))
    found["batched"] = []
    for seeds in (int(k) for k in args.seeds_batched.split(",") if k):
        batched_run, _ = timed_steps(seeds, device)
        per_step = seconds_per_iteration(batched_run, args.iterations)
        found["batched"].append({"seeds": seeds, "step_ms": 1e3 * per_step,
                                 "examples_per_second": seeds * examples / per_step})
        print(f"{seeds} seeds as one batched network: {1e3 * per_step:.2f} ms per step, "
              f"{seeds * examples / per_step:.0f} examples/s ({seeds * step / per_step:.2f}x one run's)")
    if args.side_by_side > 0:
        together = side_by_side(args.side_by_side, args.iterations, args.device)
        found["side_by_side"] = {"processes": args.side_by_side, "examples_per_second": together}
        print(f"{args.side_by_side} runs side by side: {together:.0f} examples/s together "
              f"({together * step / examples:.2f}x one run's)")
    if args.out:
        with open(args.out, "w") as f:
            json.dump(found, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

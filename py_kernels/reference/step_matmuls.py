"""The matrix products of one training step, timed alone: the floor under the step's time (benchmarks only).

`record` runs one step and notes every `F.linear` it calls (the fc ladder's encoder and decoder products, an MLP's,
a progressive fc network's): the input's and the weight's shapes, and which of them need a gradient. Each becomes up
to three GEMMs, laid out as autograd runs them for `F.linear(x, W)` without bias (MmBackward0 in torch 1.13 and 2.x):

    forward        y  = x @ W.T     (R, in) x (in, out)
    grad of input  gx = gy @ W      (R, out) x (out, in)       when x needs a gradient (not for the data itself)
    grad of weight gW = gy.T @ x    (out, R) x (R, in)          when W needs one

`MatmulReplay` holds random operands of those shapes and runs them in that order, as many steps as asked: what the
step would cost if everything but its matrix products took no time.

Two more parts of the step are fixed by its numbers rather than by how the code is written: the noise, drawn from
torch's generator (the stream a seed's run is reproduced from), and the fp32 Adam update of every parameter (one
memory-bound pass in the C kernel). `record` also notes the step's normal draws (`torch.randn`, `Tensor.normal_`);
`DrawReplay` redraws as many values from a generator, `AdamReplay` runs the trainer's optimiser over parameters of
the same shapes. Products + draws + Adam is the least a step can cost while those stay as they are.
"""
from __future__ import annotations

import math
import statistics
import time
from dataclasses import dataclass
from typing import Callable, Dict, List, Optional, Sequence, Tuple

import torch
import torch.nn.functional as F
from torch.overrides import TorchFunctionMode


@dataclass(frozen=True)
class LinearCall:
    rows: int             # R: examples through the product
    fan_in: int
    fan_out: int
    input_grad: bool      # the input needs a gradient: a grad-of-input GEMM in the backward pass
    weight_grad: bool     # the weight is trained: a grad-of-weight GEMM

    @property
    def flops(self) -> int:
        """Multiply-adds times 2, over the forward and backward GEMMs of this call."""
        return 2 * self.rows * self.fan_in * self.fan_out * (1 + self.input_grad + self.weight_grad)


@dataclass(frozen=True)
class StepRecord:
    linears: List[LinearCall]   # the step's F.linear calls, in the order they were made
    draws: List[int]            # the values of each normal draw from a generator (randn, normal_), in order


class _StepRecorder(TorchFunctionMode):
    def __init__(self) -> None:
        super().__init__()
        self.linears: List[LinearCall] = []
        self.draws: List[int] = []

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        if func is F.linear:
            x, weight = args[0], args[1] if len(args) > 1 else kwargs["weight"]
            rows = x.numel() // x.shape[-1]
            self.linears.append(LinearCall(rows, int(weight.shape[1]), int(weight.shape[0]), bool(x.requires_grad),
                                           bool(weight.requires_grad)))
        result = func(*args, **kwargs)
        if func is torch.randn or func is torch.Tensor.normal_:
            self.draws.append(result.numel())
        return result


def record(step: Callable[[], None]) -> StepRecord:
    """The F.linear calls and normal draws of one `step()` (which runs: a real training step)."""
    recorder = _StepRecorder()
    with recorder:
        step()
    return StepRecord(recorder.linears, recorder.draws)


class _Replay:
    """Something a step does, on its own: `step()` once, `run(steps)` the seconds of `steps` of them (synchronised on
    a GPU)."""

    device: torch.device

    def step(self) -> None:
        raise NotImplementedError

    def run(self, steps: int) -> float:
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
        started = time.perf_counter()
        for _ in range(steps):
            self.step()
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
        return time.perf_counter() - started


class MatmulReplay(_Replay):
    """Random operands for `calls`' GEMMs (float32 on `device`), replayed `steps` times by `run`."""

    def __init__(self, calls: List[LinearCall], device: torch.device, seed: int = 0):
        g = torch.Generator().manual_seed(seed)

        def rand(*shape: int) -> torch.Tensor:
            return torch.randn(*shape, generator=g).to(device)

        self.calls = list(calls)
        # per call: x (R, in), W (out, in), gy (R, out)
        self.operands = [(rand(c.rows, c.fan_in), rand(c.fan_out, c.fan_in), rand(c.rows, c.fan_out))
                         for c in self.calls]
        self.pairs = list(zip(self.calls, self.operands))
        self.device = device

    @property
    def flops_per_step(self) -> int:
        return sum(c.flops for c in self.calls)

    def step(self) -> None:
        """One step's GEMMs: every forward product, then the backward ones in reverse order."""
        for _call, (x, w, _gy) in self.pairs:
            F.linear(x, w)                                  # (R, out)
        for call, (x, w, gy) in reversed(self.pairs):
            if call.input_grad:
                gy.mm(w)                                    # (R, in)
            if call.weight_grad:
                gy.t().mm(x)                                # (out, in)


class DrawReplay(_Replay):
    """The step's normal draws (`StepRecord.draws`, values each), redrawn from one generator into buffers held
    across steps."""

    def __init__(self, draws: Sequence[int], device: torch.device, seed: int = 0):
        self.buffers = [torch.empty(n, device=device) for n in draws]
        self.generator = torch.Generator(device=device).manual_seed(seed)
        self.device = device

    def step(self) -> None:
        for buffer in self.buffers:
            buffer.normal_(generator=self.generator)


class AdamReplay(_Replay):
    """The trainers' optimiser (optim.make_adam) over parameters of `shapes` with fixed random gradients, one update
    per step."""

    def __init__(self, shapes: Sequence[Tuple[int, ...]], device: torch.device, seed: int = 0):
        from ..optim import make_adam

        g = torch.Generator().manual_seed(seed)
        self.parameters = [torch.nn.Parameter(torch.randn(shape, generator=g).to(device)) for shape in shapes]
        for p in self.parameters:
            p.grad = torch.randn(p.shape, generator=g).to(device)
        self.optimizer = make_adam(self.parameters, 1e-6, device)
        self.device = device

    def step(self) -> None:
        self.optimizer.step()


def _alternate(contenders: Dict[str, Callable[[int], float]], iterations: int, rounds: int) -> Dict[str, float]:
    """Each contender (k -> seconds of k steps) runs `iterations` steps in turn, `rounds` times, so that all see the
    same changes in the machine's load. -> each one's seconds per step, the median over the rounds (one round slowed
    by another process on the machine does not move it)."""
    seconds: Dict[str, List[float]] = {name: [] for name in contenders}
    for _ in range(rounds):
        for name, run in contenders.items():
            seconds[name].append(run(iterations) / iterations)
    return {name: statistics.median(values) for name, values in seconds.items()}


def _with_torch_ops(train: Callable[[int], float]) -> Optional[Callable[[int], float]]:
    """`train` with the torch ops in place of the C kernels (native/), or None where those do not run."""
    from .. import native

    if native.library() is None:
        return None

    def run(k: int) -> float:
        with native.disabled():
            return train(k)
    return run


def step_against_matmuls(train: Callable[[int], float], iterations: int, rounds: int, device: torch.device,
                         parameter_shapes: Sequence[Tuple[int, ...]]) -> dict:
    """`train(k)` runs k training steps and returns their seconds; `parameter_shapes` are its model's trained
    parameters'. Records one step's products and draws, then alternates `rounds` times: k = `iterations` steps, the
    same steps' products alone, their draws alone, as many Adam updates of such parameters, and, where the C kernels
    run on the CPU, k steps with the torch ops instead, for what the kernels gain.
    -> {"iterations", "rounds", "step_seconds", "matmul_seconds", "draw_seconds", "adam_seconds",
    "torch_ops_seconds" (per step, medians over the rounds; the last None without C kernels), "ratio" (step /
    products), "floor_ratio" ((products + draws + Adam) / products), "gflop_per_step", "matmul_gflops" (the rate the
    products ran at), "products_per_step", "draws_per_step", "values_drawn_per_step", "parameters"}."""
    step = record(lambda: train(1))
    replays = {"matmul": MatmulReplay(step.linears, device), "draw": DrawReplay(step.draws, device),
               "adam": AdamReplay(parameter_shapes, device)}
    for replay in replays.values():
        replay.run(2)  # warm-up: first touch of the operands, the BLAS threads awake, Adam's state
    torch_ops = _with_torch_ops(train) if device.type == "cpu" else None
    timed = _alternate({"step": train, **{name: r.run for name, r in replays.items()},
                        **({"torch_ops": torch_ops} if torch_ops else {})}, iterations, rounds)
    flops = replays["matmul"].flops_per_step
    return {"iterations": iterations, "rounds": rounds, "step_seconds": timed["step"],
            "matmul_seconds": timed["matmul"], "draw_seconds": timed["draw"], "adam_seconds": timed["adam"],
            "torch_ops_seconds": timed.get("torch_ops"), "ratio": timed["step"] / timed["matmul"],
            "floor_ratio": (timed["matmul"] + timed["draw"] + timed["adam"]) / timed["matmul"],
            "gflop_per_step": flops / 1e9, "matmul_gflops": flops / timed["matmul"] / 1e9,
            "products_per_step": sum(1 + c.input_grad + c.weight_grad for c in step.linears),
            "draws_per_step": len(step.draws), "values_drawn_per_step": sum(step.draws),
            "parameters": sum(math.prod(shape) for shape in parameter_shapes)}


def native_against_torch_ops(train: Callable[[int], float], iterations: int, rounds: int,
                             others: Optional[Dict[str, Callable[[int], float]]] = None) -> dict:
    """`train(k)` runs k training steps and returns their seconds: k steps with the C kernels (native/), k with the
    torch ops in their place, and k of each of `others` (name: another way to run the same steps), alternated
    `rounds` times. -> {"iterations", "rounds", "step_seconds", "torch_ops_seconds" (None without C kernels), and
    "<name>_seconds" for each of `others`: per step, medians over the rounds}."""
    torch_ops = _with_torch_ops(train)
    others = others or {}
    timed = _alternate({"step": train, **({"torch_ops": torch_ops} if torch_ops else {}), **others}, iterations,
                       rounds)
    return {"iterations": iterations, "rounds": rounds, "step_seconds": timed["step"],
            "torch_ops_seconds": timed.get("torch_ops"), **{f"{name}_seconds": timed[name] for name in others}}

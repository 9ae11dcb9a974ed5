"""checkpoints.validate: a checkpoint.pt that torch reads but that is not one this run's trainer could have written
(edited, replaced, or of another configuration) is refused by name, before any of torch's loaders sees it."""
from __future__ import annotations

import re

import pytest
import torch

from py_kernels import runs, safe_load
from py_kernels.errors import KernelInputError
from py_kernels.tests.test_runs_checkpoint import TENSORS, _create, store  # noqa: F401 (fixture)


def _edit_model(s):
    key = next(k for k in s["model"] if k.endswith("weight"))
    s["model"][key] = torch.zeros(3, 3)


def _drop_model_key(s):
    s["model"].pop(next(iter(s["model"])))


def _extra_model_key(s):
    s["model"]["layers.9.weight"] = torch.zeros(2)


def _cuda_rng(s):
    s["cuda_rng"] = "x"


def _first_optimizer_state(s):
    first = next(iter(s["optimizer"]["state"].values()))
    first["exp_avg"] = torch.zeros(2, 2)


# (name, how the checkpoint is edited, what the refusal says)
CASES = [
    ("wrong shape", _edit_model, r"model\['[^']+'\] of shape \(3, 3\), but the network built from the run's "
                                 r"config\.json has \("),
    ("missing model key", _drop_model_key, r"lacks model key\(s\) '"),
    ("extra model key", _extra_model_key, r"has model key\(s\) 'layers\.9\.weight' that the network"),
    ("no model", lambda s: s.pop("model"), r"is not a trainer checkpoint: it has no 'model'"),
    ("epoch not a number", lambda s: s.update(epoch="x"), r"has epoch = 'x', which is not an integer"),
    ("negative epoch", lambda s: s.update(epoch=-1), r"is at epoch -1, outside the run's 3 planned epochs"),
    ("epoch past the plan", lambda s: s.update(epoch=99), r"is at epoch 99, outside the run's 3 planned epochs"),
    ("rng of the wrong size", lambda s: s.update(torch_rng=torch.zeros(10, dtype=torch.uint8)),
     r"torch_rng state that is a torch\.uint8 tensor of shape \(10,\), a generator's state is a uint8 tensor of"),
    ("generator not bytes", lambda s: s.update(generator=torch.zeros(3)), r"has a generator state that is a"),
    ("cuda rng not a list", _cuda_rng, r"cuda_rng that is not a list of byte tensors"),
    ("no param groups", lambda s: s["optimizer"].update(param_groups=[]),
     r"has 0 optimizer parameter group\(s\), the trainer's Adam has 1"),
    ("optimizer state of the wrong shape", _first_optimizer_state,
     r"optimizer state\[0\]\['exp_avg'\] of shape \(2, 2\), but that parameter"),
    ("sampler past its data", lambda s: s["samplers"]["data"].update(pos=10 ** 6),
     r"samplers\['data'\] at position 1000000, outside 0\.\.100"),
    ("another seed", lambda s: s.update(seed=7), r"is seed 7's, but the run is seed 1 \(its config\.json and its "
                                                 r"folder seed-1\)"),
    ("another schedule", lambda s: s.update(lr=0.5), r"was trained with lr = 0\.5, but the run's config\.json gives "
                                                     r"lr = 0\.002"),
]


@pytest.mark.parametrize("name,edit,message", CASES, ids=[c[0] for c in CASES])
def test_an_edited_checkpoint_is_refused_by_name(tmp_path, store, name, edit, message):  # noqa: F811
    checkpoint = str(tmp_path / "checkpoint.pt")
    _create("written", store, "mlp")
    try:
        runs.epoch("written", checkpoint, None)
    finally:
        runs.close("written")
    state = safe_load.load(checkpoint, what="checkpoint", hint="")  # the project's one reader of torch files
    edit(state)
    torch.save(state, checkpoint)
    _create("resumed", store, "mlp")
    try:
        with pytest.raises(KernelInputError) as refused:
            runs.load_checkpoint("resumed", checkpoint)
    finally:
        runs.close("resumed")
    text = str(refused.value)
    assert text.startswith(f"checkpoint {checkpoint} "), text
    assert "delete it to train the run again from its first epoch" in text and "--fresh" in text
    assert re.search(message, text), text


def test_a_folder_in_the_checkpoints_place_is_named_as_one(tmp_path, store):  # noqa: F811
    checkpoint = tmp_path / "checkpoint.pt"
    checkpoint.mkdir()
    _create("resumed", store, "mlp")
    try:
        with pytest.raises(KernelInputError, match=r"checkpoint .*checkpoint\.pt is a folder, not a checkpoint file; "
                                                   r"delete it to train the run again"):
            runs.load_checkpoint("resumed", str(checkpoint))
    finally:
        runs.close("resumed")


def test_the_unedited_checkpoint_still_loads(tmp_path, store):  # noqa: F811
    checkpoint = str(tmp_path / "checkpoint.pt")
    for architecture in ("mlp", "ladder", "progressive"):
        _create("written", store, architecture)
        _create("resumed", store, architecture)
        try:
            runs.epoch("written", checkpoint, None)
            assert runs.load_checkpoint("resumed", checkpoint)["epoch"] == 1
        finally:
            runs.close("written")
            runs.close("resumed")


@pytest.mark.parametrize("threads", [1, 2], ids=["batched network", "seed threads"])
def test_seeds_trained_together_resume_from_their_checkpoints_and_refuse_an_edited_one(tmp_path, store, threads):  # noqa: F811
    from py_kernels import run_groups
    from py_kernels.tests.test_runs_checkpoint import MODELS, TRAINING

    def group(group_id):
        return run_groups.create(group_id, [MODELS["mlp"]] * 2, TRAINING, [1, 2],
                                 {k: TENSORS[k] for k in ("train_x", "train_y", "test_x", "test_y")},
                                 [{"train": "all", "labeled": "all", "validation": None}] * 2, None, store,
                                 torch.device("cpu"), threads=threads)

    paths = [str(tmp_path / f"seed-{seed}.pt") for seed in (1, 2)]
    group("written")
    try:
        run_groups.epoch("written", paths, None)
    finally:
        run_groups.close("written")
    group("resumed")
    try:
        assert run_groups.load_checkpoints("resumed", paths)["epoch"] == 1
    finally:
        run_groups.close("resumed")
    state = safe_load.load(paths[1], what="checkpoint", hint="")
    state["model"]["layers.0.weight"] = torch.zeros(3)
    torch.save(state, paths[1])
    group("edited")
    try:
        with pytest.raises(KernelInputError, match=rf"checkpoint {re.escape(paths[1])} has model\['layers\.0\.weight'\] "
                                                   rf"of shape \(3,\)"):
            run_groups.load_checkpoints("edited", paths)
    finally:
        run_groups.close("edited")

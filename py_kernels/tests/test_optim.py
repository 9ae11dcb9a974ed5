"""optim: CpuAdam takes torch.optim.Adam's steps (to float rounding), shares its state dict both ways, refuses what
it does not implement, and keeps a NaN in one seed's slice of a (K, ...) parameter."""
from __future__ import annotations

import pytest
import torch

from py_kernels.optim import CpuAdam


def _parameters(seed: int):
    g = torch.Generator().manual_seed(seed)
    return [torch.nn.Parameter(torch.randn(*shape, generator=g)) for shape in ((300, 70), (70,), (10, 3))]


def _gradients(params, step: int) -> None:
    g = torch.Generator().manual_seed(1000 + step)
    for p in params:
        p.grad = torch.randn(p.shape, generator=g) * (10.0 ** (step % 4 - 2))  # large and tiny gradients


def test_cpu_adam_follows_torch_adam_and_shares_its_state_dict():
    ours, theirs = _parameters(0), _parameters(0)
    opt_ours, opt_theirs = CpuAdam(ours, lr=0.002), torch.optim.Adam(theirs, lr=0.002)
    for step in range(40):
        _gradients(ours, step)
        _gradients(theirs, step)
        opt_ours.step()
        opt_theirs.step()
    for a, b in zip(ours, theirs):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)
    state = opt_theirs.state_dict()
    assert state["state"][0].keys() == opt_ours.state_dict()["state"][0].keys()
    # a checkpoint of either loads into the other and the next steps agree
    reloaded = CpuAdam(theirs, lr=0.002)
    reloaded.load_state_dict(state)
    back = torch.optim.Adam(ours, lr=0.002)
    back.load_state_dict(opt_ours.state_dict())
    _gradients(theirs, 99)
    _gradients(ours, 99)
    reloaded.step()
    back.step()
    for a, b in zip(ours, theirs):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)


def test_cpu_adam_refuses_what_it_does_not_implement():
    opt = CpuAdam(_parameters(1), lr=0.002)
    opt.param_groups[0]["amsgrad"] = True
    with pytest.raises(ValueError, match="amsgrad=True.*use torch.optim.Adam"):
        opt.step()


def test_a_nan_in_one_seeds_slice_stays_there():
    p = torch.nn.Parameter(torch.zeros(3, 20, 5))   # (K seeds, out, in)
    opt = CpuAdam([p], lr=0.002)
    for step in range(3):
        p.grad = torch.ones_like(p)
        if step == 1:
            p.grad[1, 4, 2] = float("nan")
        opt.step()
    assert torch.isfinite(p[0]).all() and torch.isfinite(p[2]).all()
    assert torch.equal(p[0], p[2])
    assert not torch.isfinite(p[1]).all()

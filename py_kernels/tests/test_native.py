"""native: the C kernels give the torch versions' values and gradients (to float rounding; max pooling bit for bit),
draw the same noise, keep one block's NaN in its block, take torch.optim.Adam's steps, and when they cannot be built
the kernel says why and runs the torch versions."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import pytest
import torch

from py_kernels import native
from py_kernels.models.columns.pooling import max_pool_2x2
from py_kernels.models.ladder_ops import combinator, normalise_groups
from py_kernels.optim import CpuAdam
from py_kernels.paths import REPO_ROOT

pytestmark = pytest.mark.skipif(shutil.which("cc") is None and not os.environ.get("CC"), reason="no C compiler")


def test_the_kernels_build_here():
    assert native.status()["available"], native.status()
    assert native.library() is not None
    with native.disabled():
        assert native.library() is None


def _both(fn):
    """fn() with the C kernels and with the torch versions."""
    ours = fn()
    with native.disabled():
        theirs = fn()
    return ours, theirs


def _normalise_with_grads(z, noisy, seeds, drop):
    """Forward and backward of normalise_groups; `drop` names the outputs that get no gradient."""
    z = z.detach().clone().requires_grad_()
    gens = tuple(torch.Generator().manual_seed(s) for s in seeds)
    out, mean, inv, var = normalise_groups(z, 1e-10, 0.3 if noisy else 0.0, noisy, gens)
    w = torch.Generator().manual_seed(7)
    loss = sum((o * torch.randn(o.shape, generator=w)).sum()
               for name, o in (("out", out), ("mean", mean), ("inv", inv)) if name not in drop)
    loss.backward()
    return out.detach(), mean.detach(), inv.detach(), var, z.grad


@pytest.mark.parametrize("positions", [(), (49,), (5,)])  # vectors; feature maps, with and without a ragged tail
@pytest.mark.parametrize("noisy,drop", [(0, ()), (2, ()), (2, ("mean", "inv")), (0, ("out",))])
def test_normalise_groups_in_c_matches_the_torch_version(noisy, drop, positions):
    z = torch.randn(2, 3, 100, 37, *positions, generator=torch.Generator().manual_seed(1)) * 4 + 2
    ours, theirs = _both(lambda: _normalise_with_grads(z, noisy, (5, 6), drop))
    for a, b in zip(ours, theirs):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("positions", [(), (49,)])  # vectors, feature maps
def test_normalise_groups_in_c_gives_the_same_bits_on_any_number_of_threads(positions):
    """The kernels split channels over torch's threads (a conv model's run has every core, cpu_threads.py); each
    channel's sums stay in one thread, in order. Groups of 100 x 700 (x 49) values are large enough to be split."""
    z = torch.randn(1, 3, 100, 700, *positions, generator=torch.Generator().manual_seed(2))
    before = torch.get_num_threads()
    results = []
    try:
        for threads in (1, 2, 3):
            torch.set_num_threads(threads)
            results.append(_normalise_with_grads(z, 2, (5,), ()))
    finally:
        torch.set_num_threads(before)
    for other in results[1:]:
        for a, b in zip(results[0], other):
            assert torch.equal(a, b)


def _bits(t: torch.Tensor) -> torch.Tensor:
    return t.view(torch.int32)  # torch.equal calls -0 and +0 equal, and NaN unequal to itself


@pytest.mark.parametrize("shape", [(4, 32, 28, 28), (3, 2, 7, 9)])  # the conv column's first pool; odd sizes (floor)
def test_max_pooling_in_c_is_torchs_bit_for_bit_on_any_number_of_threads(shape):
    """The same maxima and the gradient at the same places as F.max_pool2d(h, 2), where the choice matters: ties
    (the ReLU's zeros, equal values: the first in row order), NaNs (taken over anything), -inf windows, a -0
    gradient (torch adds it to zeros: +0)."""
    g = torch.Generator().manual_seed(3)
    h = torch.randn(shape, generator=g).relu_()
    h[0, 0, 0, :2] = float("nan")
    h[0, 1, 2:4, 2:4] = float("-inf")
    h[0, 1, 4, 4] = h[0, 1, 4, 5] = h[0, 1, 5, 4] = 5.0
    h[1, 0, 0, 1] = float("nan")
    grad = torch.randn(shape[0], shape[1], shape[2] // 2, shape[3] // 2, generator=g)
    grad[0, 0, 1, 1] = -0.0

    def pooled(pool):
        x = h.clone().requires_grad_()
        out = pool(x)
        out.backward(grad)
        return out.detach(), x.grad

    expected = pooled(lambda x: torch.nn.functional.max_pool2d(x, 2))
    before = torch.get_num_threads()
    try:
        for threads in (1, 2, 3):
            torch.set_num_threads(threads)
            ours = pooled(max_pool_2x2)
            for a, b in zip(ours, expected):
                assert torch.equal(_bits(a), _bits(b)), threads
    finally:
        torch.set_num_threads(before)


def _combinator_with_grads(z, u, a):
    z, u, a = (t.detach().clone().requires_grad_() for t in (z, u, a))
    out = combinator(z, u, a)
    (out * torch.randn(out.shape, generator=torch.Generator().manual_seed(3))).sum().backward()
    return out.detach(), z.grad, u.grad, a.grad


def _strided(shape, g):
    """A (3, 50, 16)-shaped view that is not contiguous: every other slice of a wider tensor."""
    wide = torch.randn(shape[0], 2, *shape[1:], generator=g)
    view = wide[:, 0]
    assert not view.is_contiguous()
    return view


@pytest.mark.parametrize("lead,strided", [((), False), ((3,), False), ((3,), True)])
def test_the_combinator_in_c_matches_the_torch_version(lead, strided):
    """Unbatched and batched; a strided input is copied, not misread."""
    g = torch.Generator().manual_seed(2)
    make = (lambda *shape: _strided(shape, g)) if strided else (lambda *shape: torch.randn(*shape, generator=g))
    z, u = make(*lead, 100, 29), make(*lead, 100, 29)
    a = torch.randn(*lead, 10, 29, generator=g)
    ours, theirs = _both(lambda: _combinator_with_grads(z, u, a))
    for x, y in zip(ours, theirs):
        torch.testing.assert_close(x, y, rtol=1e-4, atol=1e-4)


def test_a_nan_in_one_block_stays_in_that_block():
    g = torch.Generator().manual_seed(5)
    z = torch.randn(3, 1, 40, 8, generator=g)
    z[1, 0, 3, 2] = float("nan")
    out, mean, inv, _, grad = _normalise_with_grads(z, 0, (), ())
    assert torch.isnan(out[1]).any() and torch.isnan(grad[1]).any()
    for block in (0, 2):
        assert torch.isfinite(out[block]).all() and torch.isfinite(grad[block]).all()
    zc, uc = torch.randn(3, 40, 8, generator=g), torch.randn(3, 40, 8, generator=g)
    a = torch.randn(3, 10, 8, generator=g)
    uc[2, 0, 0] = float("nan")
    out, gz, gu, ga = _combinator_with_grads(zc, uc, a)
    assert torch.isnan(out[2]).any() and torch.isnan(ga[2]).any()
    for t in (out, gz, gu, ga):
        assert torch.isfinite(t[:2]).all()


def test_adam_in_c_follows_torch_adam():
    g = torch.Generator().manual_seed(6)
    start = [torch.randn(*shape, generator=g) for shape in ((300, 70), (70,), (4, 10, 3))]
    ours = [torch.nn.Parameter(t.clone()) for t in start]
    theirs = [torch.nn.Parameter(t.clone()) for t in start]
    opt_ours, opt_theirs = CpuAdam(ours, lr=0.002), torch.optim.Adam(theirs, lr=0.002)
    for step in range(30):
        for p, q in zip(ours, theirs):
            p.grad = torch.randn(p.shape, generator=g) * 10.0 ** (step % 4 - 2)
            q.grad = p.grad.clone()
        opt_ours.step()
        opt_theirs.step()
    for p, q in zip(ours, theirs):
        torch.testing.assert_close(p, q, rtol=1e-5, atol=1e-6)
        torch.testing.assert_close(opt_ours.state[p]["exp_avg_sq"], opt_theirs.state[q]["exp_avg_sq"], rtol=1e-4, atol=1e-9)


def _status_in_a_fresh_process(env: dict) -> dict:
    code = "import json; from py_kernels import native, device; import torch; " \
           "print(json.dumps([native.status(), device.fused_ops(torch.device('cpu'))]))"
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO_ROOT, env={**os.environ, **env}, capture_output=True,
                          text=True, timeout=120, check=True)
    return json.loads(done.stdout)


def test_switched_off_or_unbuildable_the_kernel_says_so_and_uses_torch():
    status, summary = _status_in_a_fresh_process({"PLADDER_NATIVE": "0"})
    assert status == {"available": False, "reason": "PLADDER_NATIVE=0"}
    assert summary == "torch ops: PLADDER_NATIVE=0"
    status, summary = _status_in_a_fresh_process({"CC": "/bin/false"})
    # a fresh compiler identity means a fresh cache key, so this really tries to build, and fails
    assert status["available"] is False and "could not build fused_ops.c with /bin/false" in status["reason"]
    assert summary.startswith("torch ops: could not build")

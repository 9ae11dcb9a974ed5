"""ladder_ops: the fused batch normalisation and combinator give the op-by-op values and gradients (float64
gradcheck, and against the plain formulas in float32), draw the corrupted path's noise as randn does, and keep one
block's NaN out of the others."""
from __future__ import annotations

import pytest
import torch

from py_kernels.models.ladder_ops import combinator, normalise_groups


def _plain_normalise(z: torch.Tensor, eps: float):
    """The op-by-op reference: z (B, S, n, C) -> out, mean, inv, var (statistics (B, S, C))."""
    var, mean = torch.var_mean(z, dim=2, correction=0, keepdim=True)
    inv = torch.rsqrt(var + eps)
    return (z - mean) * inv, mean.squeeze(2), inv.squeeze(2), var.squeeze(2)


def _plain_combinator(z: torch.Tensor, u: torch.Tensor, a: torch.Tensor) -> torch.Tensor:
    a1, a2, a3, a4, a5, a6, a7, a8, a9, a10 = a.unsqueeze(-2).unbind(-3)
    mu = a1 * torch.sigmoid(a2 * u + a3) + a4 * u + a5
    v = a6 * torch.sigmoid(a7 * u + a8) + a9 * u + a10
    return (z - mu) * v + mu


@pytest.mark.parametrize("positions", [(), (3,)])  # vectors, feature maps
def test_normalise_groups_passes_gradcheck_through_out_mean_and_inv(positions):
    g = torch.Generator().manual_seed(0)
    z = torch.randn(2, 3, 5, 4, *positions, generator=g, dtype=torch.float64, requires_grad=True)

    def f(z):
        out, mean, inv, _ = normalise_groups(z, 1e-10)
        return out, mean, inv

    assert torch.autograd.gradcheck(f, (z,))


def test_normalise_groups_matches_the_plain_formulas_in_float32():
    g = torch.Generator().manual_seed(1)
    z = (torch.randn(1, 3, 100, 50, generator=g) * 3 + 1).requires_grad_()
    weights = [torch.randn(1, 3, 100, 50, generator=g), torch.randn(1, 3, 50, generator=g),
               torch.randn(1, 3, 50, generator=g)]
    grads, values = [], []
    for fn in (lambda z: normalise_groups(z, 1e-10), lambda z: _plain_normalise(z, 1e-10)):
        z.grad = None
        out, mean, inv, var = fn(z)
        sum((o * w).sum() for o, w in zip((out, mean, inv), weights)).backward()
        grads.append(z.grad.clone())
        values.append((out, mean, inv, var))
    for ours, plain in zip(*values):
        torch.testing.assert_close(ours, plain, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(grads[0], grads[1], rtol=1e-4, atol=1e-5)


def test_the_noise_is_randn_of_the_corrupted_rows_from_each_blocks_generator():
    z = torch.randn(2, 3, 20, 8)
    out = normalise_groups(z, 1e-10, 0.3, 2, (torch.Generator().manual_seed(5), torch.Generator().manual_seed(6)))[0]
    clean = _plain_normalise(z, 1e-10)[0]
    for block, seed in ((0, 5), (1, 6)):
        noise = torch.randn((2 * 20, 8), generator=torch.Generator().manual_seed(seed)).mul_(0.3).view(2, 20, 8)
        torch.testing.assert_close(out[block, :2], clean[block, :2] + noise, rtol=1e-5, atol=1e-5)
        torch.testing.assert_close(out[block, 2], clean[block, 2], rtol=1e-5, atol=1e-5)


def test_combinator_passes_gradcheck_and_matches_the_plain_formulas():
    g = torch.Generator().manual_seed(2)
    double = [torch.randn(*shape, generator=g, dtype=torch.float64, requires_grad=True)
              for shape in ((2, 5, 3), (2, 5, 3), (2, 10, 3))]
    assert torch.autograd.gradcheck(combinator, double)
    single = [torch.randn(100, 40, generator=g).requires_grad_(), torch.randn(100, 40, generator=g).requires_grad_(),
              (torch.randn(10, 40, generator=g) * 0.5).requires_grad_()]
    upstream = torch.randn(100, 40, generator=g)
    results = []
    for fn in (combinator, _plain_combinator):
        for t in single:
            t.grad = None
        out = fn(*single)
        out.backward(upstream)
        results.append([out.detach()] + [t.grad.clone() for t in single])
    for ours, plain in zip(*results):
        torch.testing.assert_close(ours, plain, rtol=1e-5, atol=1e-5)


def test_a_nan_in_one_block_stays_in_that_block():
    g = torch.Generator().manual_seed(3)
    z = torch.randn(3, 3, 10, 6, generator=g)
    z[1, 0, 4, 2] = float("nan")
    z.requires_grad_()
    out, mean, inv, _ = normalise_groups(z, 1e-10, 0.3, 2, [torch.Generator().manual_seed(i) for i in range(3)])
    u = torch.randn(3, 10, 6, generator=g, requires_grad=True)
    a = torch.randn(3, 10, 6, generator=g, requires_grad=True)
    z_hat = combinator(out[:, 1], u, a)
    (z_hat.sum() + mean.sum() + inv.sum()).backward()
    for block in (0, 2):
        for t in (out[block], mean[block], inv[block], z_hat[block], z.grad[block], u.grad[block], a.grad[block]):
            assert torch.isfinite(t).all()
    assert not torch.isfinite(z.grad[1]).all()

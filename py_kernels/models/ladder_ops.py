"""The ladder step's element-wise work as single autograd nodes: batch normalisation of row groups (with the corrupted
path's noise) and the vanilla combinator.

Why: on the CPU, torch 1.13 builds these from a dozen small ops each (var_mean's Welford reduction over the batch
alone cost 2.5 ms on a (3, 100, 1000) block), and each op allocates and walks the tensor again. Written out with their
closed-form backward they take a few passes over the data. The numbers are the same as the op-by-op versions up to
float rounding (tests/test_ladder_ops.py holds them to a float64 reference and to gradcheck).

On float32 CPU tensors both run as C (native/fused_ops.c, one or two passes each) when it is built; the torch versions
below are the fallback and the CUDA path.

Both work on a leading "block" dimension B: one seed's network has B = 1, a batch of K seeds trained as one module
(batched_ladder.py) has B = K; the blocks never mix (no reduction runs across them), so one seed's NaN stays in its
block.
"""
from __future__ import annotations

from typing import Optional, Sequence, Tuple

import torch

from .. import native


class _NormaliseGroups(torch.autograd.Function):
    """z (B, S, n, C, P) -> out (B, S, n, C, P), mean (B, S, C), inv (B, S, C), var (B, S, C): each (block, group)
    normalised per channel over its n rows and P positions (P = 1 for vectors, H * W for feature maps) with its own
    statistics, out = (z - mean) * inv, inv = 1 / sqrt(var + eps), var biased; then noise N(0, std^2) added to the
    first `noisy` groups of every block, block b's drawn from generators[b] as one (noisy * n, C, P) draw. Gradients
    flow to z through out, mean and inv (a ladder's denoising cost uses the clean group's mean and inv); var is for
    the running averages only."""

    @staticmethod
    def forward(ctx, z: torch.Tensor, eps: float, std: float, noisy: int,
                generators: Sequence[Optional[torch.Generator]]):
        lib = native.usable(z)
        if lib is not None:
            return _NormaliseGroups._native_forward(ctx, lib, z.contiguous(), eps, std, noisy, generators)
        mean = z.mean((2, 4), keepdim=True)                             # (B, S, 1, C, 1)
        xhat = z - mean                                                 # (B, S, n, C, P)
        var = torch.mean(xhat * xhat, (2, 4), keepdim=True)             # (B, S, 1, C, 1)
        inv = (var + eps).rsqrt_()
        xhat.mul_(inv)
        ctx.save_for_backward(xhat, inv)
        if std > 0 and noisy > 0:
            out = torch.empty_like(xhat)
            for b in range(z.shape[0]):
                # the same numbers as randn((noisy * n, C, P), generator) * std: normal_ draws in that order
                out[b, :noisy].normal_(0.0, std, generator=generators[b]).add_(xhat[b, :noisy])
            out[:, noisy:] = xhat[:, noisy:]
        else:
            out = xhat.clone()  # xhat is saved for backward; the caller may write into out
        var = var.flatten(2)
        ctx.mark_non_differentiable(var)
        return out, mean.flatten(2), inv.flatten(2), var

    @staticmethod
    def _native_forward(ctx, lib, z, eps, std, noisy, generators):
        B, S, n, C, P = z.shape
        xhat, out = torch.empty_like(z), torch.empty_like(z)
        mean, inv, var = (z.new_empty((B, S, C)) for _ in range(3))
        noisy = noisy if std > 0 else 0
        for b in range(B if noisy > 0 else 0):  # drawn into out, as the torch version draws them
            out[b, :noisy].normal_(0.0, std, generator=generators[b])
        lib.normalise_forward(torch.get_num_threads(), B * S, S, noisy, n, C, P, eps,
                              *map(native.ptr, (z, xhat, out, mean, inv, var)))
        ctx.save_for_backward(xhat, inv.view(B, S, 1, C, 1))
        ctx.mark_non_differentiable(var)
        return out, mean, inv, var

    @staticmethod
    def backward(ctx, g_out, g_mean, g_inv, _g_var):
        xhat, inv = ctx.saved_tensors                                   # (B, S, n, C, P), (B, S, 1, C, 1)
        B, S, n, C, P = xhat.shape
        lib = native.usable(xhat)
        if lib is not None:
            g_out, g_mean, g_inv = (None if t is None else t.contiguous() for t in (g_out, g_mean, g_inv))
            g_z = torch.empty_like(xhat)
            lib.normalise_backward(torch.get_num_threads(), B * S, n, C, P,
                                   *map(native.ptr, (g_out, xhat, inv, g_mean, g_inv, g_z)))
            return g_z, None, None, None, None
        if g_out is None:
            g_out = torch.zeros_like(xhat)
        m = n * P  # values per (block, group, channel)
        # d/dz of out: inv * (g - mean(g) - xhat * mean(g * xhat)); of mean: g_mean / m; of inv (= (var+eps)^-1/2,
        # dvar/dz = 2 xhat / (m inv)): -g_inv * inv^2 * xhat / m.
        shift = g_out.mean((2, 4), keepdim=True).mul_(inv).neg_()            # (B, S, 1, C, 1)
        slope = (g_out * xhat).mean((2, 4), keepdim=True).mul_(inv).neg_()   # (B, S, 1, C, 1)
        if g_mean is not None:
            shift.add_(g_mean.view(B, S, 1, C, 1), alpha=1.0 / m)
        if g_inv is not None:
            slope.sub_(g_inv.view(B, S, 1, C, 1) * inv * inv, alpha=1.0 / m)
        g_z = torch.addcmul(shift, g_out, inv)
        g_z.addcmul_(xhat, slope)
        return g_z, None, None, None, None


def normalise_groups(z: torch.Tensor, eps: float, std: float = 0.0, noisy: int = 0,
                     generators: Sequence[Optional[torch.Generator]] = ()
                     ) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """z (B, S, n, C) of vectors or (B, S, n, C, P) of feature maps with P positions -> (out shaped like z, mean
    (B, S, C), inv (B, S, C), var (B, S, C)); see `_NormaliseGroups`. With noise, `generators` has one entry per block
    (None: the global generator)."""
    if z.dim() not in (4, 5):
        raise ValueError(f"normalise_groups takes z (blocks, groups, rows, channels[, positions]), got shape "
                         f"{tuple(z.shape)}")
    if std > 0 and noisy > 0 and len(generators) != z.shape[0]:
        raise ValueError(f"normalise_groups needs one generator per block ({z.shape[0]}), got {len(generators)}")
    out, mean, inv, var = _NormaliseGroups.apply(z if z.dim() == 5 else z.unsqueeze(-1), float(eps), float(std),
                                                 int(noisy), tuple(generators))
    return out.view(z.shape), mean, inv, var


def normalise_rows(z: torch.Tensor, groups: int, eps: float, std: float = 0.0, noisy: int = 0,
                   generator: Optional[torch.Generator] = None
                   ) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """z (groups * n, C, *positions), one network's rows as `groups` equal groups -> (out shaped like z, mean
    (groups, C), inv (groups, C), var (groups, C)): `normalise_groups` with one block, each group normalised per
    channel over its rows and positions, noise from `generator` in the first `noisy` groups."""
    grouped = z.reshape(1, groups, z.shape[0] // groups, z.shape[1], z[0, 0].numel())
    out, mean, inv, var = normalise_groups(grouped, eps, std, noisy, (generator,))
    return out.view(z.shape), mean[0], inv[0], var[0]


class _Combinator(torch.autograd.Function):
    """The vanilla combinator z_hat = (z - mu) * v + mu, mu = a1 s1 + a4 u + a5, s1 = sigmoid(a2 u + a3),
    v = a6 s2 + a9 u + a10, s2 = sigmoid(a7 u + a8): z, u (..., n, C), a (..., 10, C) -> z_hat (..., n, C)."""

    @staticmethod
    def forward(ctx, z: torch.Tensor, u: torch.Tensor, a: torch.Tensor):
        a1, a2, a3, a4, a5, a6, a7, a8, a9, a10 = a.unsqueeze(-2).unbind(-3)   # each (..., 1, C)
        s1 = torch.addcmul(a3, a2, u).sigmoid_()
        s2 = torch.addcmul(a8, a7, u).sigmoid_()
        lib = native.usable(z, u, a)
        ctx.lib = lib if z.shape == u.shape and a.shape[:-2] == z.shape[:-2] else None
        if ctx.lib is not None:  # the sigmoids stay torch's (vectorised); the rest is one pass
            z, u, a = z.contiguous(), u.contiguous(), a.contiguous()
            out = torch.empty_like(z)
            lib.combinator_forward(*_blocks(z), *map(native.ptr, (z, u, a, s1, s2, out)))
            ctx.save_for_backward(z, u, a, s1, s2)
            return out
        mu = torch.addcmul(a5, a4, u).addcmul_(a1, s1)
        v = torch.addcmul(a10, a9, u).addcmul_(a6, s2)
        d = z - mu
        ctx.save_for_backward(u, a, s1, s2, v, d)
        return torch.addcmul(mu, d, v)

    @staticmethod
    def backward(ctx, g: torch.Tensor):
        if ctx.lib is not None:
            z, u, a, s1, s2 = ctx.saved_tensors
            g = g.contiguous()
            g_z, g_u, g_a = torch.empty_like(z), torch.empty_like(z), torch.empty_like(a)
            ctx.lib.combinator_backward(*_blocks(z), *map(native.ptr, (g, z, u, a, s1, s2, g_z, g_u, g_a)))
            return g_z, g_u, g_a
        u, a, s1, s2, v, d = ctx.saved_tensors
        a1, a2, _, a4, _, a6, a7, _, a9, _ = a.unsqueeze(-2).unbind(-3)
        # terms[i] (..., n, C): the gradient of a(i+1) is its sum over the n rows
        terms = torch.empty((10, *g.shape), dtype=g.dtype, device=g.device)
        g_z = g * v
        g_mu = torch.sub(g, g_z, out=terms[4])                                  # a5: g (1 - v)
        g_v = torch.mul(g, d, out=terms[9])                                     # a10
        t1 = torch.mul(g_mu, s1, out=terms[0])                                  # a1
        q1 = torch.addcmul(t1, t1, s1, value=-1.0, out=terms[2]).mul_(a1)      # a3: g_mu a1 s1 (1 - s1)
        torch.mul(q1, u, out=terms[1])                                          # a2
        torch.mul(g_mu, u, out=terms[3])                                        # a4
        t6 = torch.mul(g_v, s2, out=terms[5])                                   # a6
        q2 = torch.addcmul(t6, t6, s2, value=-1.0, out=terms[7]).mul_(a6)      # a8
        torch.mul(q2, u, out=terms[6])                                          # a7
        torch.mul(g_v, u, out=terms[8])                                         # a9
        g_a = terms.sum(-2).movedim(0, -2)                                      # (..., 10, C)
        g_u = (q1 * a2).addcmul_(g_mu, a4).addcmul_(q2, a7).addcmul_(g_v, a9)
        return g_z, g_u, g_a


def _blocks(x: torch.Tensor) -> Tuple[int, int, int]:
    """x (..., n, C) -> (blocks, n, C) for the C kernels."""
    return x[..., 0, 0].numel(), x.shape[-2], x.shape[-1]


def combinator(z_tilde: torch.Tensor, u: torch.Tensor, a: torch.Tensor) -> torch.Tensor:
    """z_tilde, u (..., n, C), a (..., 10, C) (rows a1..a10) -> z_hat (..., n, C); see `_Combinator`."""
    return _Combinator.apply(z_tilde, u, a)

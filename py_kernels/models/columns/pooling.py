"""The conv columns' 2x2 max pooling (stride 2) as one autograd node, in C on the CPU.

Why: torch 1.13's CPU max_pool2d on NCHW maps does not vectorise; it took about 18 ms of the conv Gamma-model's
300 ms step for one (300, 32, 28, 28) block, where the C kernel (native/fused_ops.c) takes one pass. It picks the
value each window takes as torch's kernel does (the first maximum in row order, a NaN over anything), so values and
gradients are torch's bit for bit (tests/test_native.py). On CUDA, and without the C kernels, F.max_pool2d runs.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from ... import native


class _MaxPool2x2(torch.autograd.Function):
    """h (B, C, H, W) -> (B, C, H // 2, W // 2), each 2x2 window's maximum; the window offset each took is kept as
    one byte per output for the backward."""

    @staticmethod
    def forward(ctx, h: torch.Tensor) -> torch.Tensor:
        lib = native.library()
        h = h.contiguous()
        B, C, H, W = h.shape
        out = h.new_empty((B, C, H // 2, W // 2))
        taken = torch.empty(out.shape, dtype=torch.uint8)
        lib.max_pool_2x2_forward(torch.get_num_threads(), B * C, H, W, *map(native.ptr, (h, out, taken)))
        ctx.save_for_backward(taken)
        ctx.in_shape = (B, C, H, W)
        return out

    @staticmethod
    def backward(ctx, g_out: torch.Tensor) -> torch.Tensor:
        (taken,) = ctx.saved_tensors
        B, C, H, W = ctx.in_shape
        g_out = g_out.contiguous()
        g_in = g_out.new_empty((B, C, H, W))
        native.library().max_pool_2x2_backward(torch.get_num_threads(), B * C, H, W,
                                               *map(native.ptr, (g_out, taken, g_in)))
        return g_in


def max_pool_2x2(h: torch.Tensor) -> torch.Tensor:
    """F.max_pool2d(h, 2) for h (B, C, H, W): the C kernel on float32 CPU tensors where it is built."""
    if native.usable(h) is None or h.dim() != 4:
        return F.max_pool2d(h, 2)
    return _MaxPool2x2.apply(h)

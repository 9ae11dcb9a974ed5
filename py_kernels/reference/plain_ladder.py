"""The ladder recipe written the plain way (separate clean and corrupted passes, no fusing, default thread settings
left to the caller): the baseline `pladder bench` compares the project's ladder with. Not used for training."""
from __future__ import annotations

import math
import time

import torch
import torch.nn.functional as F
from torch import nn

EPS = 1e-10


def batch_normalise(z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    mean, var = z.mean(0), z.var(0, unbiased=False)
    return (z - mean) / torch.sqrt(var + EPS), mean, var


class PlainLadder(nn.Module):
    """The recipe's numbers (widths, noise, denoising weights) are the experiment's, passed in from TypeScript."""

    def __init__(self, widths: list, noise_std: float, denoising_weights: list) -> None:
        super().__init__()
        self.widths, self.noise_std, self.denoising_weights = tuple(widths), noise_std, tuple(denoising_weights)
        layers = len(widths) - 1
        self.encoder = nn.ModuleList(nn.Linear(widths[l], widths[l + 1], bias=False) for l in range(layers))
        self.decoder = nn.ModuleList(nn.Linear(widths[l + 1], widths[l], bias=False) for l in range(layers))
        for linear in [*self.encoder, *self.decoder]:
            nn.init.normal_(linear.weight, std=1 / math.sqrt(linear.in_features))
        self.beta = nn.ParameterList(nn.Parameter(torch.zeros(widths[l + 1])) for l in range(layers))
        self.gamma = nn.Parameter(torch.ones(widths[-1]))
        combinators = []
        for width in widths:
            a = torch.zeros(10, width)
            a[1] = a[6] = 1.0  # a2 = a7 = 1, the rest 0
            combinators.append(nn.Parameter(a))
        self.combinator = nn.ParameterList(combinators)

    def encode(self, x: torch.Tensor, labeled: int, noise: float):
        h = x + noise * torch.randn_like(x)
        zs, means, variances = [h], [None], [None]
        for l, linear in enumerate(self.encoder):
            pre = linear(h)
            z_labeled, _, _ = batch_normalise(pre[:labeled])
            z_unlabeled, mean, var = batch_normalise(pre[labeled:])
            z = torch.cat([z_labeled, z_unlabeled]) + noise * torch.randn_like(pre)
            zs.append(z)
            means.append(mean)
            variances.append(var)
            top = l == len(self.encoder) - 1
            h = torch.softmax(self.gamma * (z + self.beta[l]), 1) if top else torch.relu(z + self.beta[l])
        return h, zs, means, variances

    def cost(self, x_labeled: torch.Tensor, y_labeled: torch.Tensor, x_unlabeled: torch.Tensor) -> torch.Tensor:
        labeled = x_labeled.shape[0]
        x = torch.cat([x_labeled, x_unlabeled])
        _, z_clean, means, variances = self.encode(x, labeled, 0.0)
        y_noisy, z_noisy, _, _ = self.encode(x, labeled, self.noise_std)
        total = F.nll_loss(torch.log(y_noisy[:labeled] + 1e-10), y_labeled)
        z_hat = None
        for l in range(len(self.widths) - 1, -1, -1):
            u = y_noisy[labeled:] if l == len(self.widths) - 1 else self.decoder[l](z_hat)
            u, _, _ = batch_normalise(u)
            a = self.combinator[l]
            mu = a[0] * torch.sigmoid(a[1] * u + a[2]) + a[3] * u + a[4]
            v = a[5] * torch.sigmoid(a[6] * u + a[7]) + a[8] * u + a[9]
            z_hat = (z_noisy[l][labeled:] - mu) * v + mu
            z_hat_bn = z_hat if l == 0 else (z_hat - means[l]) / torch.sqrt(variances[l] + EPS)
            total = total + self.denoising_weights[l] * F.mse_loss(z_hat_bn, z_clean[l][labeled:])
        return total


def seconds_per_iteration(x: torch.Tensor, y: torch.Tensor, labeled: torch.Tensor, iterations: int, model: dict,
                          learning_rate: float, batch: int = 100) -> float:
    """Adam steps of 100 labeled + 100 unlabeled images; the first 5 are warm-up and not timed."""
    torch.manual_seed(0)
    ladder = PlainLadder(model["widths"], model["noise_std"], model["denoising_weights"]).to(x.device)
    optimiser = torch.optim.Adam(ladder.parameters(), lr=learning_rate)
    x_labeled, y_labeled = x[labeled], y[labeled]
    started = 0.0
    for step in range(iterations + 5):
        if step == 5:
            started = time.perf_counter()
        rows = torch.randint(0, x.shape[0], (batch,), device=x.device)
        loss = ladder.cost(x_labeled, y_labeled, x[rows])
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
    return (time.perf_counter() - started) / iterations

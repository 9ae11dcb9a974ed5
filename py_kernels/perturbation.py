"""The measurement behind Average Perturbation Sensitivity (the paper's Figure 6, after Rusu et al. 2016, Appendix A):
the test accuracy of a trained progressive network when Gaussian noise is added to the output of one layer.

A site is (column k, layer l): l = 0 the column's copy of x, 1..L-1 a hidden layer's post-ReLU output h_l, L the
column's logits. The noise is added to that one tensor at test time (eval mode, batch norm on its running statistics);
the noisy h_l flows into the column's layer l + 1 and into every lateral that reads h_l, and every other layer output
is the clean one (ProgressiveNetwork.forward_perturbed). Frozen columns are only read, never changed.

For each site, each of its variances sigma^2 (a level) and each of `draws` noise draws, the accuracy over the whole of
x is measured; what APS makes of them (the variance at which accuracy halves, its reciprocal, the normalisation over
columns) is TypeScript's.

Scales (design.md: say which one a figure uses):
    raw       noise std = sqrt(sigma^2) for every unit: the activations' own scale (the paper's author's code).
    relative  noise std of unit u = sqrt(sigma^2) * s_u, where s_u is the population standard deviation of that unit's
              clean output over x, measured once per call (Rusu et al., Appendix A). A unit whose clean output does
              not vary over x (a dead ReLU, always 0) has s_u = 0 and gets no noise.
In both, noise = z * std with z ~ N(0, 1), std a float32 tensor (per unit, or one value), float32(sqrt(sigma^2)) times
s_u for "relative".

Seeding: draw d of level i (the index into the site's variance list) at site (k, l) takes its z from its own CPU
`torch.Generator`, seeded with `noise_seed(seed, k, l, i, d)` = the first 64-bit word of
numpy.random.SeedSequence([seed, k, l, i, d]), shifted right by one bit (a non-negative int64). That generator gives
z for the test batches in order, one `torch.randn((rows, *shape))` per batch of BATCH_ROWS rows of x (the last one
shorter). So the noise is the same on every device (drawn on the CPU, then moved), the same call gives the same
numbers (bit for bit on the same device and software, as training does), a site's numbers do not depend on the other
sites asked or their order, and a different seed gives independent noise.

Cost: the clean pass once per batch, then per (site, level, draw) only the layers the site's output reaches
(ProgressiveNetwork.forward_perturbed), up to MAX_ROWS perturbed rows per pass.

Shortcuts that change no number: a site whose noise cannot reach the output (`reaches_output` false: no path of
layers and laterals to the logits) is not computed, and neither is a level whose std is 0 for every unit (variance 0,
or every unit dead in "relative"): both are the clean network, so their accuracy is the clean accuracy.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, List, Optional, Sequence, Tuple

import numpy as np
import torch

from .errors import KernelInputError
from .models.progressive import ProgressiveNetwork
from .models.view_inputs import Input
from .progress import Progress, ProgressSink
from .training import _check_xy

BATCH_ROWS = 2000   # rows of x per forward pass; part of the seeding contract (the noise is drawn batch by batch)
MAX_ROWS = 8000     # perturbed rows per pass: several (level, draw) copies of a batch go through the network at once
SCALES = ("raw", "relative")


@dataclass(frozen=True)
class Site:
    column: int
    layer: int  # 0 = the column's copy of x, 1..L-1 hidden (post-ReLU), L = logits


@dataclass
class ApsResult:
    accuracy: torch.Tensor          # (sites, max_levels, draws) float64 on the CPU, NaN where a site has fewer levels
    clean_accuracy: float           # the unperturbed network's accuracy on x
    reaches_output: List[bool]      # per site, from the graph (ProgressiveNetwork.reaches_output)
    unit_std: List[torch.Tensor]    # per site, (*layer shape) float32: each unit's population std of its clean output
    computed: int                   # (site, level, draw) accuracies measured with noise; the rest are clean by design
    examples: int                   # rows of x


def noise_seed(seed: int, column: int, layer: int, level: int, draw: int) -> int:
    """The seed of the generator of draw `draw` of level `level` (its index in the site's variances) at site
    (column, layer): see the module docstring."""
    word = np.random.SeedSequence([seed, column, layer, level, draw]).generate_state(1, dtype=np.uint64)[0]
    return int(word) >> 1


def noise_generator(seed: int, site: Site, level: int, draw: int) -> torch.Generator:
    return torch.Generator().manual_seed(noise_seed(seed, site.column, site.layer, level, draw))


def parse_sites(sites: Any, model: ProgressiveNetwork) -> List[Site]:
    """[{"column": int, "layer": int}, ...] -> Sites, each checked against the network."""
    if not isinstance(sites, list) or not sites:
        raise KernelInputError(f"sites must be a non-empty list of {{\"column\": int, \"layer\": int}}, got {sites!r}")
    parsed = []
    for i, site in enumerate(sites):
        if not isinstance(site, dict) or set(site) != {"column", "layer"} or not all(
                isinstance(site[key], int) and not isinstance(site[key], bool) for key in site):
            raise KernelInputError(f"sites[{i}] must be {{\"column\": int, \"layer\": int}}, got {site!r}")
        try:
            model.check_site(site["column"], site["layer"])
        except KernelInputError as e:
            raise KernelInputError(f"sites[{i}]: {e}") from None
        parsed.append(Site(site["column"], site["layer"]))
    return parsed


def _check_variances(variances: Any, sites: int) -> List[List[float]]:
    """One non-empty list of finite variances >= 0 per site."""
    if not isinstance(variances, list) or len(variances) != sites:
        got = f"{len(variances)} lists" if isinstance(variances, list) else repr(variances)
        raise KernelInputError(f"variances must hold one list of noise variances per site ({sites}), got {got}")
    checked = []
    for i, levels in enumerate(variances):
        if not isinstance(levels, list) or not levels:
            raise KernelInputError(f"variances[{i}] must be a non-empty list of variances (sigma^2 >= 0), "
                                   f"got {levels!r}")
        for j, v in enumerate(levels):
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) or v < 0:
                raise KernelInputError(f"variances[{i}][{j}] must be a finite variance sigma^2 >= 0, got {v!r}")
        checked.append([float(v) for v in levels])
    return checked


def _batches(n: int) -> List[slice]:
    return [slice(start, min(start + BATCH_ROWS, n)) for start in range(0, n, BATCH_ROWS)]


def clean_statistics(model: ProgressiveNetwork, x: Input, y: torch.Tensor,
                     sites: Sequence[Site]) -> Tuple[int, List[torch.Tensor]]:
    """One clean pass over x (B rows at a time; eval mode and no_grad are the caller's) -> (correct predictions, per
    site the population std over x of each unit of its clean output, (*layer shape) float32). The variance is merged
    batch by batch in float64 (Chan et al.'s pairwise update), so a large mean costs no precision."""
    every_column = any(s.column not in model.needed for s in sites)  # a site in a column the output does not read
    n_seen = 0
    mean: List[Optional[torch.Tensor]] = [None] * len(sites)
    m2: List[Optional[torch.Tensor]] = [None] * len(sites)
    correct = torch.zeros((), dtype=torch.int64, device=x.device)
    for rows in _batches(len(x)):
        hs = model.layer_outputs(x[rows], every_column=every_column)
        correct += (hs[-1][-1].argmax(dim=1) == y[rows]).sum()
        n_b = rows.stop - rows.start
        for i, site in enumerate(sites):
            h = hs[site.column][site.layer].double()                          # (B, *shape)
            mean_b = h.mean(dim=0)                                            # (*shape)
            m2_b = ((h - mean_b) ** 2).sum(dim=0)                             # (*shape)
            if mean[i] is None:
                mean[i], m2[i] = mean_b, m2_b
            else:
                delta = mean_b - mean[i]
                total = n_seen + n_b
                mean[i] = mean[i] + delta * (n_b / total)
                m2[i] = m2[i] + m2_b + delta ** 2 * (n_seen * n_b / total)
        n_seen += n_b
    return int(correct), [(m / n_seen).sqrt().float() for m in m2]


def aps_accuracy(model: ProgressiveNetwork, x: Input, y: torch.Tensor, sites: Sequence[Site],
                 variances: Sequence[Sequence[float]], draws: int, seed: int, scale: str,
                 progress: Optional[ProgressSink] = None) -> ApsResult:
    """The accuracy on (x (N, *input shape), y (N,)) of `model` with noise at each site, for each of its variances
    and each of `draws` draws; see the module docstring for the scales, the seeding and what is not computed."""
    if not isinstance(model, ProgressiveNetwork):
        raise KernelInputError(f"the perturbation analysis needs a progressive network (its columns hold the sites), "
                               f"got a {type(model).__name__}")
    if scale not in SCALES:
        raise KernelInputError(f"scale must be one of {', '.join(SCALES)}, got {scale!r}")
    if isinstance(draws, bool) or not isinstance(draws, int) or draws < 1:
        raise KernelInputError(f"draws must be a whole number of noise draws, 1 or more, got {draws!r}")
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise KernelInputError(f"seed must be a non-negative whole number, got {seed!r}")
    variances = _check_variances(list(variances), len(sites))
    device = next(model.parameters()).device
    shapes, views = model.layer_shapes, model.input_shapes
    _check_xy("x", x, y, device, views if len(views) > 1 else shapes[0], shapes[-1][0])
    n = len(x)
    if n == 0:
        raise KernelInputError("x holds no examples; the accuracy of an empty set is undefined")

    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            clean_correct, unit_std = clean_statistics(model, x, y, sites)
            reaches = [model.reaches_output(s.column, s.layer) for s in sites]
            correct, computed = _perturbed_correct(model, x, y, sites, variances, reaches, unit_std, draws, seed,
                                                   scale, progress)
    finally:
        model.train(was_training)

    clean = clean_correct / n
    max_levels = max(len(levels) for levels in variances)
    accuracy = torch.full((len(sites), max_levels, draws), float("nan"), dtype=torch.float64)
    for s, levels in enumerate(variances):
        accuracy[s, :len(levels)] = clean
    accuracy = torch.where(computed, correct.cpu().double() / n, accuracy)  # (sites, max_levels, draws)
    return ApsResult(accuracy, clean, reaches, [u.cpu() for u in unit_std], int(computed.sum()), n)


def _perturbed_correct(model: ProgressiveNetwork, x: Input, y: torch.Tensor, sites: Sequence[Site],
                       variances: List[List[float]], reaches: List[bool], unit_std: List[torch.Tensor], draws: int,
                       seed: int, scale: str, progress: Optional[ProgressSink]) -> Tuple[torch.Tensor, torch.Tensor]:
    """-> (correct (sites, max_levels, draws) int64 on x's device, computed: the same shape, bool: which entries
    were measured with noise)."""
    device = x.device
    max_levels = max(len(levels) for levels in variances)
    correct = torch.zeros((len(sites), max_levels, draws), dtype=torch.int64, device=device)
    computed = torch.zeros((len(sites), max_levels, draws), dtype=torch.bool)

    # Per site, the (level, draw) pairs to measure, each with its std ((*shape) float32) and generator.
    work: List[List[Tuple[int, int, torch.Tensor, torch.Generator]]] = []
    for s, site in enumerate(sites):
        pairs = []
        shape = tuple(model.columns[site.column].layer_shapes[site.layer])
        for i, variance in enumerate(variances[s]):
            sigma = torch.tensor(math.sqrt(variance), dtype=torch.float32, device=device)
            std = sigma * unit_std[s] if scale == "relative" else sigma.expand(shape)   # (*shape)
            if not reaches[s] or not bool((std != 0).any()):
                continue  # the clean network: its accuracy is the clean accuracy
            pairs.extend((i, d, std, noise_generator(seed, site, i, d)) for d in range(draws))
            computed[s, i] = True
        work.append(pairs)

    batches = _batches(len(x))
    bar = Progress(progress, "aps_accuracy", len(batches) * sum(len(pairs) for pairs in work))
    done = 0
    for rows in batches:
        xb, yb = x[rows], y[rows]
        hs = model.layer_outputs(xb)              # the clean pass: every layer the noise does not reach comes from it
        per_pass = max(1, MAX_ROWS // len(xb))
        for s, site in enumerate(sites):
            shape = tuple(model.columns[site.column].layer_shapes[site.layer])
            for start in range(0, len(work[s]), per_pass):
                chunk = work[s][start:start + per_pass]
                z = torch.stack([torch.randn((len(xb), *shape), generator=g) for _, _, _, g in chunk])
                std = torch.stack([p[2] for p in chunk]).unsqueeze(1)                 # (P, 1, *shape)
                noise = z.to(device) * std                                            # (P, B, *shape)
                logits = model.forward_perturbed(xb, site.column, site.layer, noise, clean=hs)  # (P, B, classes)
                hits = (logits.argmax(dim=-1) == yb).sum(dim=1)                       # (P,)
                levels = torch.tensor([p[0] for p in chunk], device=device)
                draw_ids = torch.tensor([p[1] for p in chunk], device=device)
                correct[s].index_put_((levels, draw_ids), hits, accumulate=True)
                done += len(chunk)
                bar.update(done)
    return correct, computed

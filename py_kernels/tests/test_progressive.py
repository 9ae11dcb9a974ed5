"""Progressive networks: the checks that need the column files, folding, the baseline it reduces to, where laterals
enter a layer (before or after its batch norm) and a column without batch norm, each against the hand computation."""
from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from py_kernels import safe_load
from py_kernels.errors import KernelInputError
from py_kernels.models import build_column, build_model, column_from_state

WIDTHS = [12, 8, 6, 4]


def _spec(path=None, widths=WIDTHS, laterals=(), batch_norm=True, source_batch_norm=True):
    source = {"name": "source", "architecture": "fc", "widths": widths, "batch_norm": source_batch_norm,
              "frozen": True, "weights": {"from": "file", "path": str(path)}}
    target = {"name": "target", "architecture": "fc", "widths": WIDTHS, "batch_norm": batch_norm,
              "weights": {"from": "init"}, "frozen": False}
    return {"columns": ([source] if path else []) + [target], "laterals": list(laterals)}


def _lateral(layer, adapter, placement="pre_norm"):
    return {"from": {"column": 0, "layer": layer}, "to": {"column": 1, "layer": layer + 1},
            "adapter": {**adapter, "placement": placement}}


def _x(n=6, seed=0):
    return torch.rand(n, WIDTHS[0], generator=torch.Generator().manual_seed(seed))


def _known(net, seed=9):
    """Known, non-trivial values for every trainable parameter and the target column's running statistics (a
    fresh column's are 0 and 1, which would hide a wrong mean or variance)."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in net.parameters():
            if p.requires_grad:
                p.copy_(torch.randn(p.shape, generator=g))
        for name, b in net.columns[1].named_buffers():
            b.copy_(torch.rand(b.shape, generator=g) + (0.5 if name.endswith("running_var") else -0.5))
    return net


@pytest.fixture
def column_file(tmp_path):
    """A source column whose running statistics have moved off 0 and 1."""
    column = build_column("fc", seed=1, widths=WIDTHS)
    column(_x(32, seed=1) * 3)  # training mode: the running averages move
    path = tmp_path / "column.pt"
    torch.save(column.export_state(), path)
    return path


def test_a_column_file_is_checked_against_the_declared_column(tmp_path, column_file):
    with pytest.raises(KernelInputError, match=r"columns\[0\]\.weights\.path: no such file"):
        build_model("progressive", spec=_spec(tmp_path / "absent.pt"))
    with pytest.raises(KernelInputError, match=r"columns\[0\]\.widths: are \[12, 9, 6, 4\] but .* holds a column of "
                                               r"widths \[12, 8, 6, 4\]; make them agree"):
        build_model("progressive", spec=_spec(column_file, widths=[12, 9, 6, 4]))
    torch.save({k: v.double() for k, v in safe_load.load(str(column_file), what="column file", hint="").items()}, tmp_path / "double.pt")
    with pytest.raises(KernelInputError, match="non-float32 tensors"):
        build_model("progressive", spec=_spec(tmp_path / "double.pt"))
    torch.save({"x": torch.zeros(2)}, tmp_path / "other.pt")
    with pytest.raises(KernelInputError, match="is not a column file of architecture 'fc'"):
        build_model("progressive", spec=_spec(tmp_path / "other.pt"))


def test_an_exported_ladder_model_serves_as_its_encoder_column(tmp_path):
    ladder = build_model("ladder", seed=2, widths=WIDTHS, noise_std=0.3, denoising_weights=[1, 1, 1, 1],
                         gamma_only=False)
    torch.save({"architecture": "ladder", "state": ladder.state_dict()}, tmp_path / "model.pt")
    net = build_model("progressive", spec=_spec(tmp_path / "model.pt"))
    assert all(torch.equal(v, net.columns[0].state_dict()[k]) for k, v in ladder.encoder.state_dict().items())


def test_a_folded_lateral_computes_what_the_unfolded_one_does(column_file):
    spec = _spec(column_file, laterals=[_lateral(0, {"kind": "scalar", "alpha_init": 0.7}),
                                        _lateral(1, {"kind": "none"})])
    net = build_model("progressive", seed=3, spec=spec).eval()
    x = torch.rand(6, 12, generator=torch.Generator().manual_seed(0))
    folded = net(x)
    net.columns[1].foldable = False  # the same laterals as separate products
    assert torch.allclose(folded, net(x), atol=1e-5)


def test_without_laterals_it_is_the_mlp_bit_for_bit(column_file):
    from py_kernels.training import SupervisedTrainer

    net = build_model("progressive", seed=4, spec=_spec(column_file))
    mlp = build_model("mlp", seed=4, widths=WIDTHS)
    assert all(torch.equal(v, net.columns[1].state_dict()[k]) for k, v in mlp.state_dict().items())
    g = torch.Generator().manual_seed(1)
    x, y = torch.rand(24, 12, generator=g), torch.randint(0, 4, (24,), generator=g)
    for model in (net, mlp):
        SupervisedTrainer(model, x, y, epochs_planned=1, lr=0.01, decay_fraction=0.0, seed=5).train_epoch(3, 6)
    assert all(torch.equal(v, net.columns[1].state_dict()[k]) for k, v in mlp.state_dict().items())


# -- where a lateral enters: before or after the target layer's batch norm -------------------------------------------

def _bn(layer, z_pre):
    """The eval-mode normalisation of an fc layer, written out."""
    return (z_pre - layer.running_mean) * torch.rsqrt(layer.running_var + layer.eps)


@pytest.mark.parametrize("mode", ["eval", "train"])
def test_a_post_norm_lateral_adds_exactly_alpha_u_h_to_the_normalised_pre_activation(column_file, mode):
    """Target layer 2 = ReLU(BN(W h_1) + beta + alpha U h_src) with h_src the source's layer 1: the lateral does not
    pass through the normalisation, so it neither enters the batch statistics nor is rescaled by them."""
    spec = _spec(column_file, laterals=[_lateral(1, {"kind": "scalar", "alpha_init": 0.7}, "post_norm")])
    net = _known(build_model("progressive", seed=3, spec=spec))
    silent = _known(build_model("progressive", seed=3, spec=spec))
    with torch.no_grad():
        silent.laterals[0].alpha.zero_()
    net.train(mode == "train"), silent.train(mode == "train")
    x = _x()
    with torch.no_grad():
        (source, target), (_, target_silent) = net.activations(x), silent.activations(x)
    adapter, layer = net.laterals[0], net.columns[1].layers[1]
    lateral = F.linear(source[0], adapter.U) * adapter.alpha                          # alpha U h_src (B, 6)
    assert not torch.equal(lateral, torch.zeros_like(lateral))
    # Layer 1 has no lateral: the same in both networks; layer 2 differs only by the lateral, after the norm.
    assert torch.equal(target[0], target_silent[0])
    z_pre = F.linear(target[0], layer.weight)                                         # W h_1 (B, 6)
    if mode == "eval":
        z = _bn(layer, z_pre)
    else:  # batch statistics, of W h_1 alone
        var, mean = torch.var_mean(z_pre, dim=0, correction=0)
        z = (z_pre - mean) * torch.rsqrt(var + layer.eps)
        assert torch.equal(layer.running_mean, silent.columns[1].layers[1].running_mean)
        assert torch.equal(layer.running_var, silent.columns[1].layers[1].running_var)
    assert torch.equal(target[1], F.relu(z + layer.beta + lateral))
    assert torch.equal(target_silent[1], F.relu(z + layer.beta))


def test_a_pre_norm_lateral_is_normalised_with_the_pre_activation(column_file):
    """The default placement (as before it had a name): ReLU(BN(W h_1 + alpha U h_src) + beta)."""
    spec = _spec(column_file, laterals=[_lateral(1, {"kind": "scalar", "alpha_init": 0.7}, "pre_norm")])
    net = _known(build_model("progressive", seed=3, spec=spec)).eval()
    with torch.no_grad():
        source, target = net.activations(_x())
    adapter, layer = net.laterals[0], net.columns[1].layers[1]
    z_pre = F.linear(target[0], layer.weight) + F.linear(source[0], adapter.U) * adapter.alpha
    assert torch.equal(target[1], F.relu(_bn(layer, z_pre) + layer.beta))


def test_a_post_norm_lateral_into_the_top_layer_is_scaled_by_gamma_only(column_file):
    """logits = gamma * (BN(W h) + beta + U h_src): the 'none' adapter, into the top layer."""
    spec = _spec(column_file, laterals=[_lateral(2, {"kind": "none"}, "post_norm")])
    net = _known(build_model("progressive", seed=3, spec=spec)).eval()
    with torch.no_grad():
        source, target = net.activations(_x())
    layer = net.columns[1].layers[2]
    a = _bn(layer, F.linear(target[1], layer.weight)) + layer.beta + F.linear(source[1], net.laterals[0].U)
    assert torch.equal(target[2], layer.gamma * a)


def test_a_post_norm_lateral_from_the_input_is_not_folded_into_w(column_file):
    """Folding W x + alpha U x = (W + alpha U) x is only right before the norm; after it the lateral stays apart."""
    spec = _spec(column_file, laterals=[_lateral(0, {"kind": "scalar", "alpha_init": 0.7}, "post_norm")])
    net = _known(build_model("progressive", seed=3, spec=spec)).eval()
    x = _x()
    with torch.no_grad():
        _, target = net.activations(x)
    adapter, layer = net.laterals[0], net.columns[1].layers[0]
    expected = F.relu(_bn(layer, F.linear(x, layer.weight)) + layer.beta + F.linear(x, adapter.U) * adapter.alpha)
    assert torch.equal(target[0], expected)


# -- a column without batch norm -------------------------------------------------------------------------------------

def _no_norm_net(column_file, placements):
    """A target column without batch norm, reading a folded lateral from x and laterals from the source's layers
    1 and 2 at `placements`."""
    laterals = [_lateral(0, {"kind": "scalar", "alpha_init": 0.5}, "pre_norm"),
                _lateral(1, {"kind": "scalar", "alpha_init": 0.7}, placements[0]),
                _lateral(2, {"kind": "none"}, placements[1])]
    return _known(build_model("progressive", seed=3, spec=_spec(column_file, laterals=laterals, batch_norm=False)))


def test_a_column_without_batch_norm_is_the_hand_computed_sum_in_train_and_eval_mode(column_file):
    net = _no_norm_net(column_file, ["post_norm", "pre_norm"])
    target_column = net.columns[1]
    assert not any("running" in name for name, _ in target_column.named_buffers())  # no statistics to keep
    x = _x()
    s0, s1, s2 = net.laterals
    with torch.no_grad():
        net.eval()
        source, target = net.activations(x)
        net.train()
        source_train, target_train = net.activations(x)
    w1, w2, w3 = (layer.weight for layer in target_column.layers)
    b1, b2, b3 = (layer.beta for layer in target_column.layers)
    h1 = F.relu(F.linear(x, w1 + s0.U * s0.alpha) + b1)                          # the x lateral, folded into W
    h2 = F.relu(F.linear(h1, w2) + b2 + F.linear(source[0], s1.U) * s1.alpha)
    logits = target_column.layers[2].gamma * (F.linear(h2, w3) + F.linear(source[1], s2.U) + b3)
    assert torch.equal(target[0], h1) and torch.equal(target[1], h2) and torch.equal(target[2], logits)
    # The frozen source stays in eval mode; the target has no mode-dependent part: train mode computes the same.
    assert all(torch.equal(a, b) for a, b in zip(source + target, source_train + target_train))


def test_without_batch_norm_the_two_placements_coincide(column_file):
    x = _x()
    outputs = []
    for placements in (["pre_norm", "pre_norm"], ["post_norm", "post_norm"], ["post_norm", "pre_norm"]):
        with torch.no_grad():
            outputs.append(_no_norm_net(column_file, placements).eval()(x))
    assert all(torch.allclose(outputs[0], out, rtol=1e-5, atol=1e-6) for out in outputs[1:])


def test_a_column_without_batch_norm_exports_and_reads_back_as_one(column_file, tmp_path):
    net = _no_norm_net(column_file, ["post_norm", "pre_norm"])
    state = net.output_column.export_state()
    column = column_from_state("fc", state)
    assert column.config.batch_norm is False and column.config.widths == tuple(WIDTHS)
    x = _x()
    with torch.no_grad():
        assert torch.equal(column.train()(x), net.output_column.eval()(x))
    # Declared as a source column with batch norm, the file is refused for what it holds.
    torch.save(state, tmp_path / "no_norm.pt")
    with pytest.raises(KernelInputError, match=r"columns\[0\]\.batch_norm: is True but .* holds a column of "
                                               r"batch_norm False; make them agree"):
        build_model("progressive", spec=_spec(tmp_path / "no_norm.pt"))


def test_a_file_column_without_batch_norm_is_refused(column_file):
    with pytest.raises(KernelInputError, match=r"columns\[0\]\.batch_norm: is False, but the column's weights come "
                                               r"from the file .*only a column with weights from init can go without "
                                               r"batch norm"):
        build_model("progressive", spec=_spec(column_file, source_batch_norm=False))

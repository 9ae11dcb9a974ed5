"""The perturbation analysis behind Average Perturbation Sensitivity (perturbation.py, ProgressiveNetwork's
forward_perturbed and reaches_output, api.aps_accuracy) and loading a finished run for analysis (api.run_load_model),
on a tiny progressive network: a trained source column, frozen, with laterals from its hidden layers 1 and 2 into
layers 2 and 3 of a trained target column (the paper's `laterals: all` wiring)."""
from __future__ import annotations

import json
import math
import re

import pytest
import torch

from py_kernels import perturbation, runs
from py_kernels.errors import KernelInputError
from py_kernels.models import build_model
from py_kernels.perturbation import Site

WIDTHS = [12, 8, 6, 4]
TRAINING = {"epochs": 10, "iterations_per_epoch": 30, "labeled_batch": 32, "unlabeled_batch": 32,
            "learning_rate": 0.01, "decay_fraction": 0.3, "stop_at_validation_accuracy": None,
            "population_statistics": None}
TENSORS = {"train_x": "train.x", "train_y": "train.y", "train": "train.all", "labeled": "train.all",
           "validation": None, "test_x": "test.x", "test_y": "test.y"}
N_TEST = 500
SOURCE_TOP = {"column": 0, "layer": 3}  # the source column's logits: they feed no lateral


def _spec(column_path: str) -> dict:
    source = {"name": "source", "architecture": "fc", "widths": WIDTHS, "batch_norm": True, "frozen": True,
              "weights": {"from": "file", "path": column_path}}
    target = {"name": "target", "architecture": "fc", "widths": WIDTHS, "batch_norm": True, "frozen": False,
              "weights": {"from": "init"}}
    laterals = [{"from": {"column": 0, "layer": l}, "to": {"column": 1, "layer": l + 1},
                 "adapter": {"kind": "scalar", "alpha_init": 0.1, "placement": "pre_norm"}} for l in (1, 2)]
    return {"architecture": "progressive", "spec": {"columns": [source, target], "laterals": laterals}}


@pytest.fixture(scope="module")
def api(tmp_path_factory):
    """api with a CPU session holding a trained source run ("source", an MLP), the progressive run on it ("target",
    exported to model.pt) and the test set; the argument check off (the schema is generated from TypeScript).
    Test batches of 200 rows (the last of 100) and passes of at most 3 perturbed copies, so that batching and
    chunking are both exercised on 500 test examples."""
    import py_kernels.api as api
    from py_kernels import call_args
    from py_kernels.tensors import TensorStore

    tmp = tmp_path_factory.mktemp("aps")
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(call_args, "check", lambda name, kwargs: None)
        mp.setattr(api, "_session", api._Session(torch.device("cpu"), TensorStore(str(tmp)), 1))
        mp.setattr(perturbation, "BATCH_ROWS", 200)
        mp.setattr(perturbation, "MAX_ROWS", 600)
        store = api.session().store
        g = torch.Generator().manual_seed(0)
        x = torch.randn(600 + N_TEST, WIDTHS[0], generator=g)
        y = (x @ torch.randn(WIDTHS[0], WIDTHS[-1], generator=g)).argmax(dim=1)     # a learnable 4-class task
        store.put("train.x", x[:600]), store.put("train.y", y[:600]), store.put("train.all", torch.arange(600))
        store.put("test.x", x[600:]), store.put("test.y", y[600:])
        cpu = torch.device("cpu")
        runs.create("source", {"architecture": "mlp", "widths": WIDTHS}, TRAINING, 1, TENSORS, None, store, cpu)
        for _ in range(TRAINING["epochs"]):
            runs.epoch("source", None, None)
        runs.export("source", str(tmp / "source-model.pt"), str(tmp / "column.pt"))
        model = _spec(str(tmp / "column.pt"))
        runs.create("target", model, TRAINING, 2, TENSORS, None, store, cpu)
        for _ in range(TRAINING["epochs"]):
            metrics = runs.epoch("target", None, None)
        runs.export("target", str(tmp / "model.pt"), str(tmp / "target-column.pt"))
        mp.setattr(api, "fixture", {"tmp": tmp, "model": model, "test_accuracy": metrics["test_accuracy"]},
                   raising=False)
        try:
            yield api
        finally:
            for run_id in ("source", "target"):
                runs.close(run_id)


def _call(api, name, **kwargs):
    return json.loads(api.dispatch(name, json.dumps(kwargs)))


def _ok(api, name, **kwargs):
    out = _call(api, name, **kwargs)
    assert out["ok"], out["error"]["traceback"] if "error" in out else out
    return out["value"]


def _aps(api, sites, variances, draws=3, seed=0, scale="raw", run_id="target", store_as="aps"):
    value = _ok(api, "aps_accuracy", run_id=run_id, x="test.x", y="test.y", limit=None, sites=sites, variances=variances,
                draws=draws, seed=seed, scale=scale, store_as=store_as)
    return value, api.session().store.get(store_as)


def _site(column, layer):
    return {"column": column, "layer": layer}


def _reference_perturbed(net, x, column, layer, noise):
    """Every column recomputed on D stacked copies of x, noise added where layer `layer` of `column` is produced: an
    independent path to what forward_perturbed computes (noise (D, B, *shape) -> logits (D, B, classes))."""
    copies = noise.shape[0]
    col = net.columns[column]
    original = col.forward_layer

    def noisy(l, h, *args):
        out = original(l, h, *args)
        return out + noise.flatten(0, 1) if l == layer else out

    col.forward_layer = noisy  # the instance attribute shadows the method for this call only
    try:
        logits = net.layer_outputs(x.repeat(copies, 1))[-1][-1]                       # (D*B, classes), copy-major
    finally:
        del col.forward_layer
    return logits.view(copies, x.shape[0], -1)


# -- the perturbed pass -------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("column, layer", [(0, 1), (0, 2), (0, 3), (1, 1), (1, 2), (1, 3)])
def test_forward_perturbed_is_the_network_with_noise_at_that_one_site(api, column, layer):
    net = runs.get("target").trainer.model.eval()
    x = api.session().store.get("test.x")[:50]
    noise = torch.randn(3, 50, WIDTHS[layer], generator=torch.Generator().manual_seed(layer)) * 2.0
    with torch.no_grad():
        ours = net.forward_perturbed(x, column, layer, noise)
        reference = _reference_perturbed(net, x, column, layer, noise)
        clean = net(x)
        assert torch.allclose(ours, reference, atol=1e-5)
        # Zero noise is the clean network; noise that reaches the output changes it.
        assert torch.allclose(net.forward_perturbed(x, column, layer, torch.zeros_like(noise)), clean.expand(3, -1, -1),
                              atol=1e-5)
    changed = not torch.allclose(ours, clean.expand(3, -1, -1), atol=1e-3)
    assert changed == net.reaches_output(column, layer) == ((column, layer) != (0, 3))


def test_a_wrongly_shaped_noise_or_site_is_refused(api):
    net = runs.get("target").trainer.model
    x = torch.zeros(5, WIDTHS[0])
    with pytest.raises(KernelInputError, match=r"noise for column 1 layer 2 must be \(D, 5, 6\) .*got \(2, 5, 8\)"):
        net.forward_perturbed(x, 1, 2, torch.zeros(2, 5, 8))
    with pytest.raises(KernelInputError, match=r"layer must be 0\.\.3 for column 1 .*got 4"):
        net.reaches_output(1, 4)
    with pytest.raises(KernelInputError, match=r"column must be 0\.\.1 \(the network has 2 columns\), got 2"):
        net.reaches_output(2, 1)


def test_reaches_output_follows_the_graph():
    """Three columns: A feeds the target only from its layer 1, B feeds nothing (the output does not depend on it)."""
    column = {"architecture": "fc", "widths": WIDTHS, "batch_norm": True, "weights": {"from": "init"}, "frozen": False}
    spec = {"columns": [{**column, "name": "a"}, {**column, "name": "b"}, {**column, "name": "t"}],
            "laterals": [{"from": {"column": 0, "layer": 1}, "to": {"column": 2, "layer": 2},
                          "adapter": {"kind": "none", "placement": "post_norm"}}]}
    net = build_model("progressive", seed=1, spec=spec).eval()
    table = [[net.reaches_output(k, l) for l in range(4)] for k in range(3)]
    assert table == [[True, True, False, False], [False] * 4, [True] * 4]
    x = torch.randn(7, WIDTHS[0], generator=torch.Generator().manual_seed(0))
    with torch.no_grad():  # noise in a column the output does not read: the clean logits
        assert torch.equal(net.forward_perturbed(x, 1, 2, torch.ones(2, 7, 6) * 1e3), net(x).expand(2, -1, -1))
    # ... and in the whole measurement: not computed, the clean accuracy, its units' std measured all the same.
    y = net(x).argmax(dim=1)
    result = perturbation.aps_accuracy(net, x, y, [Site(1, 2), Site(0, 1)], [[1e3], [1e3]], 2, 0, "relative")
    assert result.clean_accuracy == 1.0 and result.reaches_output == [False, True] and result.computed == 2
    assert bool((result.accuracy[0] == 1.0).all()) and bool((result.accuracy[1] < 1.0).all())
    b2 = net.layer_outputs(x, every_column=True)[1][2]                        # (7, 6): column b, layer 2
    assert torch.allclose(result.unit_std[0], b2.std(dim=0, unbiased=False), atol=1e-6)


# -- aps_accuracy -------------------------------------------------------------------------------------------------------

def test_variance_zero_is_the_clean_accuracy_and_huge_noise_is_chance(api):
    sites = [_site(k, l) for k in (0, 1) for l in (1, 2)] + [_site(1, 3)]
    levels = [0.0, 0.01, 0.1, 1.0, 10.0, 100.0, 1e6]
    value, accuracy = _aps(api, sites, [levels] * len(sites))
    assert value["accuracy"] == {"name": "aps", "shape": [5, 7, 3], "dtype": "float64", "device": "cpu"}
    clean = value["clean_accuracy"]
    assert clean == api.fixture["test_accuracy"] > 0.8
    assert value["reaches_output"] == [True] * 5 and value["examples"] == N_TEST
    assert value["computed"] == 5 * 6 * 3                                       # every level but variance 0
    assert bool((accuracy[:, 0] == clean).all())
    mean = accuracy.mean(dim=2)                                                 # (sites, levels): over draws
    assert bool((mean[:, 1:] <= mean[:, :-1] + 0.02).all()), mean               # falls as the variance grows
    assert bool((mean[:, -1] < clean - 0.4).all()), mean
    target = mean[2:, -1]                                                       # the target's own layers: chance
    assert bool(((target > 0.1) & (target < 0.4)).all()), mean


def test_the_same_seed_gives_the_same_numbers_and_another_seed_others(api):
    sites, variances = [_site(0, 2), _site(1, 1)], [[0.5, 2.0, 8.0], [1.0]]
    first = _aps(api, sites, variances, seed=3, store_as="a")[1].clone()
    again = _aps(api, sites, variances, seed=3, store_as="b")[1]
    other = _aps(api, sites, variances, seed=4, store_as="c")[1]
    torch.testing.assert_close(first, again, rtol=0, atol=0, equal_nan=True)
    assert not torch.allclose(first[0], other[0])
    # A site with fewer levels is NaN-padded; a site's numbers do not depend on the other sites asked.
    assert bool(first[1, 1:].isnan().all()) and not bool(first[1, 0].isnan().any())
    alone = _aps(api, [_site(1, 1)], [[1.0]], seed=3, store_as="d")[1]
    assert torch.equal(alone[0, 0], first[1, 0])


def test_relative_scale_is_raw_noise_times_each_units_clean_std(api):
    """The relative accuracies again, by hand: the generators of the documented seeding, z * float32(sigma) * s_u with
    s_u the population std of the unit's clean output over the test set, through forward_perturbed batch by batch."""
    site, variances, draws, seed = Site(0, 2), [0.5, 4.0], 2, 7
    value, relative = _aps(api, [_site(0, 2)], [variances], draws=draws, seed=seed, scale="relative", store_as="rel")
    raw = _aps(api, [_site(0, 2)], [variances], draws=draws, seed=seed, scale="raw", store_as="raw")[1]
    net = runs.get("target").trainer.model.eval()
    x, y = api.session().store.get("test.x"), api.session().store.get("test.y")
    with torch.no_grad():
        unit_std = net.layer_outputs(x)[0][2].double().std(dim=0, unbiased=False).float()   # (6,)
        summary = value["activation_std"][0]
        assert summary["units"] == 6 and summary["zero_units"] == int((unit_std == 0).sum())
        assert math.isclose(summary["mean"], float(unit_std.mean()), rel_tol=1e-5)
        assert not torch.allclose(unit_std, torch.ones(6), atol=0.2)            # else relative and raw look alike
        for i, variance in enumerate(variances):
            std = torch.tensor(math.sqrt(variance), dtype=torch.float32) * unit_std
            for d in range(draws):
                g = perturbation.noise_generator(seed, site, i, d)
                correct = 0
                for start in range(0, N_TEST, perturbation.BATCH_ROWS):
                    xb, yb = x[start:start + perturbation.BATCH_ROWS], y[start:start + perturbation.BATCH_ROWS]
                    noise = torch.randn(xb.shape[0], 6, generator=g) * std                  # (B, 6)
                    logits = net.forward_perturbed(xb, site.column, site.layer, noise[None])  # (1, B, 4)
                    correct += int((logits[0].argmax(dim=1) == yb).sum())
                # one prediction may flip on the last bit of a product over a different number of rows
                assert abs(correct / N_TEST - float(relative[0, i, d])) <= 1 / N_TEST
    assert float((relative - raw).abs().max()) > 5 / N_TEST                     # the scale does change the numbers


def test_clean_statistics_give_each_units_population_std(api):
    net = runs.get("target").trainer.model.eval()
    x, y = api.session().store.get("test.x"), api.session().store.get("test.y")
    sites = [Site(0, 0), Site(0, 1), Site(1, 2), Site(1, 3)]
    with torch.no_grad():
        correct, stds = perturbation.clean_statistics(net, x, y, sites)
        hs = net.layer_outputs(x)
    assert correct == int((hs[-1][-1].argmax(dim=1) == y).sum())
    for site, std in zip(sites, stds):
        expected = hs[site.column][site.layer].double().std(dim=0, unbiased=False).float()
        assert std.shape == (WIDTHS[site.layer],) and torch.allclose(std, expected, rtol=1e-5, atol=1e-7)


def test_noise_that_cannot_reach_the_output_leaves_the_clean_accuracy(api):
    """The source's logits feed no lateral (reaches_output false, not computed); a source layer whose adapters are
    all zero still reaches the output by the graph, but its noise is multiplied by 0 on the way."""
    value, accuracy = _aps(api, [SOURCE_TOP], [[1.0, 1e6]])
    assert value["reaches_output"] == [False] and value["computed"] == 0
    assert bool((accuracy == value["clean_accuracy"]).all())

    _ok(api, "run_load_model", run_id="zeroed", model=api.fixture["model"],
        model_path=str(api.fixture["tmp"] / "model.pt"))
    try:
        net = runs.get("zeroed").trainer.model
        with torch.no_grad():
            for adapter in net.laterals:  # both laterals: layer 1's noise also flows up the source into layer 2's
                adapter.alpha.zero_()
        value, accuracy = _aps(api, [_site(0, 1), _site(0, 2)], [[1.0, 100.0]] * 2, run_id="zeroed")
        assert value["reaches_output"] == [True, True] and value["computed"] == 2 * 2 * 3
        assert bool((accuracy == value["clean_accuracy"]).all())
    finally:
        _ok(api, "run_close", run_id="zeroed")


def test_the_analysis_changes_no_weight_and_restores_the_mode(api):
    net = runs.get("target").trainer.model.train()
    before = runs.weights_sha256("target")
    _aps(api, [_site(0, 1), _site(1, 2)], [[1.0], [1.0]])
    assert runs.weights_sha256("target") == before and net.training and not net.columns[0].training
    net.eval()


@pytest.mark.parametrize("change, message", [
    ({"sites": [_site(1, 4)]}, r"sites\[0\]: a perturbation site's layer must be 0\.\.3 for column 1"),
    ({"sites": [{"column": 1}]}, r"sites\[0\] must be \{\"column\": int, \"layer\": int\}, got \{'column': 1\}"),
    ({"variances": [[1.0], [2.0]]}, r"one list of noise variances per site \(1\), got 2 lists"),
    ({"variances": [[1.0, -1.0]]}, r"variances\[0\]\[1\] must be a finite variance sigma\^2 >= 0, got -1\.0"),
    ({"variances": [[]]}, r"variances\[0\] must be a non-empty list"),
    ({"scale": "log"}, r"scale must be one of raw, relative, got 'log'"),
    ({"draws": 0}, r"draws must be a whole number of noise draws, 1 or more, got 0"),
    ({"run_id": "source"}, r"run 'source' is a mlp network; aps_accuracy needs a progressive one"),
    ({"x": "train.all"}, r"x must be a float32 tensor \(N, 12\), got torch\.int64 \(600,\)"),
])
def test_a_malformed_request_is_refused_naming_what_was_expected(api, change, message):
    args = {"run_id": "target", "x": "test.x", "y": "test.y", "limit": None, "sites": [_site(1, 1)], "variances": [[1.0]],
            "draws": 1, "seed": 0, "scale": "raw", "store_as": "bad", **change}
    out = _call(api, "aps_accuracy", **args)
    assert not out["ok"] and out["error"]["type"] == "KernelInputError", out
    assert re.search(message, out["error"]["message"], re.S), out["error"]["message"]


# -- run_load_model -----------------------------------------------------------------------------------------------------

def test_a_loaded_run_reproduces_the_test_accuracy_without_its_source_file(api):
    model = api.fixture["model"]
    moved = json.loads(json.dumps(model))
    moved["spec"]["columns"][0]["weights"]["path"] = str(api.fixture["tmp"] / "gone" / "column.pt")  # no such file
    value = _ok(api, "run_load_model", run_id="loaded", model=moved, model_path=str(api.fixture["tmp"] / "model.pt"))
    try:
        network = runs.get("target").trainer.model
        assert value == {"run_id": "loaded", "architecture": "progressive",
                         "parameters": sum(p.numel() for p in network.parameters()),
                         "tensors": len(network.state_dict())}
        assert runs.weights_sha256("loaded") == runs.weights_sha256("target")
        loaded = runs.get("loaded")
        store = api.session().store
        assert loaded.trainer.evaluate(store.get("test.x"), store.get("test.y"))["accuracy"] == \
            api.fixture["test_accuracy"]
        source = loaded.trainer.model.columns[0]
        assert source.frozen and not source.training and not any(p.requires_grad for p in source.parameters())
        assert _aps(api, [_site(1, 1)], [[0.0]], run_id="loaded")[0]["clean_accuracy"] == api.fixture["test_accuracy"]
        out = _call(api, "run_epoch", run_id="loaded", checkpoint_path=None)
        assert not out["ok"] and "was loaded from its model file for analysis (run_load_model) and cannot train an " \
                                 "epoch" in out["error"]["message"]
    finally:
        _ok(api, "run_close", run_id="loaded")


def test_a_model_file_that_does_not_fit_the_model_is_refused(api):
    tmp, model = api.fixture["tmp"], api.fixture["model"]
    wider = json.loads(json.dumps(model))
    wider["spec"]["columns"][1]["widths"] = [12, 9, 6, 4]
    cases = [
        (model, tmp / "absent.pt", r"model file .*absent\.pt does not exist"),
        (model, tmp / "source-model.pt", r"holds a 'mlp' network, but the model given is a 'progressive'"),
        (model, tmp / "column.pt", r"must hold \{\"architecture\", \"state\"\} as a run's model\.pt does"),
        (wider, tmp / "model.pt", r"does not fit the model given: .*size mismatch for columns\.1\.layers\.0\.weight"),
    ]
    for given, path, message in cases:
        out = _call(api, "run_load_model", run_id="bad", model=given, model_path=str(path))
        assert not out["ok"] and out["error"]["type"] == "KernelInputError", out
        assert re.search(message, out["error"]["message"], re.S), out["error"]["message"]
    with pytest.raises(KernelInputError, match="no run 'bad'"):
        runs.get("bad")


def test_a_network_whose_columns_read_two_views_is_measured_on_both(api, tmp_path):
    """A frozen fc column on flat784 beside an AlexNet column on its cached pool5 features (random numbers here: the
    trunk is not what is tested), laterals from the fc column's hidden layers into the head: the test set goes in as
    {view: tensor}, as the runner loads it."""
    store = api.session().store
    g = torch.Generator().manual_seed(4)
    n = 300
    flat, features = torch.rand(n, 784, generator=g), torch.rand(n, 9216, generator=g)
    y = (features[:, :10] + flat[:, :10]).argmax(dim=1)
    for name, t in (("mv.flat", flat), ("mv.features", features), ("mv.y", y), ("mv.all", torch.arange(200))):
        store.put(name, t)
    torch.save(build_model("mlp", seed=5, widths=[784, 16, 8, 10]).output_column.export_state(), tmp_path / "fc.pt")
    columns = [{"name": "mnist", "architecture": "fc", "widths": [784, 16, 8, 10], "batch_norm": True, "frozen": True,
                "weights": {"from": "file", "path": str(tmp_path / "fc.pt")}},
               {"name": "alexnet", "architecture": "alexnet", "head": [16, 8, 10], "trunk_seed": 0, "pretrained": False,
                "features": "cached", "batch_norm": True, "weights": {"from": "init"}, "frozen": False}]
    laterals = [{"from": {"column": 0, "layer": l}, "to": {"column": 1, "layer": l + 1},
                 "adapter": {"kind": "scalar", "alpha_init": 0.1, "placement": "post_norm"}} for l in (1, 2)]
    x = {"flat784": "mv.flat", "alexnet-features": "mv.features"}
    tensors = {**TENSORS, "train_x": x, "train_y": "mv.y", "train": "mv.all", "labeled": "mv.all", "test_x": x,
               "test_y": "mv.y"}
    runs.create("two-views", {"architecture": "progressive", "spec": {"columns": columns, "laterals": laterals}},
                {**TRAINING, "epochs": 1, "iterations_per_epoch": 5}, 1, tensors, None, store, torch.device("cpu"))
    try:
        accuracy = runs.epoch("two-views", None, None)["test_accuracy"]
        sites = [_site(0, 1), _site(0, 3), _site(1, 1), _site(1, 3)]
        value = _ok(api, "aps_accuracy", run_id="two-views", x=x, y="mv.y", limit=None, sites=sites,
                    variances=[[0.0]] * 4, draws=1, seed=0, scale="relative", store_as="mv.aps")
        assert value["clean_accuracy"] == pytest.approx(accuracy)
        # the fc column's layer 1 feeds the head; its logits feed nothing; the trunk's pool5 and the head's top do
        assert value["reaches_output"] == [True, False, True, True]
        _ok(api, "aps_accuracy", run_id="two-views", x=x, y="mv.y", limit=None, sites=[_site(1, 2)],
                    variances=[[1e6]], draws=2, seed=0, scale="raw", store_as="mv.noisy")
        assert float(store.get("mv.noisy").max()) < accuracy - 0.05  # the head drowned: about chance
    finally:
        runs.close("two-views")

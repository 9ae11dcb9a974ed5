"""Progressive networks: the checks that need the column files, folding, and the baseline it reduces to."""
from __future__ import annotations

import pytest
import torch

from py_kernels.errors import KernelInputError
from py_kernels.models import build_column, build_model

WIDTHS = [12, 8, 6, 4]


def _spec(path=None, widths=WIDTHS, laterals=()):
    source = {"name": "source", "architecture": "fc", "widths": widths, "frozen": True,
              "weights": {"from": "file", "path": str(path)}}
    target = {"name": "target", "architecture": "fc", "widths": WIDTHS, "weights": {"from": "init"}, "frozen": False}
    return {"columns": ([source] if path else []) + [target], "laterals": list(laterals)}


def _lateral(layer, adapter):
    return {"from": {"column": 0, "layer": layer}, "to": {"column": 1, "layer": layer + 1}, "adapter": adapter}


@pytest.fixture
def column_file(tmp_path):
    path = tmp_path / "column.pt"
    torch.save(build_column("fc", seed=1, widths=WIDTHS).export_state(), path)
    return path


def test_a_column_file_is_checked_against_the_declared_column(tmp_path, column_file):
    with pytest.raises(KernelInputError, match=r"columns\[0\]\.weights\.path: no such file"):
        build_model("progressive", spec=_spec(tmp_path / "absent.pt"))
    with pytest.raises(KernelInputError, match=r"columns\[0\]\.widths: are \[12, 9, 6, 4\] but .* holds a column of "
                                               r"widths \[12, 8, 6, 4\]; make them agree"):
        build_model("progressive", spec=_spec(column_file, widths=[12, 9, 6, 4]))
    torch.save({k: v.double() for k, v in torch.load(column_file).items()}, tmp_path / "double.pt")
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

"""The AlexNet column: its ImageNet weights read from torchvision's cache layout by the code the real file goes through,
the error that names where to put a missing file, and a frozen trunk that training leaves bit for bit as the file
holds it (in a progressive network whose columns read different views)."""
from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch

from py_kernels import safe_load
from py_kernels.data import views
from py_kernels.errors import KernelInputError
from py_kernels.models import alexnet_weights, build_column, build_model
from py_kernels.models.view_inputs import ViewInputs
from py_kernels.training import SupervisedTrainer

SHARED_MNISTM = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "mnist-m" / "test.npz"
REFUSED = "http://127.0.0.1:9/alexnet-owt-7be5be79.pth"  # a port nothing listens on: the download fails at once


def _imagenet_file(torch_home: Path, seed: int = 11) -> dict:
    """torchvision's AlexNet (weights drawn from `seed`) saved as torchvision's file is: its whole state dict, torch's
    zip format, at <TORCH_HOME>/hub/checkpoints/alexnet-owt-7be5be79.pth."""
    from torchvision.models import AlexNet

    torch.manual_seed(seed)
    state = AlexNet().state_dict()
    path = torch_home / "hub" / "checkpoints" / "alexnet-owt-7be5be79.pth"
    path.parent.mkdir(parents=True)
    torch.save(state, path)
    return state


@pytest.fixture
def torch_home(tmp_path, monkeypatch) -> Path:
    home = tmp_path / "torch"
    monkeypatch.setenv("TORCH_HOME", str(home))
    monkeypatch.setattr(alexnet_weights, "URL", REFUSED)  # never a real download from a test
    return home


def _images(n: int) -> np.ndarray:
    with np.load(SHARED_MNISTM) as npz:
        return npz["x"][:n], npz["y"][:n].astype(np.int64)


def _ladder_and_alexnet(tmp_path, placement: str = "pre_norm", **alexnet) -> dict:
    """The spec of a frozen fc file column (784-16-8-10, on flat784) and a trainable AlexNet column (head 16-8-10,
    `alexnet`'s options) whose head takes a scalar lateral from each of the fc column's hidden layers."""
    source = tmp_path / "source.pt"
    if not source.exists():
        torch.save(build_column("fc", seed=5, widths=[784, 16, 8, 10]).export_state(), source)
    return {"columns": [
        {"name": "ladder", "architecture": "fc", "widths": [784, 16, 8, 10], "batch_norm": True,
         "weights": {"from": "file", "path": str(source)}, "frozen": True},
        {"name": "alexnet", "architecture": "alexnet", "head": [16, 8, 10], "trunk_seed": 0,
         "weights": {"from": "init"}, "frozen": False, **alexnet},
    ], "laterals": [{"from": {"column": 0, "layer": l}, "to": {"column": 1, "layer": l + 1},
                     "adapter": {"kind": "scalar", "alpha_init": 0.1, "placement": placement}} for l in (1, 2)]}


def test_the_weights_are_read_from_torchvisions_cache_path_in_torchvisions_format(torch_home):
    written = _imagenet_file(torch_home)
    path = alexnet_weights.weights_path()
    assert path == torch_home / "hub" / "checkpoints" / "alexnet-owt-7be5be79.pth"  # torch.hub.get_dir() honours it
    assert zipfile.is_zipfile(path)  # the format of torchvision's re-saved file (see alexnet_weights.py)
    column = build_column("alexnet", seed=1, head=[8, 4], pretrained=True, features="live")
    trunk = column.trunk.state_dict()
    assert sorted(trunk) == sorted(k for k in written if k.startswith("features."))
    assert all(torch.equal(trunk[k], written[k]) for k in trunk)
    about = column.provenance()
    assert about["pretrained"] and about["path"] == str(path) and about["torchvision_file"] is False
    assert about["sha256"] == alexnet_weights.file_sha256(path) and "NOT torchvision's file" in about["label"]


def test_a_missing_file_that_cannot_be_downloaded_names_the_path_to_put_it(torch_home):
    with pytest.raises(KernelInputError) as error:
        build_column("alexnet", seed=1, head=[8, 4], pretrained=True, features="live")
    message = str(error.value)
    assert str(torch_home / "hub" / "checkpoints" / "alexnet-owt-7be5be79.pth") in message
    assert "cannot be downloaded from " + REFUSED in message and "pretrained: false" in message
    random = build_column("alexnet", seed=1, head=[8, 4], pretrained=False, features="live")  # needs no file
    assert "RANDOM weights" in random.provenance()["label"]


def test_a_legacy_format_or_foreign_file_is_refused_naming_the_file_to_get(torch_home):
    state = _imagenet_file(torch_home)
    path = alexnet_weights.weights_path()
    torch.save(state, path, _use_new_zipfile_serialization=False)  # the pre-2021 alexnet-owt-4df8aa71.pth format
    with pytest.raises(KernelInputError, match=r"not a readable torch zip archive.*alexnet-owt-7be5be79\.pth from "):
        build_column("alexnet", seed=1, head=[8, 4], pretrained=True, features="live")
    torch.save({"features.0.weight": torch.zeros(3)}, path)
    with pytest.raises(KernelInputError, match=r"is not torchvision's AlexNet"):
        build_column("alexnet", seed=1, head=[8, 4], pretrained=True, features="live")


def test_the_frozen_alexnet_is_bit_identical_to_its_file_after_training(torch_home, tmp_path):
    """A ladder-like fc column (frozen, from a file, on flat784) and an AlexNet column (live, ImageNet weights from
    the file the test wrote) whose head takes laterals from it: real MNIST-M images, one short epoch."""
    written = _imagenet_file(torch_home)
    spec = _ladder_and_alexnet(tmp_path, pretrained=True, features="live", batch_norm=True)
    model = build_model("progressive", seed=3, spec=spec)
    images, labels = _images(12)
    x = ViewInputs({"flat784": views.flat784(images), "imagenet224": views.imagenet224(images)})
    head_before = {k: v.clone() for k, v in model.columns[1].head.state_dict().items()}
    trainer = SupervisedTrainer(model, x, torch.from_numpy(labels), epochs_planned=1, lr=0.01, decay_fraction=0.0,
                                seed=3)
    metrics = trainer.train_epoch(iterations=3, batch_size=4)
    assert metrics["loss_total"] is not None
    trunk = model.columns[1].trunk.state_dict()
    assert trunk and all(torch.equal(trunk[k], written[k]) for k in trunk)  # bit for bit, as the file holds them
    ladder = safe_load.load(str(tmp_path / "source.pt"), what="column file", hint="")
    assert all(torch.equal(v, model.columns[0].state_dict()[k]) for k, v in ladder.items())
    head = model.columns[1].head.state_dict()
    assert any(not torch.equal(head[k], head_before[k]) for k in head)  # the head did train
    assert not model.columns[1].trunk.training and model.columns[1].training


def test_a_head_is_never_loaded_onto_another_trunk():
    random0 = build_column("alexnet", seed=1, head=[8, 4], pretrained=False, trunk_seed=0)
    random1 = build_column("alexnet", seed=1, head=[8, 4], pretrained=False, trunk_seed=1)
    with pytest.raises(KernelInputError, match=r"trained on a random trunk \(trunk_seed 0\).*trunk \(trunk_seed 1\)"):
        random1.load_state_dict(random0.state_dict())


def test_no_lateral_enters_the_trunk():
    column = build_column("alexnet", seed=1, head=[8, 4], pretrained=False)
    with pytest.raises(KernelInputError, match="a lateral may enter its head"):
        column.forward_layer(1, torch.zeros(2, 9216), extra=[torch.zeros(2, 9216)])


def _trained_head(tmp_path, scale: float, placement: str, batch_norm: bool) -> dict:
    """The trainable parameters after 20 Adam steps of an fc source (frozen, flat784) + cached-AlexNet-head network,
    its pool5 features multiplied by `scale` (the same data and seed otherwise)."""
    spec = _ladder_and_alexnet(tmp_path, placement, pretrained=False, features="cached", batch_norm=batch_norm)
    g = torch.Generator().manual_seed(0)
    flat, pool5 = torch.rand(64, 784, generator=g), torch.relu(torch.randn(64, 9216, generator=g)) * 0.03
    y = torch.randint(0, 10, (64,), generator=g)
    model = build_model("progressive", seed=3, spec=spec)
    trainer = SupervisedTrainer(model, ViewInputs({"flat784": flat, "alexnet-features": pool5 * scale}), y,
                                epochs_planned=1, lr=0.002, decay_fraction=0.0, seed=3)
    trainer.train_epoch(iterations=20, batch_size=16)
    return {k: v.detach().clone() for k, v in model.named_parameters() if v.requires_grad}


def _largest_difference(a: dict, b: dict) -> float:
    return max(float((a[k] - b[k]).abs().max()) for k in a)


def test_with_batch_norm_and_laterals_after_it_the_trunks_scale_cannot_matter(tmp_path):
    """The paper's 30.43 %: AlexNet's pool5 at its own scale beside MNIST-trained layers. With the head's batch norm
    and the laterals added after it (post_norm), BN(W c h) = BN(W h): training follows the same path whatever the
    trunk's scale c (the learnable scalars alone weigh the laterals), up to the batch norm's epsilon (1e-10 against
    the variance of W c h: a trunk 10x quieter than this one's already drifts by 1e-3). Laterals added before the batch
    norm, or a head without it, give another network for every c."""
    invariant = _trained_head(tmp_path, 1.0, "post_norm", True)
    for scale in (100.0, 10.0):
        assert _largest_difference(_trained_head(tmp_path, scale, "post_norm", True), invariant) < 1e-4
    for placement, batch_norm in (("pre_norm", True), ("post_norm", False)):
        base = _trained_head(tmp_path, 1.0, placement, batch_norm)
        assert _largest_difference(_trained_head(tmp_path, 100.0, placement, batch_norm), base) > 1e-2

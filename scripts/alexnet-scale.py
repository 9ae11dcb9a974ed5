"""The scale mismatch the paper blames for its 30.43 % (Progressive AlexNet), measured on a CPU in minutes.

A fully-connected head on AlexNet's pool5 features of MNIST-M, with laterals from a frozen MNIST ladder column, trained
with and without the head's batch norm and the laterals' learnable scalar. It prints, for each variant, the scale of
what enters the head's first layer (the trunk's W h against each lateral's adapter output, RMS over a batch, at
initialisation) and the test accuracy after each epoch, as a Markdown table (docs/alexnet.md holds a run of it).

Small on purpose: a subset of the MNIST-M pool [29500, 59001) (the target's images in every transfer experiment), its
AlexNet features computed here (not cached), a few short epochs. The full experiments are
experiments/transfer-mnistm-alexnet-{baseline,ladder}.yaml, run by `pladder run`.

    /usr/bin/python3 scripts/alexnet-scale.py --ladder runs/source-ladder-mnist100/seed-1/column.pt \\
        --data-dir ../shared/data [--train 3000 --test 1000 --epochs 6 --iterations 30 --pretrained]
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from py_kernels.data import features, load_split, views  # noqa: E402
from py_kernels.models import build_model  # noqa: E402
from py_kernels.models.columns.alexnet import AlexNetTrunk  # noqa: E402
from py_kernels.models.view_inputs import ViewInputs  # noqa: E402
from py_kernels.training import SupervisedTrainer, configure_cpu_runtime  # noqa: E402

HEAD = [1000, 500, 250, 250, 250, 10]
LADDER = [784, 1000, 500, 250, 250, 250, 10]
POOL_START = 29500

# name -> (laterals from the ladder?, head batch norm, adapter kind, placement)
VARIANTS = {
    "head alone, batch norm": (False, True, None, None),
    "head alone, no batch norm": (False, False, None, None),
    "ladder + head, batch norm, scalar after it (post_norm: the experiment's)": (True, True, "scalar", "post_norm"),
    "ladder + head, batch norm, scalar before it (pre_norm)": (True, True, "scalar", "pre_norm"),
    "ladder + head, no batch norm, scalar (the author's)": (True, False, "scalar", "pre_norm"),
    "ladder + head, no batch norm, no scalar": (True, False, "none", "pre_norm"),
}


def spec(ladder: str, laterals: bool, batch_norm: bool, kind: str, placement: str, pretrained: bool) -> dict:
    head = {"name": "alexnet", "architecture": "alexnet", "head": HEAD, "pretrained": pretrained, "trunk_seed": 0,
            "features": "cached", "batch_norm": batch_norm, "weights": {"from": "init"}, "frozen": False}
    if not laterals:
        return {"columns": [head], "laterals": []}
    adapter = {"kind": kind, "placement": placement, **({"alpha_init": 0.1} if kind == "scalar" else {})}
    source = {"name": "mnist", "architecture": "fc", "widths": LADDER, "batch_norm": True,
              "weights": {"from": "file", "path": ladder}, "frozen": True}
    # the paper's wiring ("all"): ladder layer l -> head layer l + 1 (layer 1 of the alexnet column is its trunk)
    return {"columns": [source, head], "laterals": [
        {"from": {"column": 0, "layer": l}, "to": {"column": 1, "layer": l + 1}, "adapter": adapter}
        for l in range(1, len(LADDER) - 1)]}


def inputs_for(model, x: ViewInputs):
    """x as the model takes it: the one view's tensor when its columns read one view, else the views it reads."""
    read = list(model.input_shapes)
    return x.of(read[0]) if len(read) == 1 else ViewInputs({view: x.of(view) for view in read})


def rms(t: torch.Tensor) -> float:
    return float(t.pow(2).mean().sqrt())


@torch.no_grad()
def entry_scales(model, x: ViewInputs) -> str:
    """RMS of the trunk's W h and of each lateral's adapter output entering the head's first layer (layer 2)."""
    hs = model.layer_outputs(x, every_column=True)
    k = len(model.columns) - 1
    parts = [f"W h {rms(hs[k][1] @ model.columns[k].head[0].weight.T):.3g}"]
    for i in model.incoming[k][1]:
        lat = model.config.laterals[i]
        parts.append(f"lateral {rms(model.laterals[i](hs[lat.from_column][lat.from_layer])):.3g}")
    return ", ".join(parts)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--ladder", required=True, help="a trained ladder column file (a run's column.pt)")
    parser.add_argument("--data-dir", required=True, help="the directory holding mnist-m/{train,test}.npz")
    parser.add_argument("--train", type=int, default=3000)
    parser.add_argument("--test", type=int, default=1000)
    parser.add_argument("--epochs", type=int, default=6)
    parser.add_argument("--iterations", type=int, default=30)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--pretrained", action="store_true", help="ImageNet weights (torchvision's cache)")
    parser.add_argument("--feature-scales", default="1,100",
                        help="pool5 multiplied by each of these in turn: a trunk as loud as another's")
    args = parser.parse_args()
    configure_cpu_runtime()

    train_images, train_labels = load_split("mnist-m", "train", args.data_dir)
    test_images, test_labels = load_split("mnist-m", "test", args.data_dir)
    train_images = train_images[POOL_START:POOL_START + args.train]
    train_labels = torch.from_numpy(train_labels[POOL_START:POOL_START + args.train])
    test_images, test_labels = test_images[:args.test], torch.from_numpy(test_labels[:args.test])

    trunk = AlexNetTrunk(args.pretrained, 0)
    started = time.perf_counter()
    x_train = ViewInputs({"flat784": views.flat784(train_images),
                          "alexnet-features": features.compute(train_images, trunk, torch.device("cpu"))})
    x_test = ViewInputs({"flat784": views.flat784(test_images),
                         "alexnet-features": features.compute(test_images, trunk, torch.device("cpu"))})
    seconds = time.perf_counter() - started
    pool5, images = x_train.of("alexnet-features"), args.train + args.test
    print(f"AlexNet ({'ImageNet' if args.pretrained else 'RANDOM, trunk_seed 0'}) pool5 of {images} images in "
          f"{seconds:.0f} s ({images / seconds:.1f} images/s); pool5 RMS {rms(pool5):.3g}, max {float(pool5.max()):.3g}",
          flush=True)
    with torch.no_grad():
        ladder = build_model("progressive", seed=0,
                             spec=spec(args.ladder, True, True, "scalar", "pre_norm", args.pretrained))
        h = ladder.eval().layer_outputs(x_train[:500], every_column=True)[0]
    print("ladder layer RMS (post-ReLU, layers 1-5): " + ", ".join(f"{rms(t):.3g}" for t in h[1:-1]), flush=True)

    print(f"\n| pool5 x | variant | what enters the head's first layer at init (RMS) | test accuracy per epoch "
          f"({args.epochs} x {args.iterations} iterations of 100) | alphas after |")
    print("|---|---|---|---|---|")
    for scale in (float(c) for c in args.feature_scales.split(",")):
        scaled = lambda x: ViewInputs({**x.tensors, "alexnet-features": x.of("alexnet-features") * scale})
        train, test = scaled(x_train), scaled(x_test)
        for name, (laterals, batch_norm, kind, placement) in VARIANTS.items():
            model = build_model("progressive", seed=args.seed, spec=spec(
                args.ladder, laterals, batch_norm, kind or "scalar", placement or "pre_norm", args.pretrained))
            scales = entry_scales(model.eval(), train[:500])
            trainer = SupervisedTrainer(model, inputs_for(model, train), train_labels, epochs_planned=args.epochs,
                                        lr=0.002, decay_fraction=1 / 3, seed=args.seed)
            accuracies = []
            for _ in range(args.epochs):
                trainer.train_epoch(iterations=args.iterations, batch_size=100)
                accuracies.append(trainer.evaluate(inputs_for(model, test), test_labels)["accuracy"])
            alphas = [float(p) for n, p in model.named_parameters() if n.endswith("alpha")]
            shown_alphas = ", ".join(f"{a:.3g}" for a in alphas) if alphas else "-"
            print(f"| {scale:g} | {name} | {scales} | {' '.join(f'{100 * a:.1f}' for a in accuracies)} | "
                  f"{shown_alphas} |", flush=True)


if __name__ == "__main__":
    main()

"""The scale mismatch the paper blames for its 30.43 % (Progressive AlexNet), measured on a CPU in minutes.

A fully-connected head on AlexNet's pool5 features of MNIST-M, with laterals from a frozen MNIST ladder column, trained
with and without the head's batch norm and the laterals' learnable scalar, for pool5 as it is and multiplied (a trunk
as much louder than the ladder as the random one is quieter). For each variant and seed: the scale of what enters the
head's first layer (the trunk's W h against each lateral's adapter output, RMS over a batch, at initialisation) and
the test accuracy after each epoch. Test-time batch-norm statistics are those of the training images (the runs'
`population_statistics`), so that an epoch's accuracy is not one batch's running average.

It writes OUT.json (every number, with the command, machine, commit and date) and OUT.md (tables drawn from it);
docs/alexnet.md reads them. Small on purpose: a subset of the MNIST-M pool [29500, 59001) (the target's images in every
transfer experiment), its AlexNet features computed here (not cached), a few short epochs. The full experiments are
experiments/transfer-mnistm-alexnet-{baseline,ladder}.yaml, run by `pladder run`.

    /usr/bin/python3 scripts/alexnet-scale.py --ladder runs/source-ladder-mnist100/seed-1/column.pt \
        --data-dir ../shared/data [--seeds 1,2 --train 3000 --test 1000 --epochs 6 --iterations 30 --pretrained]
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from datetime import datetime, timezone
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


def provenance() -> dict:
    """What the JSON says of where it was measured: the command, machine, torch, commit and date."""
    try:
        commit = subprocess.run(["git", "rev-parse", "--short=10", "HEAD"], capture_output=True, text=True,
                                check=True).stdout.strip()
        dirty = bool(subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], capture_output=True,
                                    text=True, check=True).stdout.strip())
    except (OSError, subprocess.CalledProcessError):
        commit, dirty = None, None
    return {"command": " ".join(["scripts/alexnet-scale.py", *sys.argv[1:]]), "commit": commit,
            "uncommitted_changes": dirty, "date": datetime.now(timezone.utc).strftime("%Y-%m-%d"),
            "machine": f"{os.cpu_count()} x {platform.processor() or platform.machine()}, {platform.system()}",
            "torch": torch.__version__}


def markdown(record: dict) -> str:
    """OUT.md: the final accuracy of each variant per pool5 scale and seed, then every epoch, from the JSON alone."""
    rows, seeds = record["rows"], record["settings"]["seeds"]
    scales = sorted({r["pool5_scale"] for r in rows})
    final = {(r["variant"], r["pool5_scale"], r["seed"]): r["test_accuracy"][-1] for r in rows}
    s = record["settings"]
    lines = [
        f"<!-- written by {record['command']}; every number is in {record['json']} -->",
        f"AlexNet {record['trunk']}; pool5 RMS {record['pool5_rms']:.3g} (max {record['pool5_max']:.3g}); ladder "
        f"layers 1-5 RMS {', '.join(f'{v:.3g}' for v in record['ladder_rms'])}. {s['train']} training images of the "
        f"MNIST-M pool from {POOL_START}, the first {s['test']} test images, {s['epochs']} epochs of "
        f"{s['iterations']} iterations of 100, test-time batch-norm statistics of "
        f"{s['population'] or 'the running averages'} training images. Commit {record['commit']}, {record['date']}, "
        f"{record['machine']}, torch {record['torch']}.",
        "",
        "Test accuracy (%) after the last epoch, seed " + " / ".join(map(str, seeds)) + ":",
        "",
        "| variant | " + " | ".join(f"pool5 x{c:g}" for c in scales) + " |",
        "|---|" + "---|" * len(scales),
    ]
    for variant in VARIANTS:
        cells = [" / ".join(f"{100 * final[(variant, c, seed)]:.1f}" for seed in seeds) for c in scales]
        lines.append(f"| {variant} | " + " | ".join(cells) + " |")
    lines += ["", "Every epoch, and what enters the head's first layer at initialisation (RMS):", "",
              "| pool5 x | seed | variant | entering layer 2 | test accuracy per epoch (%) | alphas after |",
              "|---|---|---|---|---|---|"]
    for r in rows:
        alphas = ", ".join(f"{a:.3g}" for a in r["alphas"]) or "-"
        lines.append(f"| {r['pool5_scale']:g} | {r['seed']} | {r['variant']} | {r['entering']} | "
                     f"{' '.join(f'{100 * a:.1f}' for a in r['test_accuracy'])} | {alphas} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--ladder", required=True, help="a trained ladder column file (a run's column.pt)")
    parser.add_argument("--data-dir", required=True, help="the directory holding mnist-m/{train,test}.npz")
    parser.add_argument("--train", type=int, default=3000)
    parser.add_argument("--test", type=int, default=1000)
    parser.add_argument("--epochs", type=int, default=6)
    parser.add_argument("--iterations", type=int, default=30)
    parser.add_argument("--seeds", default="1,2", help="the heads' seeds, each a run of every variant")
    parser.add_argument("--population", type=int, default=None,
                        help="test-time BN statistics of this many training images (default: all of them; "
                             "0: the running averages)")
    parser.add_argument("--pretrained", action="store_true", help="ImageNet weights (torchvision's cache)")
    parser.add_argument("--feature-scales", default="1,100",
                        help="pool5 multiplied by each of these in turn: a trunk as loud as another's")
    parser.add_argument("--out", default="docs/alexnet-scale", help="writes OUT.json and OUT.md")
    args = parser.parse_args()
    configure_cpu_runtime()
    seeds = [int(v) for v in args.seeds.split(",")]
    population = args.train if args.population is None else (args.population or None)

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
    pool5 = x_train.of("alexnet-features")
    with torch.no_grad():
        ladder = build_model("progressive", seed=0,
                             spec=spec(args.ladder, True, True, "scalar", "pre_norm", args.pretrained))
        h = ladder.eval().layer_outputs(x_train[:500], every_column=True)[0]
    record = {**provenance(), "json": f"{args.out}.json",
              "trunk": "ImageNet (pretrained)" if args.pretrained else "RANDOM (pretrained: false, trunk_seed 0)",
              "feature_seconds": seconds, "pool5_rms": rms(pool5), "pool5_max": float(pool5.max()),
              "ladder_rms": [rms(t) for t in h[1:-1]],
              "settings": {"seeds": seeds, "train": args.train, "test": args.test, "epochs": args.epochs,
                           "iterations": args.iterations, "population": population, "ladder": args.ladder,
                           "pool5_scales": [float(c) for c in args.feature_scales.split(",")]},
              "rows": []}
    print(f"pool5 of {args.train + args.test} images in {seconds:.0f} s; RMS {record['pool5_rms']:.3g}", flush=True)
    for seed in seeds:
        for scale in record["settings"]["pool5_scales"]:
            scaled = lambda x: ViewInputs({**x.tensors, "alexnet-features": x.of("alexnet-features") * scale})
            train, test = scaled(x_train), scaled(x_test)
            for name, (laterals, batch_norm, kind, placement) in VARIANTS.items():
                model = build_model("progressive", seed=seed, spec=spec(
                    args.ladder, laterals, batch_norm, kind or "scalar", placement or "pre_norm", args.pretrained))
                entering = entry_scales(model.eval(), train[:500])
                trainer = SupervisedTrainer(model, inputs_for(model, train), train_labels, epochs_planned=args.epochs,
                                            lr=0.002, decay_fraction=1 / 3, seed=seed, population_examples=population)
                accuracies = []
                for _ in range(args.epochs):
                    trainer.train_epoch(iterations=args.iterations, batch_size=100)
                    accuracies.append(trainer.evaluate(inputs_for(model, test), test_labels)["accuracy"])
                alphas = [float(p) for n, p in model.named_parameters() if n.endswith("alpha")]
                record["rows"].append({"seed": seed, "pool5_scale": scale, "variant": name, "entering": entering,
                                       "test_accuracy": accuracies, "alphas": alphas})
                print(f"seed {seed}, pool5 x{scale:g}, {name}: {' '.join(f'{100 * a:.1f}' for a in accuracies)}",
                      flush=True)
    with open(f"{args.out}.json", "w") as f:
        json.dump(record, f, indent=1)
    with open(f"{args.out}.md", "w") as f:
        f.write(markdown(record))
    print(f"written: {args.out}.json, {args.out}.md")


if __name__ == "__main__":
    main()

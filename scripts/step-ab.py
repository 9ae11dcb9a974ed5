"""A/B of one training step between two checkouts, for a developer changing the step (not part of the test suite):

    for repo in ../old-checkout .; do /usr/bin/python3 scripts/step-ab.py $repo ladder 20; done

prints the milliseconds per step (the median of 3 slices of ITERATIONS steps, after 3 warm-up steps) of the chosen
network on random data, with the trainers' CPU settings: KIND ladder (experiments/ladder-mnist100.yaml's network),
conv (conv-gamma-mnist100.yaml's) or progressive (an fc source column, frozen, beside a target column, scalar
adapters on every lateral). Alternate the checkouts a few times: the machine's load drifts."""
import statistics
import sys

if len(sys.argv) != 4 or sys.argv[2] not in ("ladder", "conv", "progressive"):
    sys.exit("usage: step-ab.py REPO ladder|conv|progressive ITERATIONS")
sys.path.insert(0, sys.argv[1])

import torch  # noqa: E402

from py_kernels.models import build_model  # noqa: E402
from py_kernels.training import LadderTrainer, SupervisedTrainer, configure_cpu_runtime  # noqa: E402

configure_cpu_runtime()
kind, iterations = sys.argv[2], int(sys.argv[3])
generator = torch.Generator().manual_seed(0)
x = torch.rand(2000, 784, generator=generator)
y = torch.randint(0, 10, (2000,), generator=generator)
widths = [784, 1000, 500, 250, 250, 250, 10]
if kind == "progressive":
    def column(name, frozen):
        return {"name": name, "architecture": "fc", "widths": widths, "batch_norm": True, "frozen": frozen,
                "weights": {"from": "init"}}
    laterals = [{"from": {"column": 0, "layer": l}, "to": {"column": 1, "layer": l + 1},
                 "adapter": {"kind": "scalar", "alpha_init": 0.1, "placement": "pre_norm"}}
                for l in range(1, len(widths) - 1)]
    net = build_model("progressive", seed=1, spec={"columns": [column("source", True), column("target", False)],
                                                    "laterals": laterals})
    trainer = SupervisedTrainer(net, x, y, epochs_planned=100, lr=0.002, decay_fraction=0.0, seed=1)

    def run(k):
        return trainer.train_epoch(k, 100)["seconds"]
else:
    net = (build_model("conv_ladder", seed=1, channels=[32, 64, 64, 128, 10, 10], noise_std=0.3, denoising_weight=1)
           if kind == "conv" else
           build_model("ladder", seed=1, widths=widths, noise_std=0.3,
                       denoising_weights=[1000, 10, 0.1, 0.1, 0.1, 0.1, 0.1], gamma_only=False))
    trainer = LadderTrainer(net, x[:100], y[:100], x, epochs_planned=150, lr=0.002, decay_fraction=1 / 3, seed=1)

    def run(k):
        return trainer.train_epoch(k, labeled_batch=100, unlabeled_batch=100)["seconds"]
run(3)
print(f"{statistics.median(run(iterations) / iterations * 1000 for _ in range(3)):.1f}")

"""The AlexNet column ("alexnet"): torchvision's AlexNet as a frozen feature trunk on 224x224 images, with a trainable
fully-connected head above it (the paper's Figure 4, "Progressive AlexNet"; its head also takes laterals).

Layers (`layer_shapes`; per example):
    0     the input: an imagenet224 image (3, 224, 224) ("live"), or its trunk output, precomputed (9216,) ("cached")
    1     the trunk: AlexNet's features (five convolutions, the last max-pooled) -> adaptive average pool 6x6 ->
          flatten: pool5, (256*6*6,) = (9216,), "the output of the last convolutional layer" the paper fed its head
    2..L  the head, `head` widths (classes last), each layer as the "fc" column's: z = BN(W h) (no affine; z = W h
          without batch norm), h = ReLU(z + beta), logits = gamma * (z + beta) (fc.FCLayer)

The trunk is torchvision's `AlexNet` module (torchvision never reads or downloads a file here): its weights are
ImageNet's from torchvision's own cache (models/alexnet_weights.py), or with `pretrained: false` torchvision's own
initialisation drawn from `trunk_seed`, which every result labels as a RANDOM AlexNet. It is always frozen: no
gradients, eval mode whatever the column's mode (AlexNet has dropout only in the classifier, which is not used), run
under no_grad.

"cached": the column reads the trunk's output for the whole dataset, computed once and kept on disk (the
`alexnet-features` view, py_kernels/data/features.py), and layer 1 passes it through; no trunk is built. Layer numbers,
the head and its laterals are the same in both modes, and so are the numbers (tests/test_alexnet_features.py holds
cached features, and a head's output on them, equal to the live trunk's bit for bit).

Laterals enter the head (layers 2..L), never the trunk (layer 1). The scale the paper blames for its 30.43 % (AlexNet's
raw pool5 beside MNIST-trained layers) is what the head's batch norm takes away: layer 2 normalises each unit of W h
over the batch, BN(W c h) = BN(W h) for any scale c of the trunk, and laterals added after it ("post_norm", the
experiment's placement) are weighed against it by their learnable scalars alone, so the trunk's scale cannot change
the training (tests/test_alexnet.py; docs/alexnet.md measures heads without batch norm or without the scalar).

State: the head (`head.{i}.weight`, `.beta`, `.gamma` on the top layer, `.running_mean`/`.running_var` with batch norm),
the buffer `trunk_source` = [1 if ImageNet weights else 0, trunk_seed] (a column file or model.pt says which trunk its
head was trained on, and a head is never loaded onto another trunk), and in "live" mode the trunk's tensors
(`trunk.features.*`, torchvision's names).
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Dict, List, Optional, Sequence, Tuple

import torch
import torch.nn as nn

from ...errors import KernelInputError
from .. import alexnet_weights
from .._api import register_column, seeded_generator
from ..column_api import Column, Shape
from .fc import FCLayer

FEATURES = 256 * 6 * 6           # pool5, flattened
IMAGE: Shape = (3, 224, 224)     # the imagenet224 view
FEATURE_VIEW = "alexnet-features"
MODES = ("live", "cached")


class AlexNetTrunk(nn.Module):
    """torchvision's AlexNet up to pool5: x (B, 3, 224, 224) ImageNet-normalised -> features (B, 9216). Frozen.

    Weights: `state` when given (a column file's trunk), else the ImageNet file (pretrained), else torchvision's own
    initialisation drawn from `trunk_seed` (without touching the global RNG)."""

    def __init__(self, pretrained: bool, trunk_seed: int, state: Optional[Dict[str, torch.Tensor]] = None):
        super().__init__()
        from torchvision.models import AlexNet  # imported here: only a column that computes features needs it

        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(int(trunk_seed))
            net = AlexNet()
        if state is None and pretrained:
            state = alexnet_weights.load_imagenet_state()
            where = f"AlexNet weights file {alexnet_weights.weights_path()}"
        else:
            where = "the column file's trunk"
        self.features, self.avgpool = net.features, net.avgpool
        if state is not None:
            try:  # the whole file must be torchvision's AlexNet (classifier included); the trunk keeps its features
                (net if any(k.startswith("classifier.") for k in state) else self).load_state_dict(state)
            except RuntimeError as e:
                raise KernelInputError(f"{where} is not torchvision's AlexNet: {e}") from None
        self.requires_grad_(False)
        self.train(False)

    def train(self, mode: bool = True) -> "AlexNetTrunk":
        return super().train(False)  # frozen: eval mode whatever a parent's .train() asks

    @torch.no_grad()
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, 3, 224, 224) -> (B, 9216)."""
        return torch.flatten(self.avgpool(self.features(x)), 1)


def trunk_sha256(trunk: AlexNetTrunk) -> str:
    """One hash over the trunk's tensors (names and bytes, in name order): the identity of the features it computes,
    whichever file or seed the weights came from."""
    digest = hashlib.sha256()
    for name, tensor in sorted(trunk.state_dict().items()):
        digest.update(name.encode())
        digest.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    return digest.hexdigest()


@dataclass(frozen=True)
class AlexNetColumnConfig:
    head: Tuple[int, ...]      # the head's widths above pool5, classes last, e.g. (1000, 500, 250, 250, 250, 10)
    pretrained: bool = True    # ImageNet weights (torchvision's file); False: a random trunk from trunk_seed
    trunk_seed: int = 0        # the random trunk's seed (pretrained: false)
    features: str = "cached"   # "live": the trunk runs on imagenet224 images; "cached": precomputed pool5 features
    batch_norm: bool = True    # the head's batch norm

    def __post_init__(self) -> None:
        object.__setattr__(self, "head", tuple(int(w) for w in self.head))
        if not self.head or any(w < 1 for w in self.head):
            raise KernelInputError(f"an alexnet column's head must be one or more positive widths (classes last), "
                                   f"got {list(self.head)}")
        for name in ("pretrained", "batch_norm"):
            if not isinstance(getattr(self, name), bool):
                raise KernelInputError(f"an alexnet column's {name} must be true or false, got {getattr(self, name)!r}")
        if self.features not in MODES:
            raise KernelInputError(f"an alexnet column's features must be one of {', '.join(MODES)}, "
                                   f"got {self.features!r}")
        if isinstance(self.trunk_seed, bool) or not isinstance(self.trunk_seed, int) or not 0 <= self.trunk_seed < 2**24:
            raise KernelInputError(f"an alexnet column's trunk_seed must be a whole number in 0..{2**24 - 1} "
                                   f"(it is kept as a float32 in the column's state), got {self.trunk_seed!r}")

    @property
    def input_view(self) -> str:
        return "imagenet224" if self.features == "live" else FEATURE_VIEW

    @property
    def view_options(self) -> Optional[dict]:
        """What the `alexnet-features` view needs to be computed (None for the live column's imagenet224)."""
        return None if self.features == "live" else {"pretrained": self.pretrained, "trunk_seed": self.trunk_seed}

    @property
    def layer_shapes(self) -> Tuple[Shape, ...]:
        return (IMAGE if self.features == "live" else (FEATURES,), (FEATURES,), *((w,) for w in self.head))


class AlexNetColumn(Column):
    """x (B, 3, 224, 224) ("live") or (B, 9216) ("cached") -> pool5 (B, 9216) -> head ... -> logits (B, head[-1])."""

    input_view = "imagenet224"  # the live column's; a cached one reads config.input_view ("alexnet-features")

    def __init__(self, config: AlexNetColumnConfig, generator: Optional[torch.Generator] = None,
                 trunk_state: Optional[Dict[str, torch.Tensor]] = None):
        super().__init__()
        self.config = config
        self.trunk = AlexNetTrunk(config.pretrained, config.trunk_seed, trunk_state) if config.features == "live" \
            else None
        widths = (FEATURES, *config.head)
        self.head = nn.ModuleList(
            FCLayer(widths[i - 1], widths[i], top=(i == len(widths) - 1), generator=generator,
                    batch_norm=config.batch_norm) for i in range(1, len(widths)))
        self.register_buffer("trunk_source", torch.tensor([float(config.pretrained), float(config.trunk_seed)]))
        self.frozen = False

    @property
    def cpu_pool(self) -> str:  # type: ignore[override]
        """A live trunk's convolutions dominate its step; on cached features the head is matrix products."""
        return "torch" if self.trunk is not None else "blas"

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x (B, *layer_shapes[0]) -> logits (B, head[-1])."""
        return self.activations(x)[-1]

    def activations(self, x: torch.Tensor) -> List[torch.Tensor]:
        """x -> [pool5 (B, 9216), h_2 (B, head[0]), ..., logits (B, head[-1])]."""
        out, h = [], x
        for l in range(1, self.depth + 1):
            h = self.forward_layer(l, h)
            out.append(h)
        return out

    def forward_layer(self, l: int, h: torch.Tensor, extra: Sequence[torch.Tensor] = (),
                      weight_deltas: Sequence[torch.Tensor] = (), post: Sequence[torch.Tensor] = ()) -> torch.Tensor:
        """Layer 1: the trunk, x -> pool5 (B, 9216) (the cached input passed through); it takes no lateral. Layer
        l >= 2: h_{l-1} (B, widths[l-1]) -> h_l (B, widths[l]) as the fc column's, extra added to W h (before the
        normalisation), post to z + beta (after it), weight_deltas to W."""
        if l == 1:
            if extra or weight_deltas or post:
                raise KernelInputError("layer 1 of an alexnet column is AlexNet's frozen trunk: a lateral may enter "
                                       "its head (layers 2 and up), not the trunk")
            if self.trunk is not None:
                return self.trunk(h)                                        # (B, 9216)
            if h.dim() != 2 or h.shape[1] != FEATURES:
                raise KernelInputError(f"a cached alexnet column reads pool5 features (B, {FEATURES}) (the "
                                       f"{FEATURE_VIEW} view), got {tuple(h.shape)}")
            return h
        return self.head[l - 2].forward_with(h, extra, weight_deltas, post)   # (B, widths[l])

    def provenance(self) -> dict:
        """What every result of a run with this column says about its trunk (alexnet_weights.provenance)."""
        return alexnet_weights.provenance(self.config.pretrained, self.config.trunk_seed)

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs):
        """Refuses a state whose head was trained on another trunk (ImageNet vs random, another trunk_seed)."""
        theirs = state_dict.get(prefix + "trunk_source")
        if isinstance(theirs, torch.Tensor) and theirs.shape == (2,) \
                and not torch.equal(theirs.detach().cpu(), self.trunk_source.cpu()):
            describe = lambda t: "ImageNet weights" if t[0] else f"a random trunk (trunk_seed {int(t[1])})"
            raise KernelInputError(f"this state's alexnet head was trained on {describe(theirs.tolist())}, but the "
                                   f"column has {describe(self.trunk_source.tolist())}; give the column the "
                                   f"pretrained / trunk_seed it was trained with")
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)

    @classmethod
    def from_state(cls, state: Dict[str, torch.Tensor]) -> "AlexNetColumn":
        """The column `export_state` wrote: head widths from `head.{i}.weight`, batch norm from the running
        statistics, the trunk's origin from `trunk_source`, "live" when the trunk's tensors are there (and then
        they are its weights: no file is read)."""
        n = 0
        while f"head.{n}.weight" in state:
            n += 1
        source = state.get("trunk_source")
        if n == 0 or not isinstance(source, torch.Tensor) or source.shape != (2,):
            raise KernelInputError(f"an alexnet column state has 'head.0.weight' and 'trunk_source', this one has "
                                   f"keys {sorted(state)[:8]}")
        trunk = {k[len("trunk."):]: v for k, v in state.items() if k.startswith("trunk.")}
        config = AlexNetColumnConfig(
            head=tuple(int(state[f"head.{i}.weight"].shape[0]) for i in range(n)),
            pretrained=bool(source[0]), trunk_seed=int(source[1]), features="live" if trunk else "cached",
            batch_norm="head.0.running_mean" in state)
        column = cls(config, trunk_state=trunk or None)
        column.load_state_dict(state)
        return column.to(state["head.0.weight"].device)


@register_column("alexnet", module=AlexNetColumn, config=AlexNetColumnConfig)
def build_alexnet_column(*, head: Sequence[int], pretrained: bool = True, trunk_seed: int = 0,
                         features: str = "cached", batch_norm: bool = True,
                         seed: Optional[int] = None) -> AlexNetColumn:
    return AlexNetColumn(AlexNetColumnConfig(tuple(head), pretrained, trunk_seed, features, batch_norm),
                         seeded_generator(seed))

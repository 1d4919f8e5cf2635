"""Feature extractors: uint8 images -> feature vectors (and class logits where there is a head).

Two are registered:

- ``inception``: Inception-v3 with the TF 2015-12-05 weights (:mod:`gan_core.metrics.inception`).
  FID/KID/IS with it are the numbers papers report.
- ``mnist``: a small CNN trained on MNIST-5k (``scripts/train_mnist_features.py`` made
  ``weights/mnist_features.safetensors``): 128-d features and a 10-class head, fast on a CPU.
  Its numbers carry the suffix ``_mnist`` ("FID-MNIST") and are NOT comparable to Inception FID.
"""

from __future__ import annotations

import functools
import hashlib
from abc import ABC, abstractmethod
from collections.abc import Iterable
from dataclasses import dataclass
from importlib import resources

import torch
import torch.nn.functional as F
from torch import Tensor, nn

__all__ = [
    "EXTRACTORS",
    "FeatureExtractor",
    "Features",
    "InceptionExtractor",
    "MnistExtractor",
    "MnistFeatureNet",
    "build_extractor",
    "extract_features",
]

MNIST_WEIGHTS = "mnist_features.safetensors"


@dataclass(frozen=True, eq=False)
class Features:
    """Features (N, D) float32 and logits (N, classes) or None, on the CPU."""

    features: Tensor
    logits: Tensor | None


class FeatureExtractor(ABC):
    """uint8 images (B, C, H, W) -> :class:`Features`. ``identity`` names the network and its
    weights: everything besides the images that the features depend on (for cache keys)."""

    name: str
    suffix: str  # appended to metric names: "" for Inception, "_mnist" for the domain net
    label: str  # how the FID of these features is shown, e.g. "FID" or "FID-MNIST"
    space: str  # what a chart of their values says of them
    note: str  # what a line naming one value adds ("Best FID (MNIST features)"); "" for Inception
    summary: str  # eval.features' description of it
    identity: str
    has_logits: bool
    device: torch.device

    @abstractmethod
    def __call__(self, images: Tensor) -> tuple[Tensor, Tensor | None]:
        """One batch: uint8 (B, C, H, W) -> features (B, D) and logits (B, K) or None."""


class InceptionExtractor(FeatureExtractor):
    name, suffix, label = "inception", "", "FID"
    space, note = "Inception", ""
    summary = "the network papers report FID with (slow on a CPU)"

    def __init__(self, device: str | torch.device = "cpu", need_logits: bool = False) -> None:
        from gan_core.metrics.inception import load_inception, to_inception_input

        self.device = torch.device(device)
        self.net = load_inception(need_logits=need_logits, device=self.device)
        self._prepare = to_inception_input
        self.has_logits = self.net.has_logits
        self.identity = self.net.identity
        self.source = self.net.source

    @torch.inference_mode()
    def __call__(self, images: Tensor) -> tuple[Tensor, Tensor | None]:
        pool, logits = self.net(self._prepare(images.to(self.device)))
        return pool.float().cpu(), None if logits is None else logits.float().cpu()


class MnistFeatureNet(nn.Module):
    """(B, 1, 28, 28) in [-1, 1] -> 128-d features (global average of the last conv block,
    after ReLU, as Inception's pool features) and 10 digit logits."""

    FEATURES = 128

    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(1, 16, 3, padding=1)
        self.conv2 = nn.Conv2d(16, 32, 3, padding=1)
        self.conv3 = nn.Conv2d(32, self.FEATURES, 3, padding=1)
        self.head = nn.Linear(self.FEATURES, 10)

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        x = F.max_pool2d(F.relu(self.conv1(x)), 2)  # (B, 16, 14, 14)
        x = F.max_pool2d(F.relu(self.conv2(x)), 2)  # (B, 32, 7, 7)
        features = F.relu(self.conv3(x)).mean(dim=(2, 3))  # (B, 128)
        return features, self.head(features)


class MnistExtractor(FeatureExtractor):
    name, suffix, label = "mnist", "_mnist", "FID-MNIST"
    space, note = "MNIST features: not comparable to Inception", "MNIST features"
    summary = ("a small digit classifier, fast on a CPU, for the MNIST sets only (values named "
               "fid_mnist etc., not comparable to Inception FID)")
    has_logits = True

    def __init__(self, device: str | torch.device = "cpu") -> None:
        self.device = torch.device(device)
        net, digest = _load_mnist_net()
        self.net = net.to(self.device)
        self.identity = f"mnist-cnn:{digest[:16]}"

    @torch.inference_mode()
    def __call__(self, images: Tensor) -> tuple[Tensor, Tensor | None]:
        if images.dtype != torch.uint8 or images.dim() != 4 or images.shape[1] not in (1, 3):
            raise ValueError(f"the MNIST extractor takes uint8 images (B, 1 or 3, H, W), got "
                             f"{images.dtype} {tuple(images.shape)}")
        x = images.to(self.device).float()
        if x.shape[1] == 3:
            x = x.mean(dim=1, keepdim=True)
        if x.shape[-2:] != (28, 28):
            x = F.interpolate(x, size=(28, 28), mode="bilinear", antialias=True,
                              align_corners=False)
        features, logits = self.net(x / 127.5 - 1)
        return features.float().cpu(), logits.float().cpu()


@functools.lru_cache(maxsize=1)
def _load_mnist_net() -> tuple[MnistFeatureNet, str]:
    from safetensors.torch import load

    blob = (resources.files("gan_core.metrics") / "weights" / MNIST_WEIGHTS).read_bytes()
    net = MnistFeatureNet()
    net.load_state_dict(load(blob))
    return net.eval().requires_grad_(False), hashlib.sha256(blob).hexdigest()


EXTRACTORS = {"inception": InceptionExtractor, "mnist": MnistExtractor}


def build_extractor(name: str, device: str | torch.device = "cpu", *,
                    need_logits: bool = False) -> FeatureExtractor:
    """A registered extractor by name; ``need_logits`` asks Inception for its classifier head."""
    if name == "inception":
        return InceptionExtractor(device, need_logits=need_logits)
    if name == "mnist":
        return MnistExtractor(device)
    raise ValueError(f"unknown feature extractor {name!r}; use one of {sorted(EXTRACTORS)}")


def extract_features(extractor: FeatureExtractor, batches: Iterable[Tensor]) -> Features:
    """Run ``extractor`` over uint8 batches and concatenate (the batches' sizes are the caller's
    memory budget)."""
    feats: list[Tensor] = []
    logits: list[Tensor] = []
    for batch in batches:
        f, lg = extractor(batch)
        feats.append(f)
        if lg is not None:
            logits.append(lg)
    if not feats:
        raise ValueError("no images to extract features from")
    return Features(torch.cat(feats), torch.cat(logits) if logits else None)

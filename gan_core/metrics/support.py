"""The birthday-paradox test of support size (Arora and Zhang 2017).

If a distribution is uniform over N items, a draw of s samples holds a duplicate with
probability 1 - prod_{i<s} (1 - i/N) ~ 1 - exp(-s(s-1) / 2N). So when duplicates are likely
(probability 1/2) at s samples, the support is about N = s(s-1) / (2 ln 2), i.e. of order s^2.

The procedure: draw s samples, flag the closest pairs in feature space
(:func:`closest_pairs`), let a person confirm or reject each flagged pair, and repeat for growing
s; :func:`estimate_support` reports the smallest s at which most draws held a confirmed
duplicate and the support size that implies.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from gan_core.metrics.fid import as_float64

__all__ = [
    "SupportEstimate",
    "closest_pairs",
    "duplicate_probability",
    "estimate_support",
    "implied_support_size",
]

_CHUNK = 1024


def duplicate_probability(s: int, support: float) -> float:
    """P(at least one duplicate among ``s`` uniform draws from ``support`` items)."""
    if s < 0 or support <= 0:
        raise ValueError(f"need s >= 0 and a positive support size, got s={s}, N={support}")
    if s > support:
        return 1.0
    # log prod (1 - i/N), summed in log space for large s
    i = np.arange(s, dtype=np.float64)
    return float(-np.expm1(np.log1p(-i / support).sum()))


def implied_support_size(s: int) -> float:
    """The N at which ``s`` draws hold a duplicate with probability about 1/2: s(s-1) / 2 ln 2."""
    if s < 2:
        raise ValueError(f"a duplicate needs at least 2 samples, got s={s}")
    return s * (s - 1) / (2 * math.log(2))


def closest_pairs(features: Tensor | np.ndarray, top: int = 20) -> list[tuple[int, int, float]]:
    """The ``top`` closest pairs (i < j, Euclidean distance), closest first: the candidates a
    person looks at. (s, D) features."""
    x = torch.from_numpy(as_float64(features))
    n = len(x)
    if n < 2 or top < 1:
        raise ValueError(f"need at least 2 samples and top >= 1, got {n} samples, top={top}")
    best: list[tuple[float, int, int]] = []
    for start in range(0, n, _CHUNK):
        d = torch.cdist(x[start:start + _CHUNK], x)  # (chunk, n)
        rows = torch.arange(start, start + len(d))[:, None]
        d[torch.arange(n)[None, :] <= rows] = float("inf")  # keep i < j only
        flat = d.flatten()
        k = min(top, int(torch.isfinite(flat).sum()))
        if k == 0:
            continue
        values, index = flat.topk(k, largest=False)
        for v, ix in zip(values.tolist(), index.tolist(), strict=True):
            best.append((v, start + ix // n, ix % n))
        best = sorted(best)[:top]
    return [(i, j, dist) for dist, i, j in best]


@dataclass(frozen=True)
class SupportEstimate:
    """``smallest_s``: the smallest draw size at which at least half the draws held a confirmed
    duplicate (None: never); ``support``: the support size that implies (None likewise);
    ``lower_bound``: without duplicates at the largest s tried, the support is likely larger
    than this."""

    smallest_s: int | None
    support: float | None
    lower_bound: float | None
    rates: dict[int, float]


def estimate_support(draws: Iterable[tuple[int, bool]]) -> SupportEstimate:
    """From (s, whether a person confirmed a duplicate in that draw of s samples) records."""
    totals: dict[int, list[int]] = {}
    for s, confirmed in draws:
        if s < 2:
            raise ValueError(f"a draw needs at least 2 samples, got s={s}")
        hits = totals.setdefault(int(s), [0, 0])
        hits[0] += int(bool(confirmed))
        hits[1] += 1
    if not totals:
        raise ValueError("no draws to estimate from: review at least one draw of samples")
    rates = {s: hit / n for s, (hit, n) in sorted(totals.items())}
    likely = [s for s, rate in rates.items() if rate >= 0.5]
    if likely:
        s = min(likely)
        return SupportEstimate(s, implied_support_size(s), None, rates)
    return SupportEstimate(None, None, implied_support_size(max(rates)), rates)

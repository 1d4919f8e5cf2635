"""Scores of real-vs-fake studies with people (pix2pix's AMT study, HYPE).

The unit of resampling is the participant, not the trial: one participant's judgments are
correlated (a keen eye stays keen), so a bootstrap over trials would give intervals that are
too narrow. Every function is pure: counts in, numbers out, the same numbers for the same seed.

    fooled, trials = per-participant counts of main trials where the fake was judged real
    rate = fooling_rate(fooled, trials)                 # pooled over trials
    low, high = bootstrap_interval(fooled, trials)      # 95%, 10,000 resamples, seed 0
    p = prob_greater(fooled_a, trials_a, fooled_b, trials_b)   # P(A fools more than B)
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

__all__ = ["ExposureQuality", "bootstrap_interval", "bootstrap_rates", "exposure_quality",
           "fooling_rate", "prob_greater"]

RESAMPLES = 10_000


def _counts(fooled: ArrayLike, trials: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    f = np.asarray(fooled, dtype=np.float64).reshape(-1)
    t = np.asarray(trials, dtype=np.float64).reshape(-1)
    if f.shape != t.shape:
        raise ValueError(f"fooled and trials need one count per participant each, got "
                         f"{f.size} and {t.size}")
    if (f < 0).any() or (f > t).any():
        raise ValueError("each participant's fooled count must lie in 0..trials")
    return f, t


def fooling_rate(fooled: ArrayLike, trials: ArrayLike) -> float:
    """Fraction of all trials in which the fake was judged real (NaN without trials)."""
    f, t = _counts(fooled, trials)
    total = t.sum()
    return float(f.sum() / total) if total > 0 else float("nan")


def bootstrap_rates(fooled: ArrayLike, trials: ArrayLike, resamples: int = RESAMPLES,
                    seed: int = 0) -> np.ndarray:
    """The pooled fooling rate of ``resamples`` bootstrap samples of the participants
    (drawn with replacement, as many as there are): (resamples,)."""
    f, t = _counts(fooled, trials)
    if f.size == 0:
        return np.full(resamples, np.nan)
    rng = np.random.default_rng(seed)
    picks = rng.integers(0, f.size, size=(resamples, f.size))  # (R, P) participant indices
    totals = t[picks].sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(totals > 0, f[picks].sum(axis=1) / totals, np.nan)


def bootstrap_interval(fooled: ArrayLike, trials: ArrayLike, level: float = 0.95,
                       resamples: int = RESAMPLES, seed: int = 0) -> tuple[float, float]:
    """Percentile bootstrap interval of the fooling rate over participants."""
    if not 0 < level < 1:
        raise ValueError(f"level must lie strictly between 0 and 1, got {level}")
    rates = bootstrap_rates(fooled, trials, resamples, seed)
    rates = rates[~np.isnan(rates)]
    if rates.size == 0:
        return float("nan"), float("nan")
    tail = (1 - level) / 2 * 100
    low, high = np.percentile(rates, [tail, 100 - tail])
    return float(low), float(high)


def prob_greater(fooled_a: ArrayLike, trials_a: ArrayLike, fooled_b: ArrayLike,
                 trials_b: ArrayLike, resamples: int = RESAMPLES, seed: int = 0) -> float:
    """P(condition A fools more than B): the share of paired bootstrap draws (A's and B's
    participants resampled independently) where A's rate is higher, ties counting half."""
    a = bootstrap_rates(fooled_a, trials_a, resamples, seed)
    b = bootstrap_rates(fooled_b, trials_b, resamples, seed + 1)  # independent streams
    keep = ~(np.isnan(a) | np.isnan(b))
    if not keep.any():
        return float("nan")
    a, b = a[keep], b[keep]
    return float(((a > b).sum() + 0.5 * (a == b).sum()) / a.size)


@dataclass(frozen=True)
class ExposureQuality:
    """How faithfully the browser showed images for the target time."""

    count: int
    mean_ms: float
    std_ms: float
    min_ms: float
    max_ms: float
    within_frame: float  # share of exposures within one frame of the target


def exposure_quality(measured_ms: ArrayLike, target_ms: float,
                     frame_ms: float = 1000 / 60) -> ExposureQuality:
    m = np.asarray(measured_ms, dtype=np.float64).reshape(-1)
    m = m[np.isfinite(m)]
    if m.size == 0:
        nan = float("nan")
        return ExposureQuality(0, nan, nan, nan, nan, nan)
    return ExposureQuality(
        count=int(m.size), mean_ms=float(m.mean()),
        std_ms=float(m.std(ddof=1)) if m.size > 1 else 0.0,
        min_ms=float(m.min()), max_ms=float(m.max()),
        within_frame=float((np.abs(m - target_ms) <= frame_ms).mean()))

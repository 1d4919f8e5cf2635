"""Fooling rate, its bootstrap interval over participants, and P(A fools more than B), against
an independent loop implementation and cases with a known answer."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from gan_core.metrics.human import (
    bootstrap_interval,
    exposure_quality,
    fooling_rate,
    prob_greater,
)

# a fixed data set: 12 participants, 40 main trials each, fooled counts
FOOLED_A = np.array([12, 15, 9, 20, 17, 11, 14, 8, 19, 16, 13, 10])
FOOLED_B = np.array([6, 9, 4, 11, 7, 5, 10, 3, 8, 6, 9, 7])
TRIALS = np.full(12, 40)


def loop_interval(fooled, trials, resamples, seed, level=0.95):
    """The textbook percentile bootstrap, one resample at a time, with Python lists."""
    rng = np.random.default_rng(seed)
    rates = []
    for _ in range(resamples):
        picks = rng.integers(0, len(fooled), size=len(fooled))
        rates.append(sum(fooled[i] for i in picks) / sum(trials[i] for i in picks))
    rates.sort()
    return rates


def test_fooling_rate_pools_trials() -> None:
    assert fooling_rate([1, 3], [4, 4]) == 0.5
    assert fooling_rate([0, 10], [10, 30]) == 0.25  # pooled, not a mean of rates
    with pytest.raises(ValueError, match="fooled count"):
        fooling_rate([5], [4])


def test_interval_matches_a_loop_implementation_with_the_same_seed() -> None:
    low, high = bootstrap_interval(FOOLED_A, TRIALS, resamples=10_000, seed=3)
    rates = np.array(loop_interval(FOOLED_A, TRIALS, 10_000, 3))
    assert low == pytest.approx(np.percentile(rates, 2.5), abs=1e-12)
    assert high == pytest.approx(np.percentile(rates, 97.5), abs=1e-12)
    assert low < fooling_rate(FOOLED_A, TRIALS) < high


def test_interval_agrees_with_scipy_bootstrap() -> None:
    """Equal trials per participant: the pooled rate is the mean of per-participant rates, so
    scipy's own percentile bootstrap of the mean (its own random stream) must agree to within
    Monte-Carlo error."""
    per_participant = FOOLED_A / TRIALS
    ref = stats.bootstrap((per_participant,), np.mean, n_resamples=10_000, method="percentile",
                          confidence_level=0.95, random_state=np.random.default_rng(1))
    low, high = bootstrap_interval(FOOLED_A, TRIALS)
    assert low == pytest.approx(ref.confidence_interval.low, abs=0.01)
    assert high == pytest.approx(ref.confidence_interval.high, abs=0.01)


def test_interval_is_seeded_and_degenerate_when_everyone_agrees() -> None:
    assert bootstrap_interval(FOOLED_A, TRIALS, seed=5) == bootstrap_interval(
        FOOLED_A, TRIALS, seed=5)
    assert bootstrap_interval([10, 10, 10], [40, 40, 40]) == (0.25, 0.25)
    low, high = bootstrap_interval([], [])
    assert np.isnan(low) and np.isnan(high)


def test_prob_greater_matches_a_loop_implementation() -> None:
    # A's draws use the seed, B's the seed + 1; the pairing of draws matters
    rng_a, rng_b = np.random.default_rng(7), np.random.default_rng(8)
    wins = 0.0
    for _ in range(4000):
        pa = rng_a.integers(0, 12, size=12)
        pb = rng_b.integers(0, 12, size=12)
        ra = FOOLED_A[pa].sum() / TRIALS[pa].sum()
        rb = FOOLED_B[pb].sum() / TRIALS[pb].sum()
        wins += 1.0 if ra > rb else 0.5 if ra == rb else 0.0
    assert prob_greater(FOOLED_A, TRIALS, FOOLED_B, TRIALS, resamples=4000, seed=7) \
        == pytest.approx(wins / 4000, abs=1e-12)


def test_prob_greater_known_cases() -> None:
    always, never = [40] * 5, [0] * 5
    assert prob_greater(always, [40] * 5, never, [40] * 5) == 1.0
    assert prob_greater(never, [40] * 5, always, [40] * 5) == 0.0
    assert prob_greater([10] * 4, [40] * 4, [10] * 4, [40] * 4) == 0.5  # ties count half
    same = prob_greater(FOOLED_A, TRIALS, FOOLED_A, TRIALS)
    assert 0.45 < same < 0.55
    assert prob_greater(FOOLED_A, TRIALS, FOOLED_B, TRIALS) > 0.99  # A clearly fools more


def test_exposure_quality_counts_frames() -> None:
    q = exposure_quality([1000, 1016, 1017, 984, 1040], 1000, frame_ms=1000 / 60)
    assert q.count == 5 and q.within_frame == pytest.approx(0.6)
    assert q.mean_ms == pytest.approx(1011.4) and q.max_ms == 1040

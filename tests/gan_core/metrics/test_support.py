"""Birthday-paradox support size: the probability, the implied support and the pair search."""

import math

import numpy as np
import pytest

from gan_core.metrics.support import (
    closest_pairs,
    duplicate_probability,
    estimate_support,
    implied_support_size,
)


def test_classic_birthday_numbers():
    assert duplicate_probability(23, 365) == pytest.approx(0.5073, abs=1e-4)
    assert duplicate_probability(2, 365) == pytest.approx(1 / 365, rel=1e-12)
    assert duplicate_probability(366, 365) == 1.0


def test_implied_support_puts_duplicates_at_even_odds():
    for s in (23, 100, 400):
        n = implied_support_size(s)
        assert n == pytest.approx(s * (s - 1) / (2 * math.log(2)))
        assert duplicate_probability(s, n) == pytest.approx(0.5, abs=0.02)


def test_estimate_takes_the_smallest_size_where_duplicates_are_likely():
    draws = [(100, False), (100, False), (200, True), (200, False), (400, True), (400, True)]
    est = estimate_support(draws)
    assert est.smallest_s == 200 and est.rates == {100: 0.0, 200: 0.5, 400: 1.0}
    assert est.support == pytest.approx(200 * 199 / (2 * math.log(2)))
    none = estimate_support([(100, False), (400, False)])
    assert none.smallest_s is None and none.lower_bound == pytest.approx(implied_support_size(400))
    with pytest.raises(ValueError, match="at least one draw"):
        estimate_support([])


def test_closest_pairs_find_planted_duplicates(monkeypatch):
    import gan_core.metrics.support as support

    monkeypatch.setattr(support, "_CHUNK", 7)  # pairs across chunk borders too
    rng = np.random.default_rng(0)
    x = rng.normal(size=(30, 5))
    x[17] = x[3] + 1e-6
    x[29] = x[8] + 2e-6
    pairs = closest_pairs(x, top=3)
    assert [(i, j) for i, j, _ in pairs[:2]] == [(3, 17), (8, 29)]
    assert pairs[0][2] < pairs[1][2] < pairs[2][2]
    assert all(i < j for i, j, _ in pairs)

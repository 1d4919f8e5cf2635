"""Mode coverage (VEEGAN/PacGAN definitions) and exact W1."""

import itertools

import numpy as np
import pytest
import torch

from gan_core.metrics.toy2d import mode_coverage, w1_exact

CENTERS = torch.tensor([[1.0, 0.0], [0.0, 1.0], [-1.0, 0.0], [0.0, -1.0]])


def test_perfect_samples_capture_every_mode():
    samples = CENTERS.repeat(25, 1) + 0.001 * torch.randn(100, 2)
    cov = mode_coverage(samples, CENTERS, sigma=0.01)
    assert cov.modes_captured == 4 and cov.hq_fraction == 1.0 and cov.counts == [25] * 4


def test_three_sigma_threshold_and_nearest_mode():
    sigma = 0.01
    samples = torch.tensor([
        [1.0 + 2.9 * sigma, 0.0],  # high quality, mode 0
        [1.0 + 3.1 * sigma, 0.0],  # just outside 3 sigma: low quality
        [0.0, 0.0],                # between modes: low quality
        [0.0, 1.0],                # mode 1
    ])
    cov = mode_coverage(samples, CENTERS, sigma=sigma)
    assert cov.counts == [1, 1, 0, 0]
    assert cov.modes_captured == 2 and cov.hq_fraction == 0.5


def test_collapsed_generator_captures_one_mode():
    samples = CENTERS[2] + 0.002 * torch.randn(2500, 2)
    cov = mode_coverage(samples, CENTERS, sigma=0.01)
    assert cov.modes_captured == 1 and cov.hq_fraction == 1.0


def test_w1_of_a_translation_is_the_shift_length():
    x = torch.randn(300, 2)
    shift = torch.tensor([0.3, -0.4])
    assert w1_exact(x, x + shift) == pytest.approx(0.5, abs=1e-6)  # float32 input
    assert w1_exact(x, x[torch.randperm(300)]) == pytest.approx(0.0, abs=1e-12)


def test_w1_matches_brute_force_over_permutations():
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(6, 2)), rng.normal(size=(6, 2))
    brute = min(
        np.mean([np.linalg.norm(a[i] - b[j]) for i, j in enumerate(perm)])
        for perm in itertools.permutations(range(6))
    )
    assert w1_exact(a, b) == pytest.approx(brute, rel=1e-12)


def test_w1_rejects_unequal_sizes_and_passes_nan_through():
    with pytest.raises(ValueError, match="equal-size"):
        w1_exact(torch.zeros(3, 2), torch.zeros(4, 2))
    assert np.isnan(w1_exact(torch.full((3, 2), float("nan")), torch.zeros(3, 2)))

"""KID and IS: properties, and parity with torch-fidelity on identical inputs."""

import numpy as np
import pytest
import torch

from gan_core.metrics.inception_score import inception_score_from_logits
from gan_core.metrics.kid import kid_features_to_metric, mmd2_unbiased, polynomial_kernel


def _features(seed: int, n: int, d: int = 32, shift: float = 0.0) -> np.ndarray:
    return np.random.default_rng(seed).normal(size=(n, d)) + shift


def test_kid_is_near_zero_for_one_distribution_and_grows_with_a_shift():
    same = kid_features_to_metric(_features(0, 300), _features(1, 300), subsets=20,
                                  subset_size=100)
    shifted = kid_features_to_metric(_features(0, 300), _features(1, 300, shift=0.5),
                                     subsets=20, subset_size=100)
    assert abs(same.mean) < 0.02
    assert shifted.mean > 0.2


def test_unbiased_mmd_matches_the_definition():
    x, y = _features(2, 6, 3), _features(3, 6, 3)
    k = polynomial_kernel
    m = 6
    expected = sum(k(x[i:i + 1], x[j:j + 1])[0, 0] for i in range(m) for j in range(m) if i != j)
    expected += sum(k(y[i:i + 1], y[j:j + 1])[0, 0] for i in range(m) for j in range(m) if i != j)
    expected /= m * (m - 1)
    expected -= 2 * k(x, y).sum() / m**2
    assert mmd2_unbiased(k(x, x), k(x, y), k(y, y)) == pytest.approx(expected, rel=1e-12)


def test_kid_rejects_subsets_larger_than_the_sets():
    with pytest.raises(ValueError, match="draw more samples"):
        kid_features_to_metric(_features(0, 50), _features(1, 50), subset_size=100)


def test_kid_parity_with_torch_fidelity(reference):
    kid = reference("torch_fidelity.metric_kid")
    real, fake = _features(4, 400), _features(5, 350, shift=0.2)
    ours = kid_features_to_metric(real, fake, subsets=10, subset_size=200)
    theirs = kid.kid_features_to_metric(
        torch.from_numpy(real), torch.from_numpy(fake), kid_subsets=10, kid_subset_size=200,
        verbose=False, kid_kernel="poly", kid_kernel_poly_degree=3, kid_kernel_poly_gamma=None,
        kid_kernel_poly_coef0=1, rng_seed=2020,
    )
    assert ours.mean > 0.01
    assert ours.mean == pytest.approx(theirs["kernel_inception_distance_mean"], rel=1e-6)
    assert ours.std == pytest.approx(theirs["kernel_inception_distance_std"], rel=1e-6)


def test_is_of_confident_uniform_classes_is_the_class_count():
    # each sample certain of its class, classes balanced: IS = number of classes
    logits = torch.full((100, 10), -50.0)
    logits[torch.arange(100), torch.arange(100) % 10] = 50.0
    score = inception_score_from_logits(logits, splits=1)
    assert score.mean == pytest.approx(10.0, rel=1e-9)
    collapsed = torch.zeros(100, 10)
    collapsed[:, 3] = 50.0  # every sample the same class: IS = 1
    assert inception_score_from_logits(collapsed, splits=5).mean == pytest.approx(1.0, rel=1e-9)


def test_is_parity_with_torch_fidelity(reference):
    isc = reference("torch_fidelity.metric_isc")
    logits = torch.from_numpy(np.random.default_rng(6).normal(scale=3, size=(230, 1008)))
    ours = inception_score_from_logits(logits)
    theirs = isc.isc_features_to_metric(logits, splits=10, shuffle=True, rng_seed=2020)
    assert ours.mean > 1.5
    assert ours.mean == pytest.approx(theirs["inception_score_mean"], rel=1e-6)
    assert ours.std == pytest.approx(theirs["inception_score_std"], rel=1e-6)


def test_is_needs_enough_samples_for_its_splits():
    with pytest.raises(ValueError, match="splits"):
        inception_score_from_logits(torch.zeros(5, 10), splits=10)

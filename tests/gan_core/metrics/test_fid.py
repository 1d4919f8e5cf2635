"""FID: closed forms, and parity with pytorch-fid's and torch-fidelity's Frechet functions."""

import warnings

import numpy as np
import pytest
import torch

from gan_core.metrics.fid import (
    GaussianStats,
    fid_features_to_statistics,
    fid_statistics_to_metric,
    trace_sqrt_product,
)


def _features(seed: int, n: int = 500, d: int = 64, shift: float = 0.0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    mixing = rng.normal(size=(d, d)) / np.sqrt(d)
    return rng.normal(size=(n, d)) @ mixing + shift


def test_fid_of_a_set_with_itself_is_zero():
    stats = fid_features_to_statistics(_features(0))
    assert fid_statistics_to_metric(stats, stats) == pytest.approx(0.0, abs=1e-9)


def test_shifted_gaussian_gives_the_closed_form():
    # same covariance, means apart by delta: FID = ||delta||^2 exactly
    d = 16
    sigma = np.diag(np.linspace(0.5, 2.0, d))
    delta = np.linspace(-1, 1, d)
    a = GaussianStats(np.zeros(d), sigma, 100)
    b = GaussianStats(delta, sigma, 100)
    assert fid_statistics_to_metric(a, b) == pytest.approx(delta @ delta, rel=1e-12)
    # isotropic scales: FID = d (s1 - s2)^2 for covariances s1^2 I and s2^2 I
    c = GaussianStats(np.zeros(d), 4.0 * np.eye(d), 100)
    e = GaussianStats(np.zeros(d), 9.0 * np.eye(d), 100)
    assert fid_statistics_to_metric(c, e) == pytest.approx(d * (2.0 - 3.0) ** 2, rel=1e-12)


def test_trace_sqrt_matches_scipy_sqrtm():
    from scipy import linalg

    s1 = np.cov(_features(1), rowvar=False)
    s2 = np.cov(_features(2), rowvar=False)
    expected = np.trace(linalg.sqrtm(s1 @ s2)).real
    assert trace_sqrt_product(s1, s2) == pytest.approx(expected, rel=1e-9)


def test_statistics_accept_tensors_and_match_numpy():
    x = _features(3, n=50, d=8)
    stats = fid_features_to_statistics(torch.from_numpy(x).float())
    np.testing.assert_allclose(stats.mu, x.mean(0), rtol=1e-5)
    np.testing.assert_allclose(stats.sigma, np.cov(x, rowvar=False), rtol=1e-4, atol=1e-6)
    assert stats.n == 50


def test_bad_input_says_what_to_change(tmp_path):
    with pytest.raises(ValueError, match="2-d"):
        fid_features_to_statistics(np.zeros(5))
    with pytest.raises(ValueError, match="at least 2"):
        fid_features_to_statistics(np.zeros((1, 4)))
    with pytest.raises(ValueError, match="NaN"):
        fid_features_to_statistics(np.full((3, 4), np.nan))
    a, b = fid_features_to_statistics(_features(0, d=4)), fid_features_to_statistics(_features(0))
    with pytest.raises(ValueError, match="same feature extractor"):
        fid_statistics_to_metric(a, b)


def test_statistics_round_trip_through_a_file(tmp_path):
    stats = fid_features_to_statistics(_features(4, d=8))
    stats.save(tmp_path / "s.npz")
    back = GaussianStats.load(tmp_path / "s.npz")
    assert back.n == stats.n and np.array_equal(back.sigma, stats.sigma)


@pytest.mark.parametrize("shift", [0.0, 0.3])
def test_parity_with_pytorch_fid_and_torch_fidelity(reference, shift):
    pytorch_fid = reference("pytorch_fid.fid_score")
    fidelity = reference("torch_fidelity.metric_fid")
    a, b = fid_features_to_statistics(_features(5)), fid_features_to_statistics(
        _features(6, shift=shift))
    ours = fid_statistics_to_metric(a, b)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # scipy's sqrtm(disp=False) deprecation, in the reference
        theirs_pf = pytorch_fid.calculate_frechet_distance(a.mu, a.sigma, b.mu, b.sigma)
    theirs_tf = fidelity.fid_statistics_to_metric(
        {"mu": a.mu, "sigma": a.sigma}, {"mu": b.mu, "sigma": b.sigma}, verbose=False
    )["frechet_inception_distance"]
    assert ours > 1.0  # a real distance, not a degenerate zero
    assert abs(ours - theirs_pf) / theirs_pf <= 1e-6
    assert abs(ours - theirs_tf) / theirs_tf <= 1e-6
    # the statistics stage too: torch-fidelity's mean and covariance of the same features
    stats_tf = fidelity.fid_features_to_statistics(torch.from_numpy(_features(5)))
    np.testing.assert_allclose(a.sigma, stats_tf["sigma"], rtol=1e-10, atol=1e-12)

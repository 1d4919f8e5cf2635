"""The divergence lesson's functions against closed forms, and the generator's gradient."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from gan_core.divergences import (
    divergence_curves,
    generator_gradient,
    js_divergence,
    kl_divergence,
    kl_gaussians,
    w1_on_line,
)


def test_point_masses_js_saturates_kl_is_infinite_w1_is_the_distance() -> None:
    curves = divergence_curves([-2.0, -0.5, 0.0, 0.001, 1.0, 3.0], sigma=0.0)
    assert curves["js"] == [math.log(2)] * 2 + [0.0] + [math.log(2)] * 3
    assert curves["kl"] == [math.inf] * 2 + [0.0] + [math.inf] * 3
    assert curves["w1"] == [2.0, 0.5, 0.0, 0.001, 1.0, 3.0]


@pytest.mark.parametrize("sigma", [0.05, 0.3, 1.0])
def test_gaussians_kl_and_w1_match_their_closed_forms(sigma: float) -> None:
    thetas = [0.0, 0.1, 0.5, 1.0, 2.0, -1.5]
    curves = divergence_curves(thetas, sigma)
    for theta, kl, w1 in zip(thetas, curves["kl"], curves["w1"], strict=True):
        assert kl == pytest.approx(kl_gaussians(0.0, sigma, theta, sigma), rel=1e-6, abs=1e-9)
        assert w1 == pytest.approx(abs(theta), rel=1e-3, abs=1e-4)


def test_js_of_gaussians_grows_to_log_2_and_is_symmetric() -> None:
    sigma = 0.05
    js = divergence_curves([0.0, 0.02, 0.05, 0.1, 0.2, 0.5, 2.0], sigma)["js"]
    assert js[0] == pytest.approx(0.0, abs=1e-12)
    assert all(a < b for a, b in itertools.pairwise(js[:-1]))  # grows with theta
    assert js[-1] == pytest.approx(math.log(2), rel=1e-9)  # disjoint supports: flat at log 2
    assert divergence_curves([-0.1], sigma)["js"][0] == pytest.approx(js[3], rel=1e-9)
    # small separations: JS ~ theta^2 / (8 sigma^2) (a quarter of KL's second-order term)
    assert js[1] == pytest.approx(0.02**2 / (8 * sigma**2), rel=0.02)


def test_the_numeric_functions_on_a_hand_made_pair() -> None:
    # two uniform densities: [0, 1) and [0.5, 1.5) on a fine grid
    x, dx = np.linspace(-1, 3, 40_001, retstep=True)
    p = ((x >= 0) & (x < 1)).astype(float)
    q = ((x >= 0.5) & (x < 1.5)).astype(float)
    with np.errstate(divide="ignore"):
        log_p, log_q = np.log(p), np.log(q)
    assert kl_divergence(log_p, log_q, dx) == math.inf  # P has mass where Q has none
    # JS: half the mass overlaps -> 2 * (1/2 * 1/2 * log 2) = log(2) / 2
    assert js_divergence(log_p, log_q, dx) == pytest.approx(math.log(2) / 2, rel=1e-3)
    assert w1_on_line(p, q, dx) == pytest.approx(0.5, rel=1e-3)
    assert kl_gaussians(0, 1, 0, 2) == pytest.approx(math.log(2) + 1 / 8 - 0.5)


@pytest.mark.slow  # trains three critics to near optimality
def test_minimax_gradient_vanishes_where_the_critics_does_not() -> None:
    far = {loss: generator_gradient(2.0, loss, sigma=0.05, d_steps=300)
           for loss in ("minimax", "nonsaturating", "wgan-gp")}
    # D separates the two: it says "real" at 0 and "fake" at theta
    d = far["minimax"]
    at = {round(x, 2): v for x, v in zip(d.x, d.d_output, strict=True)}
    assert at[0.0] > 0.99 and at[2.0] < 0.01
    assert abs(far["minimax"].grad_theta) < 0.05  # saturated: almost no signal for G
    assert far["nonsaturating"].grad_theta > 0.5  # points back towards P (theta decreases)
    assert far["wgan-gp"].grad_theta == pytest.approx(1.0, abs=0.25)  # |grad| ~ 1
    near = generator_gradient(0.1, "wgan-gp", sigma=0.05)
    assert near.grad_theta == pytest.approx(1.0, abs=0.25)


def test_bad_lesson_input_says_what_to_change() -> None:
    with pytest.raises(ValueError, match="choose one of minimax, nonsaturating, wgan-gp"):
        generator_gradient(1.0, "hinge")
    with pytest.raises(ValueError, match="theta"):
        generator_gradient(math.nan, "minimax")
    with pytest.raises(ValueError, match="sigma"):
        divergence_curves([1.0], -1.0)

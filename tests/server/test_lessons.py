"""The lessons' API: divergence curves and the generator's gradients."""

from __future__ import annotations

import math

import httpx


def test_divergence_curves_and_their_limits(api: httpx.Client) -> None:
    r = api.get("/api/lessons/divergences", params={"sigma": 0, "max_theta": 1, "points": 5})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["theta"] == [-1, -0.5, 0, 0.5, 1]
    assert body["kl"] == [None, None, 0, None, None]  # infinite KL is null in JSON
    assert body["js"] == [math.log(2), math.log(2), 0, math.log(2), math.log(2)]
    assert body["w1"] == [1, 0.5, 0, 0.5, 1]
    for params, field in [({"sigma": -1}, "sigma"), ({"points": 2}, "points"),
                          ({"max_theta": 0}, "max_theta")]:
        r = api.get("/api/lessons/divergences", params=params)
        assert r.status_code == 422 and r.json()["detail"][0]["loc"][-1] == field


def test_generator_gradients_for_the_three_losses(api: httpx.Client) -> None:
    r = api.get("/api/lessons/divergences/gradients", params={"theta": 1.5, "d_steps": 200})
    assert r.status_code == 200, r.text
    losses = {entry["loss"]: entry for entry in r.json()["losses"]}
    assert set(losses) == {"minimax", "nonsaturating", "wgan-gp"}
    assert abs(losses["minimax"]["grad_theta"]) < 0.1
    assert abs(losses["wgan-gp"]["grad_theta"] - 1) < 0.3
    assert len(losses["minimax"]["x"]) == len(losses["minimax"]["d_output"])
    r = api.get("/api/lessons/divergences/gradients", params={"theta": 50})
    assert r.status_code == 422 and r.json()["detail"][0]["loc"][-1] == "theta"

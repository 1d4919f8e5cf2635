"""Adversarial losses against closed forms, penalties against direct autograd."""

import math

import pytest
import torch
from torch import nn

from gan_core.config import LossConfig, RegularizationConfig
from gan_core.losses import LOSSES, GANObjective, clip_weights_, gradient_penalty, r1_penalty

REAL = torch.tensor([2.0, -1.0, 0.5])
FAKE = torch.tensor([-3.0, 0.0, 1.5])


def sigmoid(x: float) -> float:
    return 1 / (1 + math.exp(-x))


def mean(values: list[float]) -> float:
    return sum(values) / len(values)


def loss(name: str, **kw: float):
    return LOSSES.get(name)(LossConfig(name=name, **kw))


def test_registry_lists_every_loss_with_a_description():
    assert {"minimax", "nonsaturating", "wasserstein", "lsgan", "hinge"} <= set(LOSSES.names())
    assert all(entry["description"] for entry in LOSSES.describe())
    with pytest.raises(ValueError, match="choose one of"):
        LOSSES.get("wgan")


def test_minimax_matches_log_form():
    r, f = REAL.tolist(), FAKE.tolist()
    expected_d = -mean([math.log(sigmoid(x)) for x in r]) - mean(
        [math.log(1 - sigmoid(x)) for x in f])
    expected_g = mean([math.log(1 - sigmoid(x)) for x in f])
    assert loss("minimax").d_loss(REAL, FAKE).item() == pytest.approx(expected_d, rel=1e-6)
    assert loss("minimax").g_loss(FAKE).item() == pytest.approx(expected_g, rel=1e-6)


def test_nonsaturating_g_loss_is_minus_log_d():
    expected = -mean([math.log(sigmoid(x)) for x in FAKE.tolist()])
    assert loss("nonsaturating").g_loss(FAKE).item() == pytest.approx(expected, rel=1e-6)


def test_probabilistic_losses_are_stable_for_extreme_logits():
    extreme = torch.tensor([-200.0, 200.0])
    for name in ("minimax", "nonsaturating"):
        assert torch.isfinite(loss(name).d_loss(extreme, extreme))
        assert torch.isfinite(loss(name).g_loss(extreme))
    # -log sigmoid(-200) = 200 exactly in the stable form (sigmoid-then-log gives inf)
    assert loss("nonsaturating").g_loss(torch.tensor([-200.0])).item() == pytest.approx(200.0)


def test_wasserstein_and_hinge_closed_forms():
    r, f = REAL.tolist(), FAKE.tolist()
    assert loss("wasserstein").d_loss(REAL, FAKE).item() == pytest.approx(mean(f) - mean(r))
    assert loss("wasserstein").g_loss(FAKE).item() == pytest.approx(-mean(f))
    hinge_d = mean([max(0, 1 - x) for x in r]) + mean([max(0, 1 + x) for x in f])
    assert loss("hinge").d_loss(REAL, FAKE).item() == pytest.approx(hinge_d)
    assert loss("hinge").g_loss(FAKE).item() == pytest.approx(-mean(f))


def test_lsgan_uses_configured_targets():
    r, f = REAL.tolist(), FAKE.tolist()
    ls = loss("lsgan", lsgan_a=-1.0, lsgan_b=1.0, lsgan_c=0.0)
    expected_d = 0.5 * mean([(x - 1) ** 2 for x in r]) + 0.5 * mean([(x + 1) ** 2 for x in f])
    assert ls.d_loss(REAL, FAKE).item() == pytest.approx(expected_d)
    assert ls.g_loss(FAKE).item() == pytest.approx(0.5 * mean([x**2 for x in f]))
    default = loss("lsgan")  # a=0, b=1, c=1
    assert default.g_loss(FAKE).item() == pytest.approx(0.5 * mean([(x - 1) ** 2 for x in f]))


def test_saturating_g_loss_vanishes_when_d_rejects_fakes():
    # D confidently rejects the fakes: logits around -8 (D(G(z)) ~ 3e-4)
    logits = torch.full((16,), -8.0, requires_grad=True)
    (g_sat,) = torch.autograd.grad(loss("minimax").g_loss(logits), logits)
    (g_ns,) = torch.autograd.grad(loss("nonsaturating").g_loss(logits), logits)
    assert g_sat.norm() < g_ns.norm() / 1000


def quadratic_critic():
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(3, 16), nn.Tanh(), nn.Linear(16, 1))
    return lambda x, y=None: net(x).squeeze(1), net


def test_gradient_penalty_matches_direct_formula():
    critic, _ = quadratic_critic()
    real, fake = torch.randn(8, 3), torch.randn(8, 3)
    gp = gradient_penalty(critic, real, fake, generator=torch.Generator().manual_seed(5))
    # the same interpolation, written out as in Gulrajani et al. Algorithm 1
    eps = torch.rand(8, 1, generator=torch.Generator().manual_seed(5))
    expected = 0.0
    for i in range(8):
        x_hat = (eps[i] * real[i] + (1 - eps[i]) * fake[i]).unsqueeze(0).requires_grad_(True)
        (grad,) = torch.autograd.grad(critic(x_hat).sum(), x_hat)
        expected += (grad.norm() - 1) ** 2 / 8
    assert gp.item() == pytest.approx(expected.item(), rel=1e-5)
    assert gp.requires_grad  # it must train the critic (double backward)


def test_r1_penalty_matches_direct_formula():
    critic, _ = quadratic_critic()
    real = torch.randn(5, 3)
    expected = 0.0
    for i in range(5):
        x = real[i : i + 1].clone().requires_grad_(True)
        (grad,) = torch.autograd.grad(critic(x).sum(), x)
        expected += grad.pow(2).sum() / 5
    assert r1_penalty(critic, real).item() == pytest.approx(expected.item(), rel=1e-5)


def test_weight_clipping_bounds_every_parameter():
    net = nn.Sequential(nn.Linear(4, 8), nn.Linear(8, 1))
    with torch.no_grad():
        for p in net.parameters():
            p.mul_(100)
    clip_weights_(net, 0.01)
    assert all(p.abs().max() <= 0.01 for p in net.parameters())
    assert any((p.abs() == 0.01).any() for p in net.parameters())


def test_objective_reports_w_estimate_and_penalty():
    _, net = quadratic_critic()

    class Critic(nn.Module):
        def __init__(self):
            super().__init__()
            self.net = net

        def forward(self, x, y=None):
            return self.net(x).squeeze(1)

    D = Critic()
    objective = GANObjective(LossConfig(name="wasserstein"),
                             RegularizationConfig(gradient_penalty=10.0))
    real, fake = torch.randn(8, 3), torch.randn(8, 3)
    stats = objective.d_phase(D, real, fake, None, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        d_real, d_fake = D(real).mean(), D(fake).mean()
    assert stats["w_estimate"].item() == pytest.approx((d_real - d_fake).item(), rel=1e-5)
    assert stats["loss_d"].item() == pytest.approx(
        (d_fake - d_real + 10.0 * stats["gradient_penalty"]).item(), rel=1e-5)
    assert all(p.grad is not None for p in D.parameters())


def test_every_loss_says_what_d_outputs_and_the_registry_serves_it() -> None:
    from gan_core.losses import D_OUTPUTS, LOSSES

    described = {entry["name"]: entry for entry in LOSSES.describe()}
    assert set(described) == set(LOSSES.names())
    for name, entry in described.items():
        assert entry["d_output"] in D_OUTPUTS, name
    assert described["nonsaturating"]["d_output"] == "logit"
    assert described["wasserstein"]["d_output"] == "critic"

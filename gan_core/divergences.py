"""Why JS saturates and Wasserstein does not (Arjovsky, Chintala & Bottou 2017, Example 1).

Two distributions on a line: P centred at 0 and Q_theta centred at theta, both point masses
(``sigma`` 0: the WGAN paper's parallel lines, seen across) or Gaussians of width ``sigma``.

- Divergences as functions of theta: KL, JS and W1, numerically on a grid from the log
  densities (so that nothing underflows), with the closed forms they are checked against:
  point masses KL = inf, JS = log 2, W1 = |theta| for theta != 0; equal-width Gaussians
  KL = theta^2 / (2 sigma^2), W1 = |theta|.
- The gradient a generator gets: G is the shift theta (fakes are theta + sigma * eps); a small
  D is trained towards optimality against it with a loss of the registry, and d(G's loss)/d
  theta is read through that D. With the minimax loss it vanishes once D separates the two;
  a WGAN-GP critic keeps giving about 1.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import nn

from gan_core.config import LossConfig
from gan_core.losses import LOSSES, gradient_penalty

__all__ = [
    "LESSON_LOSSES",
    "GeneratorGradient",
    "divergence_curves",
    "generator_gradient",
    "generator_gradients",
    "js_divergence",
    "kl_divergence",
    "kl_gaussians",
    "w1_on_line",
]

LN2 = math.log(2.0)
# the lesson's three ways to train D: (registry loss, gradient-penalty weight)
LESSON_LOSSES: dict[str, tuple[str, float]] = {
    "minimax": ("minimax", 0.0),
    "nonsaturating": ("nonsaturating", 0.0),
    "wgan-gp": ("wasserstein", 10.0),
}


# -- divergences -------------------------------------------------------------------------------

def _log_gaussian(x: np.ndarray, mean: float, sigma: float) -> np.ndarray:
    return -0.5 * ((x - mean) / sigma) ** 2 - math.log(sigma * math.sqrt(2 * math.pi))


def kl_divergence(log_p: np.ndarray, log_q: np.ndarray, dx: float) -> float:
    """KL(P || Q) = integral p (log p - log q) dx from log densities on an even grid."""
    p = np.exp(log_p)
    if np.any((p > 0) & np.isneginf(log_q)):
        return math.inf
    keep = p > 0
    return float(np.sum(p[keep] * (log_p[keep] - log_q[keep])) * dx)


def js_divergence(log_p: np.ndarray, log_q: np.ndarray, dx: float) -> float:
    """JS(P, Q) = KL(P || M) / 2 + KL(Q || M) / 2 with M = (P + Q) / 2 (natural log: at most
    log 2, reached when the supports are disjoint)."""
    log_m = np.logaddexp(log_p, log_q) - LN2
    return 0.5 * kl_divergence(log_p, log_m, dx) + 0.5 * kl_divergence(log_q, log_m, dx)


def w1_on_line(p: np.ndarray, q: np.ndarray, dx: float) -> float:
    """W1(P, Q) = integral |F_P - F_Q| dx on a line (densities on an even grid)."""
    return float(np.sum(np.abs(np.cumsum(p) - np.cumsum(q))) * dx * dx)


def kl_gaussians(mu1: float, sigma1: float, mu2: float, sigma2: float) -> float:
    """KL(N(mu1, sigma1^2) || N(mu2, sigma2^2)), the closed form."""
    return (math.log(sigma2 / sigma1) + (sigma1**2 + (mu1 - mu2) ** 2) / (2 * sigma2**2)
            - 0.5)


def divergence_curves(thetas: list[float] | np.ndarray, sigma: float,
                      points: int = 20_001) -> dict[str, list[float]]:
    """KL(P || Q_theta), JS and W1 for each theta; ``sigma`` 0 means point masses (the
    closed forms; there is no density to integrate)."""
    thetas = np.asarray(thetas, dtype=np.float64)
    if sigma < 0:
        raise ValueError(f"sigma must be >= 0, got {sigma}")
    if sigma == 0:
        apart = thetas != 0
        return {"theta": thetas.tolist(),
                "kl": [math.inf if a else 0.0 for a in apart],
                "js": [LN2 if a else 0.0 for a in apart],
                "w1": np.abs(thetas).tolist()}
    reach = float(np.abs(thetas).max(initial=0.0)) + 10 * sigma
    x, dx = np.linspace(-reach, reach, points, retstep=True)
    log_p = _log_gaussian(x, 0.0, sigma)
    p = np.exp(log_p)
    out: dict[str, list[float]] = {"theta": thetas.tolist(), "kl": [], "js": [], "w1": []}
    for theta in thetas:
        log_q = _log_gaussian(x, float(theta), sigma)
        out["kl"].append(kl_divergence(log_p, log_q, dx))
        out["js"].append(js_divergence(log_p, log_q, dx))
        out["w1"].append(w1_on_line(p, np.exp(log_q), dx))
    return out


# -- the gradient a generator gets --------------------------------------------------------------

class _LineCritic(nn.Module):
    """A small MLP from a point on the line to a logit or critic value."""

    def __init__(self, width: int = 64) -> None:
        super().__init__()
        self.main = nn.Sequential(nn.Linear(1, width), nn.LeakyReLU(0.2),
                                  nn.Linear(width, width), nn.LeakyReLU(0.2),
                                  nn.Linear(width, 1))

    def forward(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        return self.main(x).squeeze(1)  # (B, 1) -> (B,)


@dataclass
class GeneratorGradient:
    loss: str
    theta: float
    x: list[float]  # where D is shown
    d_output: list[float]  # D(x): the probability "real" (minimax, nonsaturating) or the critic
    grad_theta: float  # d(G's loss)/d theta through the trained D
    d_steps: int
    seconds: float


def _train_critic(theta: float, loss: str, sigma: float, d_steps: int, batch: int, lr: float,
                  generator: torch.Generator, seed: int) -> nn.Module:
    name, gp_weight = LESSON_LOSSES[loss]
    adversarial = LOSSES.get(name)(LossConfig(name=name))
    torch.manual_seed(seed)  # D's initial weights
    D = _LineCritic()
    opt = torch.optim.Adam(D.parameters(), lr=lr, betas=(0.5, 0.999))
    for _ in range(d_steps):
        real = sigma * torch.randn(batch, 1, generator=generator)
        fake = theta + sigma * torch.randn(batch, 1, generator=generator)
        d_loss = adversarial.d_loss(D(real), D(fake))
        if gp_weight:
            d_loss = d_loss + gp_weight * gradient_penalty(D, real, fake, generator=generator)
        opt.zero_grad(set_to_none=True)
        d_loss.backward()
        opt.step()
    return D.requires_grad_(False)


def _read_gradient(D: nn.Module, theta: float, loss: str, sigma: float, batch: int,
                   generator: torch.Generator, x: torch.Tensor, d_steps: int,
                   start: float) -> GeneratorGradient:
    name, gp_weight = LESSON_LOSSES[loss]
    adversarial = LOSSES.get(name)(LossConfig(name=name))
    shift = torch.tensor(float(theta), dtype=torch.float32, requires_grad=True)
    fake = shift + sigma * torch.randn(4 * batch, 1, generator=generator)
    (grad,) = torch.autograd.grad(adversarial.g_loss(D(fake)), shift)
    with torch.no_grad():
        out = D(x)
        shown = out if gp_weight else torch.sigmoid(out)
    return GeneratorGradient(loss=loss, theta=float(theta), x=x.squeeze(1).tolist(),
                             d_output=shown.tolist(), grad_theta=float(grad),
                             d_steps=d_steps, seconds=time.perf_counter() - start)


def generator_gradients(theta: float, losses: tuple[str, ...] = tuple(LESSON_LOSSES), *,
                        sigma: float = 0.05, d_steps: int = 300, batch: int = 256,
                        lr: float = 1e-3, seed: int = 0,
                        view: tuple[float, float] | None = None,
                        view_points: int = 201) -> list[GeneratorGradient]:
    """For each of ``losses`` (minimax, nonsaturating, wgan-gp): train a D (``d_steps`` Adam
    steps) between P = N(0, sigma^2) and Q = N(theta, sigma^2), then the gradient of G's loss
    with respect to theta, where G's fakes are theta + sigma * eps. The minimax and the
    non-saturating GAN share D's objective, so they share one trained D."""
    for loss in losses:
        if loss not in LESSON_LOSSES:
            raise ValueError(f"loss {loss!r}: choose one of {', '.join(LESSON_LOSSES)}")
    if not math.isfinite(theta) or abs(theta) > 100:
        raise ValueError(f"theta must be a finite number in [-100, 100], got {theta}")
    low, high = view or (min(0.0, theta) - 1.0, max(0.0, theta) + 1.0)
    x = torch.linspace(low, high, view_points).unsqueeze(1)  # (N,) -> (N, 1)
    critics: dict[tuple[str, float], nn.Module] = {}
    out = []
    for loss in losses:
        start = time.perf_counter()
        generator = torch.Generator().manual_seed(seed)
        d_loss = LESSON_LOSSES[loss]
        key = ("gan" if d_loss[0] in ("minimax", "nonsaturating") else d_loss[0], d_loss[1])
        if key not in critics:
            critics[key] = _train_critic(theta, loss, sigma, d_steps, batch, lr, generator,
                                         seed)
        else:
            generator.manual_seed(seed + 1)  # G's noise for the read-out
        out.append(_read_gradient(critics[key], theta, loss, sigma, batch, generator, x,
                                  d_steps, start))
    return out


def generator_gradient(theta: float, loss: str, **options: Any) -> GeneratorGradient:
    """:func:`generator_gradients` for one loss."""
    return generator_gradients(theta, (loss,), **options)[0]

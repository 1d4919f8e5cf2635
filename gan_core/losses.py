"""Adversarial losses and Lipschitz regularizers.

Every loss takes D's raw outputs (logits for the probabilistic losses, critic values for the
Wasserstein and hinge losses) and returns a scalar to *minimize*. Probabilistic losses use the
log-sigmoid identities (``log D = -softplus(-l)``, ``log(1 - D) = -softplus(l)``), which are
exact and never take the log of a rounded sigmoid.

:class:`GANObjective` owns the whole math of a phase: the adversarial loss plus the configured
regularizers. The trainer only walks the phases; adding a loss touches nothing but this file.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from gan_core.config import LossConfig, RegularizationConfig
from gan_core.registry import Registry
from gan_core.speed import Precision

__all__ = [
    "D_OUTPUTS",
    "LOSSES",
    "AdversarialLoss",
    "GANObjective",
    "clip_weights_",
    "gradient_penalty",
    "r1_penalty",
]


class AdversarialLoss(ABC):
    """D's and G's objectives, as functions of D's raw outputs."""

    @abstractmethod
    def d_loss(self, real_out: Tensor, fake_out: Tensor) -> Tensor:
        """Loss D minimizes, from its outputs on a real and a generated batch."""

    @abstractmethod
    def g_loss(self, fake_out: Tensor) -> Tensor:
        """Loss G minimizes, from D's outputs on a generated batch."""


LOSSES: Registry[Callable[[LossConfig], AdversarialLoss]] = Registry("loss")
"""Each loss says what D's output means (``d_output``), so that charts and health checks read it
without knowing the loss by name:

- ``logit``: a logit, sigmoid(D(x)) the probability that x is real;
- ``critic``: an unbounded score whose mean gap estimates a distance (no probability);
- ``margin``: a score that D pushes past +1 on real and -1 on generated data;
- ``target``: a regression toward the loss's targets (``lsgan_a`` for fake, ``lsgan_b`` for real).
"""
D_OUTPUTS = ("logit", "critic", "margin", "target")


@LOSSES.register("minimax", "Original GAN (Goodfellow 2014): G minimizes log(1 - D(G(z))); "
                 "saturates when D rejects fakes.", d_output="logit")
class MinimaxLoss(AdversarialLoss):
    def __init__(self, cfg: LossConfig) -> None:
        pass

    def d_loss(self, real_out: Tensor, fake_out: Tensor) -> Tensor:
        # (1) D: maximize log D(x) + log(1 - D(G(z)))
        return F.softplus(-real_out).mean() + F.softplus(fake_out).mean()

    def g_loss(self, fake_out: Tensor) -> Tensor:
        # (2) G: minimize log(1 - D(G(z))) = -softplus(l); its gradient sigmoid(l) -> 0 as l -> -inf
        return -F.softplus(fake_out).mean()


@LOSSES.register("nonsaturating", "Non-saturating GAN: G maximizes log D(G(z)) "
                 "(the practical default of the original paper).", d_output="logit")
class NonSaturatingLoss(MinimaxLoss):
    def g_loss(self, fake_out: Tensor) -> Tensor:
        # G: minimize -log D(G(z)) = softplus(-l)
        return F.softplus(-fake_out).mean()


@LOSSES.register("wasserstein", "WGAN critic (Arjovsky 2017): D maximizes E[D(x)] - E[D(G(z))]; "
                 "needs a Lipschitz constraint (weight clipping, gradient penalty or SN).",
                 d_output="critic")
class WassersteinLoss(AdversarialLoss):
    def __init__(self, cfg: LossConfig) -> None:
        pass

    def d_loss(self, real_out: Tensor, fake_out: Tensor) -> Tensor:
        return fake_out.mean() - real_out.mean()

    def g_loss(self, fake_out: Tensor) -> Tensor:
        return -fake_out.mean()


@LOSSES.register("lsgan", "Least squares GAN (Mao 2017): D regresses real to b and fake to a; "
                 "G pushes D(G(z)) to c.", d_output="target")
class LeastSquaresLoss(AdversarialLoss):
    def __init__(self, cfg: LossConfig) -> None:
        self.a, self.b, self.c = cfg.lsgan_a, cfg.lsgan_b, cfg.lsgan_c

    def d_loss(self, real_out: Tensor, fake_out: Tensor) -> Tensor:
        return 0.5 * ((real_out - self.b) ** 2).mean() + 0.5 * ((fake_out - self.a) ** 2).mean()

    def g_loss(self, fake_out: Tensor) -> Tensor:
        return 0.5 * ((fake_out - self.c) ** 2).mean()


@LOSSES.register("hinge", "Hinge loss (SNGAN, BigGAN): D minimizes E[relu(1 - D(x))] + "
                 "E[relu(1 + D(G(z)))]; G maximizes E[D(G(z))].", d_output="margin")
class HingeLoss(AdversarialLoss):
    def __init__(self, cfg: LossConfig) -> None:
        pass

    def d_loss(self, real_out: Tensor, fake_out: Tensor) -> Tensor:
        return F.relu(1.0 - real_out).mean() + F.relu(1.0 + fake_out).mean()

    def g_loss(self, fake_out: Tensor) -> Tensor:
        return -fake_out.mean()


# ---------------------------------------------------------------------------------------------
# Lipschitz constraints and regularizers
# ---------------------------------------------------------------------------------------------

Critic = Callable[[Tensor, Tensor | None], Tensor]


def gradient_penalty(
    critic: Critic,
    real: Tensor,
    fake: Tensor,
    labels: Tensor | None = None,
    *,
    generator: torch.Generator | None = None,
    pack: int = 1,
    grad_scale: float = 1.0,
) -> Tensor:
    """WGAN-GP (Gulrajani 2017): E[(||grad_x D(x_hat)||_2 - 1)^2], x_hat = eps x + (1 - eps) x~.

    With ``pack`` m, D's input is a pack of m samples: one eps per pack (a straight line
    between a real pack and a fake pack) and the norm over the whole pack's gradient.
    ``grad_scale`` (fp16 mixed precision): D's output is scaled before the gradient is taken
    and the gradient unscaled after, so that small gradients do not underflow in fp16.
    """
    groups = real.shape[0] // pack
    eps = torch.rand((groups,) + (1,) * (real.dim() - 1), device=real.device, dtype=real.dtype,
                     generator=generator)  # one eps per D input
    if pack > 1:
        eps = eps.repeat_interleave(pack, dim=0)  # (B/m, 1, ...) -> (B, 1, ...)
    x_hat = (eps * real.detach() + (1 - eps) * fake.detach()).requires_grad_(True)
    out = critic(x_hat, labels)
    (grad,) = torch.autograd.grad(out.sum() * grad_scale, x_hat, create_graph=True)
    grad = grad.float() / grad_scale
    grad_norm = grad.reshape(groups, -1).norm(2, dim=1)  # (B, ...) -> (B/m,)
    return ((grad_norm - 1.0) ** 2).mean()


def r1_penalty(critic: Critic, real: Tensor, labels: Tensor | None = None,
               pack: int = 1, grad_scale: float = 1.0) -> Tensor:
    """R1 (Mescheder 2018): E[||grad_x D(x)||^2] on real data (multiply by gamma / 2), per D
    input (a pack of ``pack`` samples); ``grad_scale`` as for :func:`gradient_penalty`."""
    x = real.detach().requires_grad_(True)
    out = critic(x, labels)
    (grad,) = torch.autograd.grad(out.sum() * grad_scale, x, create_graph=True)
    grad = grad.float() / grad_scale
    return grad.reshape(real.shape[0] // pack, -1).pow(2).sum(dim=1).mean()


@torch.no_grad()
def clip_weights_(module: nn.Module, c: float) -> None:
    """WGAN weight clipping: every parameter of the critic into [-c, c], in place."""
    for p in module.parameters():
        p.clamp_(-c, c)


# ---------------------------------------------------------------------------------------------
# The objective: one adversarial loss plus its regularizers
# ---------------------------------------------------------------------------------------------


class GANObjective:
    """Computes and back-propagates D's and G's phase losses; reports named scalars.

    Reported values are detached tensors (no device sync here): the trainer aggregates them.
    """

    def __init__(self, loss_cfg: LossConfig, reg_cfg: RegularizationConfig,
                 pack: int = 1, precision: Precision | None = None) -> None:
        self.loss = LOSSES.get(loss_cfg.name)(loss_cfg)
        self.reg = reg_cfg
        self.pack = pack  # samples per D input (PacGAN): the penalties are per D input
        # autocast and (fp16) loss scaling; full precision without one
        self.precision = precision or Precision("off", torch.device("cpu"))

    def d_phase(
        self,
        D: nn.Module,
        real: Tensor,
        fake: Tensor,
        labels: Tensor | None,
        generator: torch.Generator | None = None,
    ) -> dict[str, Tensor]:
        """Backward D's loss (adversarial + penalties) into D's gradients."""
        precision = self.precision
        scale = precision.grad_scale("d")
        with precision.autocast():
            real_out = D(real, labels)
            fake_out = D(fake.detach(), labels)
            adversarial = self.loss.d_loss(real_out.float(), fake_out.float())
            total = adversarial
            stats: dict[str, Tensor] = {}
            if self.reg.gradient_penalty:
                gp = gradient_penalty(D, real, fake, labels, generator=generator,
                                      pack=self.pack, grad_scale=scale)
                total = total + self.reg.gradient_penalty * gp
                stats["gradient_penalty"] = gp.detach()
            if self.reg.r1_gamma:
                r1 = r1_penalty(D, real, labels, pack=self.pack, grad_scale=scale)
                total = total + 0.5 * self.reg.r1_gamma * r1
                stats["r1_penalty"] = r1.detach()
        precision.backward("d", total)
        real_mean, fake_mean = real_out.detach().float().mean(), fake_out.detach().float().mean()
        stats.update(
            loss_d=total.detach(),
            d_real=real_mean,
            d_fake=fake_mean,
            w_estimate=real_mean - fake_mean,
        )
        return stats

    def after_d_step(self, D: nn.Module) -> None:
        """Constraints applied to D's weights after its optimizer step."""
        if self.reg.weight_clip:
            clip_weights_(D, self.reg.weight_clip)

    def g_phase(self, D: nn.Module, fake: Tensor, labels: Tensor | None) -> dict[str, Tensor]:
        """Backward G's loss through D into G's gradients (D's gradients are not kept)."""
        with self.precision.autocast():
            loss = self.loss.g_loss(D(fake, labels).float())
        self.precision.backward("g", loss)
        return {"loss_g": loss.detach()}

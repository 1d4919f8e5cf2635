"""Largest singular value of each weight of a network, by warm-started power iteration."""

from __future__ import annotations

import torch
from torch import Tensor, nn

__all__ = ["SpectralMonitor"]

_WEIGHTED = (nn.Linear, nn.Conv1d, nn.Conv2d, nn.ConvTranspose2d, nn.Embedding)


class SpectralMonitor:
    """Tracks sigma_max of every linear/conv weight of ``module`` as the weights change.

    The weight read is the effective one (through a spectral-norm parametrization when there is
    one), reshaped to (out, -1). The singular vectors persist between calls, so a few iterations
    per call follow the slowly changing weights closely (as spectral normalization itself does).
    """

    def __init__(self, module: nn.Module, warmup_iters: int = 50, iters: int = 3) -> None:
        self.layers = [(name, m) for name, m in module.named_modules() if isinstance(m, _WEIGHTED)]
        self.iters = iters
        self._u: dict[str, Tensor] = {}
        with torch.no_grad():
            for name, m in self.layers:
                w = self._matrix(m)
                gen = torch.Generator(device="cpu").manual_seed(len(name))
                u = torch.randn(w.shape[0], generator=gen).to(w)
                self._u[name] = self._iterate(w, u / u.norm(), warmup_iters)[0]

    @staticmethod
    def _matrix(m: nn.Module) -> Tensor:
        # in train mode, reading a spectral-norm parametrized weight runs a power-iteration
        # update of its u/v; measuring must not change the training state
        was_training = m.training
        m.eval()
        try:
            w = m.weight.detach()
        finally:
            m.train(was_training)
        if isinstance(m, nn.ConvTranspose2d):
            w = w.transpose(0, 1)  # (in, out, kh, kw) -> (out, in, kh, kw)
        return w.flatten(1)  # (out, ...) -> (out, in * kh * kw)

    @staticmethod
    def _iterate(w: Tensor, u: Tensor, iters: int) -> tuple[Tensor, Tensor]:
        for _ in range(iters):
            v = torch.nn.functional.normalize(w.t() @ u, dim=0)
            u = torch.nn.functional.normalize(w @ v, dim=0)
        return u, torch.dot(u, w @ v)

    @torch.no_grad()
    def measure(self) -> dict[str, Tensor]:
        """sigma_max per layer name, as 0-d tensors on the weights' device (no sync)."""
        out = {}
        for name, m in self.layers:
            u, sigma = self._iterate(self._matrix(m), self._u[name], self.iters)
            self._u[name] = u
            out[name] = sigma
        return out

"""Latent space: sampling z, and paths between latents."""

from __future__ import annotations

import torch
from torch import Tensor

from gan_core.config import ZDistribution

__all__ = ["lerp", "sample_z", "slerp"]


def sample_z(
    n: int,
    z_dim: int,
    distribution: ZDistribution,
    *,
    generator: torch.Generator | None = None,
    device: torch.device | str = "cpu",
) -> Tensor:
    """Draw ``n`` latents: N(0, I) for 'gaussian', U(-1, 1) for 'uniform'. Shape (n, z_dim)."""
    if distribution == "gaussian":
        return torch.randn(n, z_dim, generator=generator, device=device)
    if distribution == "uniform":
        return torch.rand(n, z_dim, generator=generator, device=device) * 2 - 1
    raise ValueError(f"unknown z distribution {distribution!r}; use 'gaussian' or 'uniform'")


def lerp(a: Tensor, b: Tensor, t: Tensor | float) -> Tensor:
    """Linear interpolation a + t (b - a)."""
    return a + (b - a) * t


def slerp(a: Tensor, b: Tensor, t: Tensor | float, eps: float = 1e-7) -> Tensor:
    """Spherical interpolation along the last dimension (White 2016), norms interpolated linearly.

    For Gaussian z, slerp stays in the shell where the prior's mass is; lerp cuts through the
    low-density middle.
    """
    a_norm, b_norm = a.norm(dim=-1, keepdim=True), b.norm(dim=-1, keepdim=True)
    a_unit, b_unit = a / a_norm.clamp_min(eps), b / b_norm.clamp_min(eps)
    cos = (a_unit * b_unit).sum(-1, keepdim=True).clamp(-1.0, 1.0)
    omega = torch.acos(cos)
    sin = torch.sin(omega)
    t = torch.as_tensor(t, dtype=a.dtype, device=a.device)
    # nearly parallel vectors: the spherical weights are 0/0, linear ones are exact in the limit
    parallel = sin.abs() < eps
    w_a = torch.where(parallel, 1 - t, torch.sin((1 - t) * omega) / sin.where(~parallel, 1.0))
    w_b = torch.where(parallel, t, torch.sin(t * omega) / sin.where(~parallel, 1.0))
    direction = w_a * a_unit + w_b * b_unit
    return direction * lerp(a_norm, b_norm, t)

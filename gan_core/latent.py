"""Latent space: sampling z, paths between latents, truncation, principal directions."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from gan_core.config import ZDistribution

__all__ = ["Directions", "activation_layers", "lerp", "principal_directions", "sample_z",
           "slerp", "truncate"]


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


def truncate(z: Tensor, psi: float) -> Tensor:
    """The truncation trick: pull z toward the prior's mean (0 for both priors) by ``psi``.

    ``psi`` 1 leaves z alone; smaller values trade variety for typical, cleaner samples.
    """
    if not 0.0 <= psi <= 2.0:
        raise ValueError(f"truncation psi must lie in [0, 2], got {psi}")
    return z * psi


@dataclass
class Directions:
    """Principal directions in z (GANSpace, Härkönen et al. 2020).

    ``vectors`` (k, z_dim) are orthonormal, strongest first; a slider at value ``c`` moves z by
    ``c * stddev[i] * vectors[i]``, so its unit is one standard deviation of the sampled
    latents along that direction. ``explained`` is each component's share of the variance
    in ``space`` (``"z"`` or the name of the layer whose activations were analysed).
    """

    vectors: Tensor
    stddev: Tensor
    explained: Tensor
    space: str
    samples: int


def activation_layers(G: nn.Module) -> list[str]:
    """Names of G's hidden activation modules (the layers GANSpace can analyse), input side
    first. The output's tanh is not one: its PCA is the images' own."""
    kinds = (nn.ReLU, nn.LeakyReLU, nn.ELU, nn.SiLU)
    return [name for name, module in G.named_modules() if isinstance(module, kinds)]


@torch.inference_mode()
def principal_directions(
    G: nn.Module,
    z: Tensor,
    *,
    k: int = 10,
    layer: str | None = None,
    labels: Tensor | None = None,
    forward: Callable[[Tensor, Tensor | None], Tensor] | None = None,
) -> Directions:
    """The ``k`` principal directions of G over the latents ``z`` (N, z_dim).

    With ``layer`` None, PCA of z itself. With a layer, PCA of that layer's activations,
    carried back to z by least squares (GANSpace: z ~ x V, x the PCA coordinates), then
    orthonormalized in order of strength. ``forward(z, labels)`` runs G (default ``G(z,
    labels)``); only the hooked layer's output is used.
    """
    n, z_dim = z.shape
    if not 1 <= k <= z_dim:
        raise ValueError(f"k must lie in 1..{z_dim} (the size of z), got {k}")
    if n < 2 * k:
        raise ValueError(f"need at least {2 * k} latents for {k} directions, got {n}")
    z = z.float()
    if layer is None:
        features = z
    else:
        modules = dict(G.named_modules())
        if layer not in modules:
            raise ValueError(f"G has no layer {layer!r}; choose one of {activation_layers(G)}")
        caught: list[Tensor] = []
        handle = modules[layer].register_forward_hook(
            lambda _m, _i, out: caught.append(out.flatten(1).float().cpu()))
        try:
            (forward or G)(z.to(next(G.parameters()).device), labels)
        finally:
            handle.remove()
        features = caught[0]  # (N, C*H*W)
    centered = features - features.mean(0)
    q = min(k + 10, *centered.shape)
    _, singular, basis = torch.pca_lowrank(centered, q=q, center=False, niter=4)
    total = centered.pow(2).sum()
    explained = singular[:k].pow(2) / total.clamp_min(1e-12)
    coords = centered @ basis[:, :k]  # (N, k) PCA coordinates
    if layer is None:
        vectors = basis[:, :k].T.contiguous()
    else:
        # least squares z ~ coords @ A: row i of A is how z moves per unit of component i
        zc = z.cpu() - z.cpu().mean(0)
        regression = torch.linalg.lstsq(coords, zc).solution  # (k, z_dim)
        vectors = _orthonormal_rows(regression)
    stddev = (z.cpu() @ vectors.T).std(0)
    return Directions(vectors=vectors, stddev=stddev, explained=explained.cpu(),
                      space=layer or "z", samples=n)


def _orthonormal_rows(rows: Tensor) -> Tensor:
    """Gram-Schmidt in row order (the first row keeps its direction), via QR."""
    q, r = torch.linalg.qr(rows.T)  # (z_dim, k)
    signs = torch.sign(torch.diagonal(r))
    signs[signs == 0] = 1.0
    return (q * signs).T.contiguous()

"""2D toy distributions, drawn on the fly on the CPU (PacGAN's ring and grid, spiral, moons)."""

from __future__ import annotations

import math
from collections.abc import Callable
from functools import partial
from typing import Literal

import torch
from pydantic import Field
from torch import Tensor

from gan_core.data.registry import dataset
from gan_core.data.source import (
    Batch,
    DataInfo,
    DataSource,
    StateDict,
    check_batch_size,
    stream_generator,
)
from gan_core.sections import StrictModel, tag_required

__all__ = ["GaussianData", "GridData", "MoonsData", "RingData", "SpiralData", "ToySource",
           "build_gaussian", "build_grid", "build_moons", "build_ring", "build_spiral"]

Draw = Callable[[int, torch.Generator], Batch]
# Half-widths reach this many sigmas past the outermost mode: a point beyond it has p < 1e-4.
_TAIL_SIGMAS = 4.0


class RingData(StrictModel):
    """Gaussians evenly spaced on a circle (PacGAN: 8 modes, radius 1, sigma 0.01)."""

    model_config = tag_required("name")
    name: Literal["ring"] = "ring"
    n_modes: int = Field(8, ge=2, le=64, description="Number of Gaussians on the circle.")
    radius: float = Field(1.0, gt=0, le=100, description="Radius of the circle.")
    sigma: float = Field(0.01, gt=0, le=10, description="Standard deviation of each Gaussian.")


class GridData(StrictModel):
    """A square grid of Gaussians (PacGAN: 5x5 at {-4,-2,0,2,4}^2, sigma 0.05)."""

    model_config = tag_required("name")
    name: Literal["grid"] = "grid"
    side: int = Field(5, ge=2, le=10, description="Gaussians per side of the grid.")
    spacing: float = Field(2.0, gt=0, le=100, description="Distance between neighbouring modes.")
    sigma: float = Field(0.05, gt=0, le=10, description="Standard deviation of each Gaussian.")


class SpiralData(StrictModel):
    """Points along an Archimedean spiral with Gaussian noise."""

    model_config = tag_required("name")
    name: Literal["spiral"] = "spiral"
    turns: float = Field(1.5, gt=0, le=10, description="Number of turns of the spiral.")
    radius: float = Field(2.0, gt=0, le=100, description="Radius at the end of the spiral.")
    noise: float = Field(0.05, ge=0, le=10, description="Standard deviation of added noise.")


class MoonsData(StrictModel):
    """Two interleaving half circles (as scikit-learn's make_moons)."""

    model_config = tag_required("name")
    name: Literal["moons"] = "moons"
    noise: float = Field(0.05, ge=0, le=10, description="Standard deviation of added noise.")


class GaussianData(StrictModel):
    """A single isotropic Gaussian."""

    model_config = tag_required("name")
    name: Literal["gaussian"] = "gaussian"
    mean: tuple[float, float] = Field((0.0, 0.0), description="Centre (x, y).")
    sigma: float = Field(1.0, gt=0, le=100, description="Standard deviation.")


class ToySource(DataSource):
    """An endless stream from ``draw``; its only state is the generator's."""

    def __init__(self, info: DataInfo, draw: Draw, seed: int) -> None:
        self.info = info
        self._draw = draw
        self._generator = stream_generator(seed)

    def next_batch(self, batch_size: int) -> Batch:
        check_batch_size(batch_size)
        return self._draw(batch_size, self._generator)

    def sample(self, n: int, generator: torch.Generator) -> Batch:
        check_batch_size(n, "n")
        return self._draw(n, generator)

    def state_dict(self) -> StateDict:
        return {"generator": self._generator.get_state()}

    def load_state_dict(self, state: StateDict) -> None:
        self._generator.set_state(state["generator"])


def _padded_extent(
    xmin: float, xmax: float, ymin: float, ymax: float, pad: float = 0.125
) -> tuple[float, float, float, float]:
    """The data box widened by ``pad`` of its size on each side (25% in all)."""
    dx, dy = pad * (xmax - xmin), pad * (ymax - ymin)
    return (xmin - dx, xmax + dx, ymin - dy, ymax + dy)


# ---------------------------------------------------------------------------------------------
# Mixtures of isotropic Gaussians: x = c_y + sigma * eps, y ~ U{0..K-1}
# ---------------------------------------------------------------------------------------------


def _draw_mixture(centers: Tensor, sigma: float, n: int, generator: torch.Generator) -> Batch:
    y = torch.randint(len(centers), (n,), generator=generator)
    x = centers[y] + sigma * torch.randn(n, 2, generator=generator)
    return x, y


def _mixture(name: str, centers: Tensor, sigma: float, seed: int) -> ToySource:
    """``centers`` (K, 2) in float64, so the extent is not rounded to float32."""
    lo = centers.min(dim=0).values - _TAIL_SIGMAS * sigma
    hi = centers.max(dim=0).values + _TAIL_SIGMAS * sigma
    info = DataInfo(
        name=name,
        kind="toy",
        shape=(2,),
        mode_centers=centers.float(),
        sigma=sigma,
        extent=_padded_extent(float(lo[0]), float(hi[0]), float(lo[1]), float(hi[1])),
    )
    return ToySource(info, partial(_draw_mixture, info.mode_centers, sigma), seed)


def build_ring(cfg: RingData, seed: int) -> ToySource:
    angles = 2 * math.pi * torch.arange(cfg.n_modes, dtype=torch.float64) / cfg.n_modes
    centers = cfg.radius * torch.stack([angles.cos(), angles.sin()], dim=1)  # (K, 2)
    return _mixture("ring", centers, cfg.sigma, seed)


def build_grid(cfg: GridData, seed: int) -> ToySource:
    coords = (torch.arange(cfg.side, dtype=torch.float64) - (cfg.side - 1) / 2) * cfg.spacing
    gx, gy = torch.meshgrid(coords, coords, indexing="ij")
    centers = torch.stack([gx.flatten(), gy.flatten()], dim=1)  # (side*side, 2)
    return _mixture("grid", centers, cfg.sigma, seed)


def build_gaussian(cfg: GaussianData, seed: int) -> ToySource:
    centers = torch.tensor([cfg.mean], dtype=torch.float64)  # (1, 2)
    return _mixture("gaussian", centers, cfg.sigma, seed)


# ---------------------------------------------------------------------------------------------
# Curves plus Gaussian noise (no modes, so y is None)
# ---------------------------------------------------------------------------------------------


def _draw_spiral(
    turns: float, radius: float, noise: float, n: int, generator: torch.Generator
) -> Batch:
    # Archimedean spiral r = radius * t, theta = 2 pi turns * t. Arc length grows like t^2, so
    # t = sqrt(u) spreads points about evenly along the curve instead of piling them at the centre.
    t = torch.rand(n, generator=generator).sqrt()
    theta = 2 * math.pi * turns * t
    x = torch.stack([radius * t * theta.cos(), radius * t * theta.sin()], dim=1)
    return x + noise * torch.randn(n, 2, generator=generator), None


def build_spiral(cfg: SpiralData, seed: int) -> ToySource:
    half = cfg.radius + _TAIL_SIGMAS * cfg.noise
    info = DataInfo(
        name="spiral", kind="toy", shape=(2,), extent=_padded_extent(-half, half, -half, half)
    )
    return ToySource(info, partial(_draw_spiral, cfg.turns, cfg.radius, cfg.noise), seed)


def _draw_moons(noise: float, n: int, generator: torch.Generator) -> Batch:
    # scikit-learn's make_moons: outer (cos t, sin t), inner (1 - cos t, 1/2 - sin t), t in [0, pi],
    # with each point's moon and position random; shifted by (-1/2, -1/4) to centre it.
    t = math.pi * torch.rand(n, generator=generator)
    inner = torch.rand(n, generator=generator) < 0.5
    x = torch.where(inner, 1 - t.cos(), t.cos()) - 0.5
    y = torch.where(inner, 0.5 - t.sin(), t.sin()) - 0.25
    points = torch.stack([x, y], dim=1)
    return points + noise * torch.randn(n, 2, generator=generator), None


def build_moons(cfg: MoonsData, seed: int) -> ToySource:
    pad = _TAIL_SIGMAS * cfg.noise
    info = DataInfo(
        name="moons",
        kind="toy",
        shape=(2,),
        extent=_padded_extent(-1.5 - pad, 1.5 + pad, -0.75 - pad, 0.75 + pad),
    )
    return ToySource(info, partial(_draw_moons, cfg.noise), seed)


dataset("ring", "2D: Gaussians evenly spaced on a circle (PacGAN 8 modes).", config=RingData,
        build=build_ring, kind="toy", shape=(2,))
dataset("grid", "2D: a square grid of Gaussians (PacGAN 5x5).", config=GridData,
        build=build_grid, kind="toy", shape=(2,))
dataset("spiral", "2D: points along an Archimedean spiral, with noise.", config=SpiralData,
        build=build_spiral, kind="toy", shape=(2,))
dataset("moons", "2D: two interleaving half circles, with noise.", config=MoonsData,
        build=build_moons, kind="toy", shape=(2,))
dataset("gaussian", "2D: a single isotropic Gaussian.", config=GaussianData,
        build=build_gaussian, kind="toy", shape=(2,))

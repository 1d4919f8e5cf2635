"""Fully connected G and D for 2D toy data."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable

import torch
from torch import nn

from gan_core.config import MLPModel
from gan_core.models.layers import check_labels, pack_samples, spectral_normalize

ACTIVATIONS: dict[str, Callable[[], nn.Module]] = {
    "relu": nn.ReLU,
    "leaky_relu": lambda: nn.LeakyReLU(0.2),
    "tanh": nn.Tanh,
    "elu": nn.ELU,
    "silu": nn.SiLU,
}


def mlp(in_dim: int, out_dim: int, cfg: MLPModel) -> nn.Sequential:
    """``depth`` hidden layers of ``width`` units: fc1, act1, ..., fc{depth}, act{depth}, out."""
    layers: OrderedDict[str, nn.Module] = OrderedDict()
    dim = in_dim
    for i in range(1, cfg.depth + 1):
        layers[f"fc{i}"] = nn.Linear(dim, cfg.width)
        layers[f"act{i}"] = ACTIVATIONS[cfg.activation]()
        dim = cfg.width
    layers["out"] = nn.Linear(dim, out_dim)
    return nn.Sequential(layers)


class MLPGenerator(nn.Module):
    """z -> point; the output layer is linear so G can reach any point of the plane."""

    def __init__(self, cfg: MLPModel, data_dim: int) -> None:
        super().__init__()
        self.z_dim = cfg.z_dim
        self.num_classes: int | None = None
        self.main = mlp(cfg.z_dim, data_dim, cfg)
        if cfg.spectral_norm_g:
            spectral_normalize(self)

    def forward(self, z: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        check_labels(y, self.num_classes, z.shape[0])
        return self.main(z)  # (B, z_dim) -> (B, data_dim)


class MLPDiscriminator(nn.Module):
    """Point -> raw logit (or critic value); the loss decides what the number means. With
    ``pack`` m, one output per m points (PacGAN)."""

    def __init__(self, cfg: MLPModel, data_dim: int) -> None:
        super().__init__()
        self.num_classes: int | None = None
        self.pack = cfg.pack
        self.main = mlp(data_dim * cfg.pack, 1, cfg)
        if cfg.spectral_norm_d:
            spectral_normalize(self)

    def forward(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        check_labels(y, self.num_classes, x.shape[0])
        x = pack_samples(x, self.pack)  # (B, data_dim) -> (B/m, m*data_dim)
        return self.main(x).squeeze(1)  # -> (B/m, 1) -> (B/m,)

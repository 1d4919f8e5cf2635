"""A trained generator (and its critic) rebuilt from a checkpoint, ready to draw images.

What the latent explorer, the studies' image pools and the metrics need from a run: G (or
the EMA of G) in eval mode on a device, what its input looks like (z size and prior, class
labels), and images out as uint8 arrays. Weights come from safetensors only.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import Tensor, nn

from gan_core.checkpoint import Checkpoint, CheckpointError, load_checkpoint
from gan_core.config import ImageData, RunConfig
from gan_core.data import convert
from gan_core.latent import sample_z
from gan_core.models import build_models
from gan_core.models.layers import pack_samples, repeat_for_pack

__all__ = ["LoadedGenerator", "load_generator", "to_uint8"]


@dataclass
class LoadedGenerator:
    """G from one checkpoint. ``ema`` says whether these are the EMA weights."""

    G: nn.Module
    D: nn.Module
    config: RunConfig
    step: int
    ema: bool
    num_classes: int | None
    device: torch.device

    @property
    def z_dim(self) -> int:
        return self.config.model.z_dim

    @property
    def z_distribution(self) -> str:
        return self.config.model.z_distribution

    @property
    def image_shape(self) -> tuple[int, int, int]:
        data = self.config.data
        assert isinstance(data, ImageData)
        return (data.resolved_channels, data.resolved_size, data.resolved_size)

    def sample_z(self, n: int, seed: int) -> Tensor:
        """``n`` latents from the run's prior, the same for the same seed. (n, z_dim)."""
        generator = torch.Generator().manual_seed(int(seed))
        return sample_z(n, self.z_dim, self.z_distribution, generator=generator)

    def labels(self, label: int | None, n: int) -> Tensor | None:
        """Class labels for a conditional G (``label`` None: 0, 1, 2, ... in turn)."""
        if self.num_classes is None:
            return None
        if label is None:
            return torch.arange(n, device=self.device) % self.num_classes
        if not 0 <= label < self.num_classes:
            raise ValueError(f"class must lie in 0..{self.num_classes - 1}, got {label}")
        return torch.full((n,), int(label), dtype=torch.long, device=self.device)

    @torch.inference_mode()
    def __call__(self, z: Tensor, labels: Tensor | None = None) -> Tensor:
        """Images (B, C, H, W) in [-1, 1] for latents (B, z_dim)."""
        if z.ndim != 2 or z.shape[1] != self.z_dim:
            raise ValueError(f"z must have shape (n, {self.z_dim}), got {tuple(z.shape)}")
        if self.num_classes is not None and labels is None:
            labels = self.labels(None, z.shape[0])
        return self.G(z.to(self.device, torch.float32), labels).float()

    @torch.inference_mode()
    def critic_features(self, images: Tensor) -> Tensor:
        """D's last feature map before its output, flattened: (B, C, H, W) -> (B, F).

        A learned feature space in which to look for the training images nearest to a sample.
        """
        x = images.to(self.device, torch.float32)
        pack = self.D.pack  # a packed D sees each image as a pack of copies
        x = pack_samples(repeat_for_pack(x, pack), pack)
        return self.D.main(x).flatten(1).float()


def load_generator(source: str | Path | Checkpoint, *, ema: bool = True,
                   device: str | torch.device = "cpu") -> LoadedGenerator:
    """G (the EMA weights when ``ema`` and the run kept them) and D from a checkpoint."""
    ckpt = source if isinstance(source, Checkpoint) else load_checkpoint(source)
    config = ckpt.config
    if config.is_toy:
        raise CheckpointError(
            f"this checkpoint's run trains on 2D points ({config.data.name}); the image tools "
            "need an image generator (its 2D view is on the run page)")
    g_state = ckpt.section("G_ema") if ema else {}
    used_ema = bool(g_state)
    if not used_ema:
        g_state = ckpt.section("G")
    embed = g_state.get("embed.weight")
    num_classes = int(embed.shape[0]) if embed is not None else None
    data = config.data
    assert isinstance(data, ImageData)
    shape = (data.resolved_channels, data.resolved_size, data.resolved_size)
    G, D = build_models(config.model, shape=shape, num_classes=num_classes)
    try:
        G.load_state_dict(g_state)
        D.load_state_dict(ckpt.section("D"))
    except RuntimeError as exc:
        raise CheckpointError(f"the checkpoint's weights do not fit its config: {exc}") from None
    device = torch.device(device)
    return LoadedGenerator(G=G.to(device).eval(), D=D.to(device).eval(), config=config,
                           step=ckpt.step, ema=used_ema, num_classes=num_classes, device=device)


def to_uint8(images: Tensor) -> np.ndarray:
    """(B, C, H, W) in [-1, 1] -> (B, H, W, C) uint8."""
    return convert.to_uint8(images).permute(0, 2, 3, 1).cpu().numpy()

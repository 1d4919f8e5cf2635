"""DCGAN G and D (Radford et al. 2015, after pytorch/examples dcgan) for 28, 32 and 64 px.

Strided (transposed) convolutions and no pooling. G: ReLU, optional batch norm, tanh output.
D: LeakyReLU(0.2), no norm on the first layer, a choice of norm after it, and a final conv
over the whole base-resolution map. With ``conditional``, G concatenates a label embedding to
z and D adds a projection term (Miyato & Koyama 2018).
"""

from __future__ import annotations

from collections import OrderedDict

import torch
from torch import nn

from gan_core.config import DCGANModel
from gan_core.models.layers import WEIGHT_LAYERS, check_labels, pack_samples, spectral_normalize

# Image side -> (base resolution, number of stride-2 stages between base and full size).
GEOMETRY: dict[int, tuple[int, int]] = {28: (7, 2), 32: (4, 3), 64: (4, 4)}
# G's label embedding gets as many dims as the noise, capped so it stays a small extra input.
MAX_LABEL_EMBED_DIM = 64


def dcgan_init_(module: nn.Module) -> None:
    """pytorch/examples ``weights_init``: conv weights N(0, 0.02), norm scales N(1, 0.02)."""
    if isinstance(module, nn.Conv2d | nn.ConvTranspose2d):
        nn.init.normal_(module.weight, 0.0, 0.02)
        if module.bias is not None:
            nn.init.zeros_(module.bias)
    elif isinstance(module, nn.BatchNorm2d | nn.GroupNorm | nn.InstanceNorm2d) and module.affine:
        nn.init.normal_(module.weight, 1.0, 0.02)
        nn.init.zeros_(module.bias)


def d_norm_layer(kind: str, channels: int) -> nn.Module:
    if kind == "batch":
        return nn.BatchNorm2d(channels)
    if kind == "layer":
        # One group = layer norm over (C, H, W) of each sample, with a per-channel affine.
        return nn.GroupNorm(1, channels)
    if kind == "instance":
        return nn.InstanceNorm2d(channels, affine=True)
    raise ValueError(f"unknown D norm {kind!r}; choose one of: batch, layer, instance, none")


class DCGANGenerator(nn.Module):
    """z (B, z_dim) -> images (B, C, S, S) in [-1, 1].

    Layers ``main.deconv1`` .. ``main.deconv{stages+1}``, with ``main.norm{i}`` (batch norm)
    and ``main.relu{i}`` after all but the last, then ``main.tanh``; ``embed`` when conditional.
    """

    def __init__(
        self, cfg: DCGANModel, shape: tuple[int, int, int], num_classes: int | None
    ) -> None:
        super().__init__()
        channels, size = shape[0], shape[1]
        base, stages = GEOMETRY[size]
        self.z_dim = cfg.z_dim
        self.num_classes = num_classes
        in_ch = cfg.z_dim
        if num_classes is not None:
            self.embed = nn.Embedding(num_classes, min(cfg.z_dim, MAX_LABEL_EMBED_DIM))
            in_ch += self.embed.embedding_dim

        use_norm = cfg.g_norm == "batch"
        layers: OrderedDict[str, nn.Module] = OrderedDict()
        # 64 px: [8, 4, 2, 1] * ngf; the first layer maps the 1x1 input to the base map.
        widths = [cfg.g_channels * 2**k for k in reversed(range(stages))]
        for i, out_ch in enumerate(widths, 1):
            kernel, stride, pad = (base, 1, 0) if i == 1 else (4, 2, 1)
            layers[f"deconv{i}"] = nn.ConvTranspose2d(
                in_ch, out_ch, kernel, stride, pad, bias=not use_norm
            )
            if use_norm:
                layers[f"norm{i}"] = nn.BatchNorm2d(out_ch)
            layers[f"relu{i}"] = nn.ReLU()
            in_ch = out_ch
        layers[f"deconv{stages + 1}"] = nn.ConvTranspose2d(in_ch, channels, 4, 2, 1)
        layers["tanh"] = nn.Tanh()
        self.main = nn.Sequential(layers)

        self.apply(dcgan_init_)  # the label embedding keeps its N(0, 1) init, the scale of z
        if cfg.spectral_norm_g:
            spectral_normalize(self)  # convs only: normalizing the label table would mute it

    def forward(self, z: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        check_labels(y, self.num_classes, z.shape[0])
        if y is not None:
            z = torch.cat([z, self.embed(y)], dim=1)  # (B, z_dim) -> (B, z_dim + embed_dim)
        return self.main(z[:, :, None, None])  # (B, Z, 1, 1) -> (B, C, S, S)


class DCGANDiscriminator(nn.Module):
    """Images (B, C, S, S) -> raw logits / critic values (B,), or (B/m,) with ``pack`` m.

    Layers ``main.conv1`` .. ``main.conv{stages}``, each followed by ``main.norm{i}`` (not on
    conv1, and none when d_norm is 'none') and ``main.lrelu{i}``; then ``final_conv``; and
    ``embed`` (the projection) when conditional.
    """

    def __init__(
        self, cfg: DCGANModel, shape: tuple[int, int, int], num_classes: int | None
    ) -> None:
        super().__init__()
        channels, size = shape[0], shape[1]
        base, stages = GEOMETRY[size]
        self.num_classes = num_classes
        self.pack = cfg.pack

        layers: OrderedDict[str, nn.Module] = OrderedDict()
        in_ch = channels * cfg.pack  # PacGAN: the packed images' channels side by side
        for i in range(1, stages + 1):
            out_ch = cfg.d_channels * 2 ** (i - 1)  # 64 px: [1, 2, 4, 8] * ndf
            use_norm = i > 1 and cfg.d_norm != "none"
            layers[f"conv{i}"] = nn.Conv2d(in_ch, out_ch, 4, 2, 1, bias=not use_norm)
            if use_norm:
                layers[f"norm{i}"] = d_norm_layer(cfg.d_norm, out_ch)
            layers[f"lrelu{i}"] = nn.LeakyReLU(0.2)
            in_ch = out_ch
        self.main = nn.Sequential(layers)
        self.final_conv = nn.Conv2d(in_ch, 1, base, 1, 0)
        kinds = WEIGHT_LAYERS
        if num_classes is not None:
            self.embed = nn.Embedding(num_classes, in_ch)
            kinds = (*WEIGHT_LAYERS, nn.Embedding)

        self.apply(dcgan_init_)
        if num_classes is not None:
            # Same scale as final_conv's weights: both terms sum C * base^2 products of h.
            nn.init.normal_(self.embed.weight, 0.0, 0.02)
        if cfg.spectral_norm_d:
            spectral_normalize(self, kinds)

    def forward(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        check_labels(y, self.num_classes, x.shape[0])
        x = pack_samples(x, self.pack)  # (B, C, S, S) -> (B/m, m*C, S, S)
        h = self.main(x)  # -> (B/m, ndf * 2^(stages-1), base, base)
        out = self.final_conv(h).flatten()  # (B, 1, 1, 1) -> (B,)
        if y is not None:
            # Projection: <embed(y), sum over H, W of h>. (B, ch, base, base) -> (B, ch) -> (B,)
            out = out + (self.embed(y) * h.sum(dim=(2, 3))).sum(dim=1)
        return out

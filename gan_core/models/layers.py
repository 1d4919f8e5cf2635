"""Pieces shared by the MLP and DCGAN models: spectral normalization, label checks, packing."""

from __future__ import annotations

import torch
from torch import nn
from torch.nn.utils.parametrizations import spectral_norm

# Layers whose weight is a linear map that spectral normalization can bound.
WEIGHT_LAYERS: tuple[type[nn.Module], ...] = (nn.Linear, nn.Conv2d, nn.ConvTranspose2d)


def spectral_normalize(
    module: nn.Module, kinds: tuple[type[nn.Module], ...] = WEIGHT_LAYERS
) -> None:
    """Put every layer of ``kinds`` inside ``module`` under spectral normalization (in place).

    Call it after the weights are initialized: registration runs power iterations on the
    current weight, so initializing afterwards would leave stale singular vectors.
    """
    # Collect first: registering a parametrization adds submodules while we iterate.
    for layer in [m for m in module.modules() if isinstance(m, kinds)]:
        spectral_norm(layer)


def check_labels(y: torch.Tensor | None, num_classes: int | None, batch: int) -> None:
    """Raise ValueError unless ``y`` fits the model: (B,) labels iff it is class-conditional."""
    if num_classes is None:
        if y is not None:
            raise ValueError(
                "this model is unconditional: call it without y "
                "(set model.conditional to true to train with class labels)"
            )
        return
    if y is None:
        raise ValueError("this model is class-conditional: pass the class labels y, shape (B,)")
    if y.shape != (batch,):
        raise ValueError(f"y must have shape ({batch},) to match the batch, got {tuple(y.shape)}")


def pack_samples(x: torch.Tensor, pack: int) -> torch.Tensor:
    """PacGAN (Lin et al. 2018): samples ``i*m .. i*m+m-1`` side by side as one input of D.

    (B, d) -> (B/m, m*d) for points; (B, C, H, W) -> (B/m, m*C, H, W) for images (the packed
    samples' channels concatenated). ``pack`` 1 returns ``x`` itself.
    """
    if pack == 1:
        return x
    if x.shape[0] % pack:
        raise ValueError(f"D packs {pack} samples at a time; got a batch of {x.shape[0]}: use "
                         f"a multiple of {pack}")
    return x.reshape(x.shape[0] // pack, pack * x.shape[1], *x.shape[2:])


def repeat_for_pack(x: torch.Tensor, pack: int) -> torch.Tensor:
    """Each sample as a pack of ``pack`` copies of itself, (B, ...) -> (B*m, ...): how a packed
    D judges one point or image alone (its output over the plane, nearest neighbours)."""
    return x if pack == 1 else x.repeat_interleave(pack, dim=0)

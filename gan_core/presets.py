"""Named starting points for runs. Each preset is a partial config; the rest is defaults."""

from __future__ import annotations

import copy
from typing import Any

from gan_core.config import RunConfig
from gan_core.registry import Registry

__all__ = ["PRESETS", "preset_config", "preset_dict"]

PRESETS: Registry[dict[str, Any]] = Registry("preset")

_MLP_2D = {"arch": "mlp", "z_dim": 2, "depth": 3, "width": 128, "activation": "relu"}
# One thread: a 3x128 MLP step is too small to split, and a second thread that has to wait for a
# busy core made these runs 17-19x slower on a loaded 2-core machine.
_TOY_TRAIN = {"batch_size": 256, "report_every": 10, "sample_every": 100, "checkpoint_every": 1000,
              "num_threads": 1}
_MNIST = {"name": "mnist5k"}
_MNIST_TRAIN = {
    "steps": 3000, "batch_size": 64, "report_every": 10, "sample_every": 250,
    "spectral_every": 100, "checkpoint_every": 1000, "grid_size": 64,
}
_DCGAN_28 = {"arch": "dcgan", "z_dim": 64, "g_channels": 32, "d_channels": 32}
_ADAM_DCGAN = {"name": "adam", "lr": 2e-4, "beta1": 0.5, "beta2": 0.999}
_ADAM_WGAN_GP = {"name": "adam", "lr": 1e-4, "beta1": 0.0, "beta2": 0.9}

# The ring's recipe, found by measurement (benchmarks/bench_presets.py and README): 12,000
# steps with both learning rates decaying linearly to 0 let the last steps' noise die out, so
# samples settle on the modes: 8/8 modes and a high-quality fraction of 0.966-0.973 on seeds
# 0-4. Shorter schedules left a mode nearly empty on some seeds (1-4 of 2,500 samples at 8,000
# steps, hq 0.936-0.960; 2,000 constant-rate steps gave 0.11-0.85); 14,000 steps dropped two
# modes on seed 2, wider nets (width 256) or batches of 512 one. A short EMA of G (about 100
# steps) averages the last jitter.
_RING_GAN_OPTIM = {"g": {"lr": 5e-4, "beta1": 0.5}, "d": {"lr": 5e-4, "beta1": 0.5},
                   "ema_decay": 0.99, "lr_decay": "linear"}

PRESETS.add("ring8-gan", {
    "data": {"name": "ring"},
    "model": _MLP_2D,
    "loss": {"name": "nonsaturating"},
    "optim": _RING_GAN_OPTIM,
    "train": {**_TOY_TRAIN, "steps": 12000},
}, "Ring of 8 Gaussians, non-saturating GAN, 3x128 MLPs, learning rates decaying to 0: the "
   "modes appear one by one, then the samples tighten onto them.")

PRESETS.add("ring8-gan-collapse", {
    "data": {"name": "ring"},
    "model": _MLP_2D,
    "loss": {"name": "minimax"},
    "optim": {"g": {"lr": 1e-3, "beta1": 0.5}, "d": {"lr": 1e-3, "beta1": 0.5}},
    "train": {**_TOY_TRAIN, "steps": 2000},
}, "Mode collapse on purpose: the original minimax GAN with a high constant learning rate and "
   "no EMA; G hops between a few of the 8 modes (1-7 captured over seeds 0-4). Compare "
   "ring8-gan and ring8-pacgan4.")

# PacGAN's D judges 8 numbers where the plain D judges 2: at the plain GAN's D rate it stayed
# loose (hq 0.15-0.77 at 10,000 steps); a D learning 4x faster than G sharpens it (hq
# 0.936-0.947 on seeds 0-2 at 2e-3; 0.934-0.938 at 1e-3), with the most even modes of all the
# presets (239-350 of 2,500 samples per mode, 312 is even).
PRESETS.add("ring8-pacgan4", {
    "data": {"name": "ring"},
    "model": {**_MLP_2D, "pack": 4},
    "loss": {"name": "nonsaturating"},
    "optim": {**_RING_GAN_OPTIM, "d": {"lr": 2e-3, "beta1": 0.5}},
    "train": {**_TOY_TRAIN, "steps": 12000},
}, "PacGAN (Lin et al. 2018) with 4 samples per D input on the ring of 8: D sees whether a "
   "pack looks as varied as real data, which penalizes collapse: every mode, each with close "
   "to its share of the samples (seeds 0-2).")

# 2 critic steps per G step over 6,000 decaying steps instead of 5 over 2,000 constant ones:
# hq 0.927-0.941 on seeds 0-2 (was 0.77), every mode evenly filled.
PRESETS.add("ring8-wgan-gp", {
    "data": {"name": "ring"},
    "model": _MLP_2D,
    "loss": {"name": "wasserstein"},
    "regularization": {"gradient_penalty": 0.1},
    "optim": {"g": {**_ADAM_WGAN_GP, "lr": 5e-4}, "d": {**_ADAM_WGAN_GP, "lr": 1e-3},
              "n_critic": 2, "ema_decay": 0.99, "lr_decay": "linear"},
    "train": {**_TOY_TRAIN, "steps": 6000},
}, "Ring of 8, WGAN-GP (lambda 0.1 as in the paper's toy runs, 2 critic steps, learning rates "
   "decaying to 0): the critic's estimate tracks the true W1 as the samples settle.")

PRESETS.add("grid25-wgan-gp", {
    "data": {"name": "grid"},
    "model": _MLP_2D,
    "loss": {"name": "wasserstein"},
    # The paper's toy lambda (0.1) was for data scaled into about [-1.4, 1.4]; on this grid
    # ([-4, 4]) it lets the critic overestimate W1 (2.0 vs 0.6), 10 underestimates it (0.36),
    # 1 tracks it (0.57 vs 0.52 at the end).
    "regularization": {"gradient_penalty": 1.0},
    "optim": {"g": {**_ADAM_WGAN_GP, "lr": 5e-4}, "d": {**_ADAM_WGAN_GP, "lr": 5e-4},
              "n_critic": 5, "ema_decay": 0.99},
    "train": {**_TOY_TRAIN, "steps": 3000},
}, "5x5 grid of Gaussians (PacGAN's benchmark), WGAN-GP (lambda 1, 5 critic steps).")

PRESETS.add("grid25-gan-collapse", {
    "data": {"name": "grid"},
    "model": _MLP_2D,
    "loss": {"name": "nonsaturating"},
    "optim": {"g": {"lr": 1e-3, "beta1": 0.5}, "d": {"lr": 1e-3, "beta1": 0.5}},
    "train": {**_TOY_TRAIN, "steps": 2000},
}, "Mode collapse on purpose on the 5x5 grid: the non-saturating GAN, high constant learning "
   "rate, no EMA; it covers 12-19 of the 25 modes (seeds 0-4), as the plain GAN of PacGAN's "
   "table (17.3).")

PRESETS.add("ring8-wgan-clip", {
    "data": {"name": "ring"},
    "model": _MLP_2D,
    "loss": {"name": "wasserstein"},
    "regularization": {"weight_clip": 0.01},
    "optim": {"g": {"name": "rmsprop", "lr": 5e-4}, "d": {"name": "rmsprop", "lr": 5e-4},
              "n_critic": 5},
    "train": {**_TOY_TRAIN, "steps": 2000},
}, "Ring of 8, the original WGAN: RMSprop and weight clipping at c = 0.01 (slow, capacity-"
   "limited critic).")

PRESETS.add("mnist-dcgan", {
    "data": _MNIST,
    "model": _DCGAN_28,
    "loss": {"name": "nonsaturating"},
    "optim": {"g": _ADAM_DCGAN, "d": _ADAM_DCGAN, "ema_decay": 0.999},
    "train": _MNIST_TRAIN,
}, "MNIST-5k (offline), DCGAN 28x28, non-saturating loss.")

PRESETS.add("mnist-wgan-gp", {
    "data": _MNIST,
    "model": {**_DCGAN_28, "d_norm": "layer"},
    "loss": {"name": "wasserstein"},
    "regularization": {"gradient_penalty": 10.0},
    "optim": {"g": _ADAM_WGAN_GP, "d": _ADAM_WGAN_GP, "n_critic": 5, "ema_decay": 0.999},
    "train": _MNIST_TRAIN,
}, "MNIST-5k, WGAN-GP (lambda 10, 5 critic steps, layer norm in the critic).")

PRESETS.add("mnist-lsgan", {
    "data": _MNIST,
    "model": _DCGAN_28,
    "loss": {"name": "lsgan"},
    "optim": {"g": _ADAM_DCGAN, "d": _ADAM_DCGAN, "ema_decay": 0.999},
    "train": _MNIST_TRAIN,
}, "MNIST-5k, least squares GAN (a=0, b=1, c=1).")

PRESETS.add("mnist-sngan-hinge", {
    "data": _MNIST,
    "model": {**_DCGAN_28, "d_norm": "none", "spectral_norm_d": True},
    "loss": {"name": "hinge"},
    "optim": {"g": _ADAM_DCGAN, "d": _ADAM_DCGAN, "ema_decay": 0.999},
    "train": _MNIST_TRAIN,
}, "MNIST-5k, spectrally normalized critic with the hinge loss (SNGAN).")

PRESETS.add("digits-dcgan", {
    "data": {"name": "digits", "image_size": 32},
    "model": {**_DCGAN_28},
    "loss": {"name": "nonsaturating"},
    "optim": {"g": _ADAM_DCGAN, "d": _ADAM_DCGAN, "ema_decay": 0.999},
    "train": {**_MNIST_TRAIN, "steps": 2000},
}, "scikit-learn's 8x8 digits upsampled to 32x32 (offline, tiny): the quickest image run.")


def preset_dict(name: str) -> dict[str, Any]:
    """A copy of the preset's partial config (ValueError naming the presets if unknown)."""
    return copy.deepcopy(PRESETS.get(name))


def preset_config(name: str) -> RunConfig:
    return RunConfig.from_dict({**preset_dict(name), "name": name})

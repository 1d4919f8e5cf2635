"""Inception Score (Salimans et al. 2016): exp E_x KL(p(y|x) || p(y)), over 10 splits.

Computed from classifier logits as torch-fidelity does (samples shuffled with seed 2020,
float64 softmax). With Inception that needs the classifier head (the full weights file); the
MNIST domain classifier has its own head ("IS-MNIST", not comparable).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

__all__ = ["InceptionScore", "inception_score_from_logits"]


@dataclass(frozen=True)
class InceptionScore:
    mean: float
    std: float


def inception_score_from_logits(
    logits: Tensor | np.ndarray, *, splits: int = 10, shuffle: bool = True, seed: int = 2020
) -> InceptionScore:
    """IS mean and standard deviation over ``splits`` equal parts of ``logits`` (N, classes)."""
    x = torch.as_tensor(np.asarray(logits) if not isinstance(logits, Tensor) else logits)
    x = x.detach().cpu().double()
    if x.dim() != 2:
        raise ValueError(f"logits must be (N, classes), got shape {tuple(x.shape)}")
    n = len(x)
    if splits < 1 or n < splits:
        raise ValueError(f"IS with {splits} splits needs at least {splits} samples, got {n}")
    if shuffle:
        x = x[np.random.RandomState(seed).permutation(n)]
    p, log_p = x.softmax(dim=1), x.log_softmax(dim=1)
    scores = []
    for i in range(splits):
        part = slice(i * n // splits, (i + 1) * n // splits)
        q = p[part].mean(dim=0, keepdim=True)  # marginal p(y) of this split
        kl = (p[part] * (log_p[part] - q.log())).sum(dim=1).mean()
        scores.append(float(kl.exp()))
    return InceptionScore(mean=float(np.mean(scores)), std=float(np.std(scores)))

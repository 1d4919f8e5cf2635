"""Nearest neighbours: which training images lie closest to a generated one (memorization)."""

from __future__ import annotations

import torch
from torch import Tensor

__all__ = ["nearest"]


@torch.inference_mode()
def nearest(query: Tensor, bank: Tensor, k: int = 5) -> tuple[Tensor, Tensor]:
    """Euclidean distances and indices of the ``k`` rows of ``bank`` (N, F) nearest to each
    row of ``query`` (n, F), nearest first: two (n, k) tensors."""
    if query.ndim != 2 or bank.ndim != 2 or query.shape[1] != bank.shape[1]:
        raise ValueError(f"query (n, F) and bank (N, F) must share F; got {tuple(query.shape)} "
                         f"and {tuple(bank.shape)}")
    k = min(k, bank.shape[0])
    # exact differences, not the |a|^2 + |b|^2 - 2ab shortcut: near-duplicates are the point
    distances = torch.cdist(query.float(), bank.float(),
                            compute_mode="donot_use_mm_for_euclid_dist")
    values, indices = torch.topk(distances, k, dim=1, largest=False)
    return values, indices

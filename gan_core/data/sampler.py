"""Epochs of shuffled indices, resumable from a saved position."""

from __future__ import annotations

import torch
from torch import Tensor

from gan_core.data.source import StateDict, check_batch_size, stream_generator

__all__ = ["EpochSampler", "random_indices"]


class EpochSampler:
    """Index batches over ``size`` items: each epoch a fresh permutation, the incomplete last
    batch dropped.

    The state is the generator state *before* the current epoch's permutation plus the position
    in it, so a restore redraws the same permutation instead of saving ``size`` indices.
    """

    def __init__(self, size: int, seed: int) -> None:
        if size < 1:
            raise ValueError(f"a data set needs at least one item, got {size}")
        self.size = size
        self._generator = stream_generator(seed)
        self.epoch = 0
        self._start_epoch()

    def _start_epoch(self) -> None:
        self._epoch_state = self._generator.get_state()
        self._perm = torch.randperm(self.size, generator=self._generator)
        self.position = 0

    def check(self, batch_size: int) -> None:
        check_batch_size(batch_size)
        if batch_size > self.size:
            raise ValueError(
                f"train.batch_size ({batch_size}) is larger than the data set ({self.size} "
                "items); lower train.batch_size or raise data.limit"
            )

    def next_indices(self, batch_size: int) -> Tensor:
        """The next ``batch_size`` indices (int64)."""
        self.check(batch_size)
        if self.position + batch_size > self.size:
            self._start_epoch()
            self.epoch += 1
        indices = self._perm[self.position : self.position + batch_size]
        self.position += batch_size
        return indices

    def state_dict(self) -> StateDict:
        return {
            "generator": self._epoch_state.clone(),
            "position": self.position,
            "epoch": self.epoch,
            "size": self.size,
        }

    def load_state_dict(self, state: StateDict) -> None:
        if int(state["size"]) != self.size:
            raise ValueError(
                f"the saved data stream covers {int(state['size'])} items but this data set has "
                f"{self.size}; resume with the same data settings (data.limit, data.root)"
            )
        self._generator.set_state(state["generator"])
        self._start_epoch()
        self.position = int(state["position"])
        self.epoch = int(state["epoch"])


def random_indices(size: int, n: int, generator: torch.Generator) -> Tensor:
    """``n`` random indices into ``size`` items: distinct when ``n <= size``."""
    check_batch_size(n, "n")
    if n <= size:
        return torch.randperm(size, generator=generator)[:n]
    return torch.randint(size, (n,), generator=generator)

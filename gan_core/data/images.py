"""Image sources: uint8 images at the model's size, served as float batches in [-1, 1].

Small sets sit in memory (:class:`InMemoryImageSource`); large file sets are decoded on demand
by DataLoader workers (:class:`LazyImageSource`). Both draw their order from one
:class:`EpochSampler`, so saving and resuming work the same way.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
from abc import abstractmethod
from collections import deque
from collections.abc import Iterator

import torch
from torch import Tensor
from torch.utils.data import DataLoader, Dataset, Subset

from gan_core.data.convert import to_unit_range
from gan_core.data.sampler import EpochSampler, random_indices
from gan_core.data.source import Batch, DataInfo, DataSource, StateDict

__all__ = ["ImageSource", "InMemoryImageSource", "LazyImageSource", "default_num_workers"]

log = logging.getLogger(__name__)

_SMALL_SET = 1024  # below this, worker start-up costs more than decoding in the main process
_SAMPLE_CHUNK = 256  # files per worker task when sample() decodes many files


class ImageSource(DataSource):
    """Training order from an :class:`EpochSampler`; subclasses say how to fetch indices."""

    def __init__(self, info: DataInfo, seed: int) -> None:
        assert info.size is not None, "image sets have a size"
        self.info = info
        self._sampler = EpochSampler(info.size, seed)

    @abstractmethod
    def _fetch(self, indices: Tensor) -> tuple[Tensor, Tensor | None]:
        """uint8 images (B, C, H, W) and int64 labels (B,) or None for ``indices``."""

    def _to_batch(self, images: Tensor, labels: Tensor | None) -> Batch:
        return to_unit_range(images), labels if self.info.num_classes is not None else None

    def next_batch(self, batch_size: int) -> Batch:
        return self._to_batch(*self._fetch(self._sampler.next_indices(batch_size)))

    def sample(self, n: int, generator: torch.Generator) -> Batch:
        assert self.info.size is not None
        return self._to_batch(*self._fetch(random_indices(self.info.size, n, generator)))

    def state_dict(self) -> StateDict:
        return self._sampler.state_dict()

    def load_state_dict(self, state: StateDict) -> None:
        self._sampler.load_state_dict(state)


class InMemoryImageSource(ImageSource):
    """A set held fully in memory as uint8 (N, C, H, W)."""

    def __init__(self, info: DataInfo, images: Tensor, labels: Tensor | None, seed: int) -> None:
        assert images.dtype == torch.uint8 and tuple(images.shape[1:]) == info.shape
        super().__init__(info, seed)
        self._images = images
        self._labels = labels

    def _fetch(self, indices: Tensor) -> tuple[Tensor, Tensor | None]:
        labels = self._labels[indices] if self._labels is not None else None
        return self._images[indices], labels


def default_num_workers(size: int) -> int:
    if size < _SMALL_SET:
        return 0
    # A daemonic process (e.g. a training job started by the server) may not have children.
    if multiprocessing.current_process().daemon:
        return 0
    return min(4, os.cpu_count() or 1)


class LazyImageSource(ImageSource):
    """A set decoded file by file by a ``dataset`` of ``(uint8 (C, H, W), label or -1)``.

    A DataLoader prefetches batches ahead of the trainer, so ``self._sampler`` runs ahead of
    what was handed out; the state after each handed-out batch is queued in ``_pending`` and
    becomes ``_consumed`` when that batch is returned. Saving stores ``_consumed``.
    """

    def __init__(
        self,
        info: DataInfo,
        dataset: Dataset[tuple[Tensor, int]],
        seed: int,
        num_workers: int | None = None,
    ) -> None:
        super().__init__(info, seed)
        self._dataset = dataset
        assert info.size is not None
        self.num_workers = default_num_workers(info.size) if num_workers is None else num_workers
        self._consumed = self._sampler.state_dict()
        self._pending: deque[StateDict] = deque()
        self._batch_size: int | None = None
        self._stream: Iterator[tuple[Tensor, Tensor]] | None = None

    def _fetch(self, indices: Tensor) -> tuple[Tensor, Tensor | None]:
        workers = self.num_workers if len(indices) > _SAMPLE_CHUNK else 0
        loader = DataLoader(
            Subset(self._dataset, indices.tolist()), batch_size=_SAMPLE_CHUNK, num_workers=workers
        )
        images, labels = zip(*loader, strict=True)
        return torch.cat(images), torch.cat(labels)

    def _index_batches(self, batch_size: int) -> Iterator[list[int]]:
        # Runs in this process (the DataLoader asks it for indices to hand to its workers).
        while True:
            indices = self._sampler.next_indices(batch_size)
            self._pending.append(self._sampler.state_dict())
            yield indices.tolist()

    def _start_stream(self, batch_size: int) -> None:
        self.close()
        self._sampler.load_state_dict(self._consumed)  # forget what was prefetched
        loader = DataLoader(
            self._dataset,
            batch_sampler=self._index_batches(batch_size),
            num_workers=self.num_workers,
        )
        self._stream = iter(loader)
        self._batch_size = batch_size
        log.debug("%s: decoding with %d workers", self.info.name, self.num_workers)

    def next_batch(self, batch_size: int) -> Batch:
        self._sampler.check(batch_size)
        if self._stream is None or batch_size != self._batch_size:
            self._start_stream(batch_size)
        assert self._stream is not None
        try:
            images, labels = next(self._stream)
        except Exception:
            self.close()  # _pending no longer matches the stream: restart from _consumed
            raise
        self._consumed = self._pending.popleft()
        return self._to_batch(images, labels)

    def state_dict(self) -> StateDict:
        return dict(self._consumed)

    def load_state_dict(self, state: StateDict) -> None:
        self.close()
        self._sampler.load_state_dict(state)  # validates the state
        self._consumed = self._sampler.state_dict()

    def close(self) -> None:
        self._stream = None  # dropping the iterator shuts its workers down
        self._pending.clear()
        self._batch_size = None

"""Writer threads that take whatever has queued up together: one commit for a burst."""

from __future__ import annotations

import queue
from typing import TypeVar

__all__ = ["take_batch"]

T = TypeVar("T")


def take_batch(source: queue.SimpleQueue[T | None], limit: int) -> tuple[list[T], bool]:
    """Block for one item, then take what else is queued, up to ``limit``: (items, stop). A
    ``None`` in the queue asks the writer to stop after the items before it."""
    first = source.get()
    if first is None:
        return [], True
    batch = [first]
    while len(batch) < limit:
        try:
            item = source.get_nowait()
        except queue.Empty:
            break
        if item is None:
            return batch, True
        batch.append(item)
    return batch, False

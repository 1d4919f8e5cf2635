"""What every data source offers the trainer: an infinite, resumable stream of CPU batches."""

from __future__ import annotations

import hashlib
import os
from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import torch
from torch import Tensor

__all__ = [
    "Batch",
    "DataInfo",
    "DataNotFoundError",
    "DataSource",
    "StateDict",
    "check_batch_size",
    "data_root",
    "missing_files",
    "stream_generator",
]

Batch = tuple[Tensor, Tensor | None]
StateDict = dict[str, int | Tensor]


class DataNotFoundError(ValueError):
    """A data set's files are missing; the message says where they were looked for and how to
    provide them."""


# eq=False: a tensor field makes field-wise == ambiguous, so infos compare by identity.
@dataclass(frozen=True, eq=False)
class DataInfo:
    """What the trainer, metrics and plots need to know about a data set."""

    name: str
    kind: Literal["toy", "image"]
    shape: tuple[int, ...]  # (2,) for toys, (C, H, W) for images
    num_classes: int | None = None
    mode_centers: Tensor | None = None  # (K, 2) float32 for mixtures of Gaussians
    sigma: float | None = None  # std of each mode
    extent: tuple[float, float, float, float] | None = None  # (xmin, xmax, ymin, ymax)
    size: int | None = None  # items in an image set; toys are infinite


class DataSource(ABC):
    """An infinite stream of batches that can be saved and resumed exactly."""

    info: DataInfo

    @abstractmethod
    def next_batch(self, batch_size: int) -> Batch:
        """The next ``batch_size`` items of the training stream: ``(x, y)`` with ``y`` the
        mode/class index (int64) or None."""

    @abstractmethod
    def sample(self, n: int, generator: torch.Generator) -> Batch:
        """``n`` items drawn with ``generator``, leaving the training stream untouched."""

    @abstractmethod
    def state_dict(self) -> StateDict:
        """The stream's position: plain ints and CPU tensors only."""

    @abstractmethod
    def load_state_dict(self, state: StateDict) -> None:
        """Continue the stream exactly where :meth:`state_dict` was taken."""

    def close(self) -> None:  # noqa: B027 (optional hook: most sources hold nothing to release)
        """Release worker processes or files, if any."""


def check_batch_size(n: int, what: str = "train.batch_size") -> None:
    if not isinstance(n, int) or isinstance(n, bool) or n < 1:
        raise ValueError(f"{what} must be a positive integer, got {n!r}")


def stream_generator(seed: int) -> torch.Generator:
    """A CPU generator for the data stream of run ``seed``.

    The seed is hashed first: the trainer seeds weights and noise from the same run seed, and
    two Mersenne twisters seeded alike would draw the same numbers (a Gaussian toy's data would
    equal G's input z).
    """
    digest = hashlib.sha256(f"ganscope-data:{int(seed)}".encode()).digest()
    return torch.Generator().manual_seed(int.from_bytes(digest[:8], "little") >> 1)


def data_root(root: str | None) -> Path:
    """``root`` if given, else ``$GANSCOPE_DATA_DIR/datasets``, else
    ``~/.cache/ganscope/datasets``."""
    if root:
        return Path(root).expanduser()
    env = os.environ.get("GANSCOPE_DATA_DIR")
    if env:
        return Path(env).expanduser() / "datasets"
    return Path.home() / ".cache" / "ganscope" / "datasets"


def missing_files(
    name: str, folder: Path, expected: str, layout: str, other_way: str
) -> DataNotFoundError:
    """The error for a set whose files are not where we looked: what, where, and how to fix it."""
    return DataNotFoundError(
        f"data set {name!r}: expected {expected} in {folder}, but they are not there. Either put "
        f"them there or set data.root to the folder that holds {layout}, or {other_way}."
    )

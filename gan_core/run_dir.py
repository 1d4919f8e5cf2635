"""A run's folder: where each of its files lives, and the one way any of them is written.

    config.json                              the RunConfig
    stats.jsonl                              one JSON object per report: {"step": N, name: value}
    events.jsonl                             status changes, hyper-parameter changes, checkpoints
    samples/grid_000001000.png               sample grids from fixed noise (image data)
    views/view_000001000.json                2D views (toy data)
    checkpoints/ckpt_000001000.safetensors   checkpoints

The folder alone is enough to rebuild a run (the CLI writes it, the server and the importer read
it). A file's name in the folder, as the server stores and serves it, is the relative path
(``RunDir.file_name("sample", 1000)`` is "samples/grid_000001000.png").
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import ClassVar

__all__ = ["RunDir", "atomic_path", "write_atomic"]


class RunDir:
    """The layout of one run folder. Paths only: nothing is created until asked."""

    CONFIG = "config.json"
    STATS = "stats.jsonl"
    EVENTS = "events.jsonl"
    # kind -> (folder, file prefix, suffix) of the files kept one per step
    PER_STEP: ClassVar[dict[str, tuple[str, str, str]]] = {
        "sample": ("samples", "grid_", ".png"),
        "view": ("views", "view_", ".json"),
        "checkpoint": ("checkpoints", "ckpt_", ".safetensors"),
    }

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)

    def __repr__(self) -> str:
        return f"RunDir({str(self.path)!r})"

    @property
    def config(self) -> Path:
        return self.path / self.CONFIG

    @property
    def stats(self) -> Path:
        return self.path / self.STATS

    @property
    def events(self) -> Path:
        return self.path / self.EVENTS

    @property
    def checkpoints(self) -> Path:
        return self.path / self.PER_STEP["checkpoint"][0]

    @classmethod
    def file_name(cls, kind: str, step: int) -> str:
        """The relative path of ``kind``'s file (an event kind: "sample", "view", "checkpoint")
        at ``step``."""
        folder, prefix, suffix = cls.PER_STEP[kind]
        return f"{folder}/{prefix}{step:09d}{suffix}"

    @classmethod
    def checkpoint_name(cls, step: int) -> str:
        return cls.file_name("checkpoint", step)

    def file(self, kind: str, step: int) -> Path:
        return self.path / self.file_name(kind, step)

    def checkpoint(self, step: int) -> Path:
        return self.file("checkpoint", step)

    @classmethod
    def step_of(cls, kind: str, name: str | Path) -> int | None:
        """The step in a file name of ``kind`` (a path or a bare name), None if it is not one."""
        _, prefix, suffix = cls.PER_STEP[kind]
        base = Path(name).name
        if not (base.startswith(prefix) and base.endswith(suffix)):
            return None
        digits = base[len(prefix):len(base) - len(suffix)]
        return int(digits) if digits.isdigit() else None

    def files(self, kind: str) -> list[tuple[int, Path]]:
        """``kind``'s files in the folder with their steps, by step (a stray name is skipped,
        as is a temporary file that a crash left behind)."""
        folder, prefix, suffix = self.PER_STEP[kind]
        found = []
        for path in (self.path / folder).glob(f"{prefix}*{suffix}"):
            step = self.step_of(kind, path)
            if step is not None:
                found.append((step, path))
        return sorted(found)

    def make(self) -> RunDir:
        """Create the folder and its sub-folders (idempotent)."""
        self.path.mkdir(parents=True, exist_ok=True)
        for folder, _, _ in self.PER_STEP.values():
            (self.path / folder).mkdir(exist_ok=True)
        return self


@contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """A temporary path beside ``path`` to write to; on leaving the block without an error it
    replaces ``path`` in one step (``os.replace``), on an error it is removed. A reader sees the
    old file or the new one, never half of one, and a crash leaves at most a stray temporary
    file (named ``.tmp-…``, which no reader of the folder picks up)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(dir=path.parent, prefix=f".tmp-{path.name}.")
    os.close(fd)
    tmp = Path(name)
    try:
        yield tmp
        os.chmod(tmp, 0o644)  # mkstemp makes 0600; the file is as shareable as the folder
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def write_atomic(path: str | Path, data: bytes | str) -> Path:
    """Write ``data`` (text as UTF-8) to ``path`` atomically; see :func:`atomic_path`."""
    body = data.encode("utf-8") if isinstance(data, str) else data
    with atomic_path(path) as tmp:
        tmp.write_bytes(body)
    return Path(path)

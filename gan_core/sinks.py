"""The sink that writes a run's events into its folder (gan_core.run_dir has the layout; the
Trainer writes the checkpoints)."""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import IO, Any

from gan_core.events import (
    CheckpointSaved,
    Event,
    HyperparamsChanged,
    Metrics,
    RunStarted,
    SampleGrid,
    StatusChanged,
    Toy2DView,
)
from gan_core.run_dir import RunDir, write_atomic

__all__ = ["RunDirSink", "read_stats"]


def _json_value(value: float) -> float | None:
    return value if math.isfinite(value) else None  # JSON has no NaN


class RunDirSink:
    """Writes events under ``run_dir``. On resume from step N, stats after N are dropped first,
    so a run resumed after a crash has no duplicate or orphaned points."""

    def __init__(self, run_dir: str | Path, *, resume_step: int | None = None) -> None:
        self.run_dir = Path(run_dir)
        self.folder = RunDir(run_dir).make()
        if resume_step is not None:
            _truncate_after(self.folder.stats, resume_step)
            _truncate_after(self.folder.events, resume_step)
        self._stats: IO[str] = open(self.folder.stats, "a", encoding="utf-8")  # noqa: SIM115
        self._events: IO[str] = open(self.folder.events, "a", encoding="utf-8")  # noqa: SIM115

    def __call__(self, event: Event) -> None:
        if isinstance(event, Metrics):
            row = {"step": event.step, **{k: _json_value(v) for k, v in event.values.items()}}
            self._stats.write(json.dumps(row) + "\n")
            self._stats.flush()
        elif isinstance(event, SampleGrid):
            write_atomic(self.folder.file("sample", event.step), event.png)
        elif isinstance(event, Toy2DView):
            body = json.dumps(event.to_dict()).encode()
            write_atomic(self.folder.file("view", event.step), body)
        elif isinstance(event, RunStarted):
            text = json.dumps(event.config, indent=2).encode()
            write_atomic(self.folder.config, text)
            self._log(event)
        elif isinstance(event, StatusChanged | HyperparamsChanged | CheckpointSaved):
            self._log(event)

    def _log(self, event: Event) -> None:
        row: dict[str, Any] = event.to_dict()
        if isinstance(event, RunStarted):
            row.pop("config")
        if isinstance(event, CheckpointSaved):
            row["path"] = os.path.relpath(event.path, self.run_dir)
        self._events.write(json.dumps(row) + "\n")
        self._events.flush()

    def close(self) -> None:
        self._stats.close()
        self._events.close()


def _truncate_after(path: Path, step: int) -> None:
    if not path.exists():
        return
    kept = [line for line in path.read_text(encoding="utf-8").splitlines(keepends=True)
            if line.strip() and _line_step(line) <= step]
    write_atomic(path, "".join(kept))


def _line_step(line: str) -> int:
    try:
        return int(json.loads(line)["step"])
    except (ValueError, KeyError, TypeError):
        return -1  # a torn last line from a crash: drop it


def read_stats(run_dir: str | Path) -> list[dict[str, float | None]]:
    """All rows of ``stats.jsonl``, in order (a torn last line is skipped)."""
    path = RunDir(run_dir).stats
    rows = []
    if path.exists():
        for line in path.read_text(encoding="utf-8").splitlines():
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError:
                continue
    return rows

"""Sinks that write a run's events to its folder, the layout the CLI and the server share.

    run_dir/config.json           the RunConfig
    run_dir/stats.jsonl           one JSON object per Metrics event: {"step": N, name: value, ...}
    run_dir/events.jsonl          status changes, hyper-parameter changes, checkpoints
    run_dir/samples/grid_<step>.png   sample grids from fixed noise (image data)
    run_dir/views/view_<step>.json    2D views (toy data)
    run_dir/checkpoints/ckpt_<step>.safetensors   (written by the Trainer)

The folder alone is enough to rebuild a run.
"""

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

__all__ = ["RunDirSink", "read_stats"]


def _json_value(value: float) -> float | None:
    return value if math.isfinite(value) else None  # JSON has no NaN


class RunDirSink:
    """Writes events under ``run_dir``. On resume from step N, stats after N are dropped first,
    so a run resumed after a crash has no duplicate or orphaned points."""

    def __init__(self, run_dir: str | Path, *, resume_step: int | None = None) -> None:
        self.run_dir = Path(run_dir)
        self.run_dir.mkdir(parents=True, exist_ok=True)
        for sub in ("samples", "views", "checkpoints"):
            (self.run_dir / sub).mkdir(exist_ok=True)
        if resume_step is not None:
            _truncate_after(self.run_dir / "stats.jsonl", resume_step)
            _truncate_after(self.run_dir / "events.jsonl", resume_step)
        self._stats: IO[str] = open(self.run_dir / "stats.jsonl", "a", encoding="utf-8")  # noqa: SIM115
        self._events: IO[str] = open(self.run_dir / "events.jsonl", "a", encoding="utf-8")  # noqa: SIM115

    def __call__(self, event: Event) -> None:
        if isinstance(event, Metrics):
            row = {"step": event.step, **{k: _json_value(v) for k, v in event.values.items()}}
            self._stats.write(json.dumps(row) + "\n")
            self._stats.flush()
        elif isinstance(event, SampleGrid):
            _write_atomic(self.run_dir / "samples" / f"grid_{event.step:09d}.png", event.png)
        elif isinstance(event, Toy2DView):
            body = json.dumps(event.to_dict()).encode()
            _write_atomic(self.run_dir / "views" / f"view_{event.step:09d}.json", body)
        elif isinstance(event, RunStarted):
            text = json.dumps(event.config, indent=2).encode()
            _write_atomic(self.run_dir / "config.json", text)
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


def _write_atomic(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".tmp-{path.name}")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def _truncate_after(path: Path, step: int) -> None:
    if not path.exists():
        return
    kept = [line for line in path.read_text(encoding="utf-8").splitlines(keepends=True)
            if line.strip() and _line_step(line) <= step]
    _write_atomic(path, "".join(kept).encode())


def _line_step(line: str) -> int:
    try:
        return int(json.loads(line)["step"])
    except (ValueError, KeyError, TypeError):
        return -1  # a torn last line from a crash: drop it


def read_stats(run_dir: str | Path) -> list[dict[str, float | None]]:
    """All rows of ``stats.jsonl``, in order (a torn last line is skipped)."""
    path = Path(run_dir) / "stats.jsonl"
    rows = []
    if path.exists():
        for line in path.read_text(encoding="utf-8").splitlines():
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError:
                continue
    return rows

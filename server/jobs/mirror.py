"""The server's copy of a remote run's folder, written from the events the worker sends.

A worker on another node writes nothing the server can read, so the server lays out
``DATA_DIR/runs/<id>/`` itself, exactly as a local worker would (the same RunDirSink):
config, stats.jsonl, events.jsonl, sample grids and 2D views from the events, checkpoints from
the bytes that travel with their event. Each file is in place before its event reaches the hub,
so whatever a client hears of can be fetched at once.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

from gan_core.run_dir import RunDir, write_atomic
from gan_core.sinks import RunDirSink

__all__ = ["RunFolderMirror"]


class RunFolderMirror:
    """``mirror(event, blob)`` -> the event as the hub should get it (no PNG bytes, the
    checkpoint's server-side path).

    ``resume_step``: the step the server has stored up to when it re-attaches to a run that
    went on while it was away; lines after it are dropped first, as they are re-sent.
    """

    def __init__(self, run_dir: Path, *, resume_step: int | None = None) -> None:
        self.run_dir = run_dir
        self._resume_step = resume_step
        self._sink: RunDirSink | None = None

    def __call__(self, event: Any, blob: bytes | None) -> Any:
        if self._sink is None:
            step = self._resume_step
            if event.kind == "started" and event.resumed:
                step = event.step  # a resume from a checkpoint replays what came after it
            self._sink = RunDirSink(self.run_dir, resume_step=step)
        if event.kind == "checkpoint":
            target = write_atomic(RunDir(self.run_dir).checkpoints / Path(event.path).name,
                                  blob or b"")
            event = dataclasses.replace(event, path=str(target))
        self._sink(event)
        if event.kind == "sample":
            event = dataclasses.replace(event, png=b"")  # the server serves the file
        return event

    def close(self) -> None:
        if self._sink is not None:
            self._sink.close()
            self._sink = None

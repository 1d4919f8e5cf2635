"""Typed event records: the only contract between a training process and whoever listens.

A sink is any callable taking an :class:`Event`. Events are plain dataclasses of built-in
types (and bytes for images), so they pickle cheaply across a multiprocessing channel and
serialize to JSON with :meth:`Event.to_dict`.

An event's ``kind`` is its one name from the trainer to the browser: the server's WebSocket
message has it as its ``type``, stores it (a sample grid is a ``sample`` row), and the run
folder's ``events.jsonl`` records it. Folders written before the names were unified say
``run_started``, ``sample_grid`` or ``toy2d_view``: :func:`current_kind` reads them.
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any, ClassVar

from gan_core.status import RunStatus

__all__ = [
    "CheckpointSaved",
    "Event",
    "HyperparamsChanged",
    "Metrics",
    "RunStarted",
    "SampleGrid",
    "Sink",
    "StatusChanged",
    "Toy2DView",
    "current_kind",
]



@dataclass(frozen=True)
class Event:
    kind: ClassVar[str] = "event"
    step: int

    def to_dict(self) -> dict[str, Any]:
        out = {"kind": self.kind, **asdict(self)}
        for key, value in out.items():
            if isinstance(value, bytes):
                out[key] = base64.b64encode(value).decode("ascii")
        return out


@dataclass(frozen=True)
class RunStarted(Event):
    """The trainer is built and about to step (also after a resume)."""

    kind: ClassVar[str] = "started"
    config: dict[str, Any]
    device: str
    resumed: bool = False


@dataclass(frozen=True)
class Metrics(Event):
    """Named scalars averaged over the ``steps`` G steps that end at ``step``."""

    kind: ClassVar[str] = "metrics"
    values: dict[str, float]
    steps: int = 1


@dataclass(frozen=True)
class SampleGrid(Event):
    """A PNG grid of G's samples from the run's fixed noise."""

    kind: ClassVar[str] = "sample"
    png: bytes
    nrow: int
    count: int


@dataclass(frozen=True)
class Toy2DView(Event):
    """What a 2D run looks like at ``step``: points, D over the plane, G's gradient field.

    ``d_grid`` is D's raw output on a ``resolution`` x ``resolution`` grid over ``extent``
    (row-major, y from ymin to ymax); ``grad_field`` is, at each generated point, the direction
    in which G's loss pushes that point (minus the gradient of G's loss w.r.t. the sample).
    """

    kind: ClassVar[str] = "view"
    real: list[list[float]]
    fake: list[list[float]]
    grad_field: list[list[float]]
    d_grid: list[float]
    resolution: int
    extent: tuple[float, float, float, float]
    mode_centers: list[list[float]] | None = None


@dataclass(frozen=True)
class CheckpointSaved(Event):
    kind: ClassVar[str] = "checkpoint"
    path: str


@dataclass(frozen=True)
class HyperparamsChanged(Event):
    """A live change of hyper-parameters, applied before ``step`` + 1 runs."""

    kind: ClassVar[str] = "hyperparams"
    changes: dict[str, float]


@dataclass(frozen=True)
class StatusChanged(Event):
    kind: ClassVar[str] = "status"
    status: RunStatus  # running, paused, stopped, completed, diverged or failed
    message: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


Sink = Callable[[Event], None]

# the names events had before (in run folders written then) -> their names now
FORMER_KINDS = {"run_started": "started", "sample_grid": "sample", "toy2d_view": "view"}


def current_kind(kind: str) -> str:
    """An event kind as it is named now (a former name read from an older run folder)."""
    return FORMER_KINDS.get(kind, kind)

"""The one interface the server uses to run jobs, whichever backend runs them.

Two implementations: :class:`server.jobs.manager.JobManager` (spawned processes on this
machine, the default) and :class:`server.jobs.ray_backend.RayJobManager` (Ray actors on a
cluster). The service, the hub and the routes know only this protocol; events reach the hub
through the ``publish`` callback each backend is built with.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from gan_core.status import RunStatus
from server.jobs.worker import WorkerSpec

__all__ = ["ActiveRun", "JobBackend", "Publish", "status_event"]

# publish(run_id, events, cursor): ``cursor`` is the backend's number of the last event in
# ``events`` (stored with the rows, so that a re-attached stream resumes after it), or None
Publish = Callable[..., None]


@dataclass(frozen=True)
class ActiveRun:
    """A run the database says was active when the server last stopped."""

    run_id: str
    run_dir: str
    status: str
    step: int  # the last step stored
    cursor: int  # the last worker event stored (Run.event_cursor)


class JobBackend(Protocol):
    name: str

    def start(self) -> None:
        """Begin accepting jobs (may take seconds: connect to or start a cluster)."""

    def submit(self, spec: WorkerSpec) -> None:
        """Queue a run; it trains once the backend has room for it."""

    def queued(self) -> list[str]:
        """Runs submitted and not yet training."""

    def is_running(self, run_id: str) -> bool:
        """Whether the run has a live worker that takes controls."""

    def running(self) -> list[str]: ...

    def workers(self) -> list[dict[str, Any]]:
        """The live workers: run id, pid, GPU, and the node for a cluster."""

    def cancel_queued(self, run_id: str) -> bool: ...

    def send(self, run_id: str, command: Any) -> bool:
        """Hand a control command to a running worker, in order; False if none is running."""

    def kill(self, run_id: str, timeout: float = 10.0) -> None:
        """End a run's worker now (for a delete)."""

    def recover(self, active: list[ActiveRun]) -> set[str]:
        """After a server start: of the runs that were active, the ids of those still alive
        (training or waiting for room), re-attached; the others are the caller's to settle."""

    def describe(self) -> dict[str, Any]:
        """What /api/health shows: backend, slots or cluster resources, workers, queue."""

    def shutdown(self, timeout: float = 20.0) -> None:
        """The server stops: stop or detach every worker."""


def status_event(status: RunStatus, step: int, message: str, **extra: Any) -> Any:
    """A server-side status change, as a gan_core event (step -1: at the run's step)."""
    from gan_core.events import StatusChanged

    return StatusChanged(step=step, status=RunStatus(status).value,  # type: ignore[arg-type]
                         message=message, extra=extra)

"""The in-process tier: the app from ``create_app`` with stand-ins for its processes, driven by
Starlette's TestClient (an ASGI client: no port, no ``ganscope serve``, no spawned worker).

``StandInJobs`` is a job backend that starts nothing: it records what the server asks of it
(submits, controls, kills) and keeps runs queued until the test plays the worker, either with
chosen events (``InProcessApp.emit``) or by training the run for real in the test's own process
(``InProcessApp.train``: the worker's body, ``train_run``, without the process around it).
``InProcessImages`` is the image service with the process taken out: its typed operations
reach the same ``ImageEngine``, in a thread of this process.

Usage, in a test module::

    @pytest.fixture(scope="module")
    def app(tmp_path_factory):
        with in_process_app(tmp_path_factory.mktemp("ganscope")) as app:
            yield app
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from server.app import create_app
from server.deps import AppState
from server.images import ImageEngine, ImageService, ImageServiceError
from server.jobs.base import ActiveRun, Publish, status_event
from server.jobs.worker import WorkerSpec, train_run
from server.settings import Settings

__all__ = ["InProcessApp", "InProcessImages", "StandInJobs", "dispatch", "in_process_app"]

# TestClient's default peer is "testclient"; the study admin routes trust only loopback peers
LOCAL_PEER = ("127.0.0.1", 50000)


class StandInJobs:
    """A ``JobBackend`` that runs nothing: submitted runs stay queued until a test starts them."""

    name = "stand-in"

    def __init__(self, publish: Publish, *, gpus: int = 0) -> None:
        self.publish = publish
        self.gpus = gpus  # what RunService.check_limits reads of a local backend
        self.submitted: list[WorkerSpec] = []
        self.sent: list[tuple[str, Any]] = []
        self.killed: list[str] = []
        self._queue: list[WorkerSpec] = []
        self._running: dict[str, WorkerSpec] = {}
        self._lock = threading.Lock()

    # -- the JobBackend protocol -----------------------------------------------------------------

    def start(self) -> None:
        pass

    def submit(self, spec: WorkerSpec) -> None:
        with self._lock:
            self.submitted.append(spec)
            self._queue.append(spec)

    def queued(self) -> list[str]:
        with self._lock:
            return [spec.run_id for spec in self._queue]

    def is_running(self, run_id: str) -> bool:
        with self._lock:
            return run_id in self._running

    def running(self) -> list[str]:
        with self._lock:
            return list(self._running)

    def workers(self) -> list[dict[str, Any]]:
        return [{"run_id": run_id, "pid": None, "gpu": None} for run_id in self.running()]

    def cancel_queued(self, run_id: str) -> bool:
        with self._lock:
            before = len(self._queue)
            self._queue = [s for s in self._queue if s.run_id != run_id]
            return len(self._queue) < before

    def send(self, run_id: str, command: Any) -> bool:
        if not self.is_running(run_id):
            return False
        self.sent.append((run_id, command))
        return True

    def kill(self, run_id: str, timeout: float = 10.0) -> None:
        self.killed.append(run_id)
        self.cancel_queued(run_id)
        with self._lock:
            self._running.pop(run_id, None)

    def recover(self, active: list[ActiveRun]) -> set[str]:
        return set()

    def describe(self) -> dict[str, Any]:
        return {"backend": self.name, "slots": 1, "workers": self.workers(),
                "queued": self.queued(), "gpus": self.gpus}

    def shutdown(self, timeout: float = 20.0) -> None:
        with self._lock:
            self._queue.clear()
            self._running.clear()

    # -- the worker's side, played by a test -----------------------------------------------------

    def begin(self, run_id: str) -> WorkerSpec:
        """Take a queued run out of the queue: it is running now (it takes controls)."""
        with self._lock:
            spec = next(s for s in self._queue if s.run_id == run_id)
            self._queue.remove(spec)
            self._running[run_id] = spec
            return spec

    def end(self, run_id: str) -> None:
        with self._lock:
            self._running.pop(run_id, None)


class InProcessImages(ImageService):
    """The image service's stand-in: its typed operations, sent to ``ImageEngine`` in a thread
    instead of a process, one at a time."""

    pid = None

    def __init__(self) -> None:
        super().__init__()
        self.engine = ImageEngine(device="cpu")
        self.calls: list[str] = []
        self._engine_lock = threading.Lock()

    def _handle(self, op: str, params: dict[str, Any]) -> dict[str, Any]:
        with self._engine_lock:
            return self.engine.handle(op, params)

    async def _call(self, op: str, params: dict[str, Any]) -> dict[str, Any]:
        self.calls.append(op)
        try:
            return await asyncio.to_thread(self._handle, op, params)
        except (ValueError, TypeError) as exc:  # as the service process answers bad input
            raise ImageServiceError(str(exc), invalid=True) from None

    def close(self) -> None:
        pass


async def dispatch(hub: Any, run_id: str, events: tuple[Any, ...]) -> None:
    """``events`` from a run's worker through ``hub``, once they are stored (on the app's loop)."""
    seq = hub.dispatch(run_id, events)
    await hub.wait_flushed(run_id, seq)


class InProcessApp:
    """A started app: ``client`` for requests, ``jobs`` the stand-in backend."""

    def __init__(self, client: TestClient, jobs: StandInJobs, data_dir: Path) -> None:
        self.client = client
        self.jobs = jobs
        self.data_dir = data_dir

    @property
    def state(self) -> AppState:
        return self.client.app.state.ganscope  # type: ignore[attr-defined]

    def create_run(self, body: dict[str, Any], **headers: str) -> str:
        r = self.client.post("/api/runs", json=body, headers=headers)
        assert r.status_code == 201, r.text
        return r.json()["id"]

    def emit(self, run_id: str, *events: Any) -> None:
        """Events from the run's worker, through the hub; returns once they are stored."""
        self.client.portal.call(dispatch, self.state.hub, run_id, events)  # type: ignore[union-attr]

    def start(self, run_id: str) -> WorkerSpec:
        """The queued run's worker starts: it is running and takes controls."""
        spec = self.jobs.begin(run_id)
        self.emit(run_id, status_event("starting", -1, ""), status_event("running", 0, ""))
        return spec

    def finish(self, run_id: str, status: str = "completed", message: str = "") -> None:
        self.jobs.end(run_id)
        self.emit(run_id, status_event(status, -1, message))

    def train(self, run_id: str) -> None:
        """Train the queued run to its end in this process (the worker's body, its files in
        the run folder as a worker writes them); its events reach the hub afterwards."""
        import torch

        from gan_core.sinks import RunDirSink

        spec = self.jobs.begin(run_id)
        events: list[Any] = [status_event("starting", -1, "")]
        resume_step = None
        if spec.resume_from is not None:
            from gan_core.checkpoint import load_checkpoint

            resume_step = load_checkpoint(spec.resume_from).step
        sink = RunDirSink(spec.run_dir, resume_step=resume_step)
        threads = torch.get_num_threads()  # train_run sets the worker's budget
        try:
            train_run(spec, Path(spec.run_dir), [sink, events.append], controls=None)
        finally:
            torch.set_num_threads(threads)
            sink.close()
            self.jobs.end(run_id)
        self.emit(run_id, *events)


@contextmanager
def in_process_app(data_dir: Path, **settings: Any) -> Iterator[InProcessApp]:
    """The app on a fresh SQLite database in ``data_dir``, started (lifespan run) and stopped."""
    backends: list[StandInJobs] = []

    def stand_in(publish: Publish) -> StandInJobs:
        backends.append(StandInJobs(publish))
        return backends[-1]

    settings.setdefault("database_url", f"sqlite:///{data_dir / 'ganscope.db'}")
    app = create_app(Settings(data_dir=data_dir, **settings), job_backend=stand_in,
                     image_service=InProcessImages)
    with TestClient(app, client=LOCAL_PEER) as client:
        yield InProcessApp(client, backends[0], data_dir)

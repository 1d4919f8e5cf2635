"""The app of this process served on a port, for browser tests of what a test registers in
gan_core (a metric, a chart): a ``ganscope serve`` child would not see an entry added here.

uvicorn serves ``create_app`` in a thread of its own event loop; jobs are the in-process
tier's stand-in (nothing trains: ``emit`` plays the worker, through the hub, as
``InProcessApp.emit`` does) and the image service runs in this process too.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import uvicorn

from server.app import create_app
from server.deps import AppState
from server.jobs.base import Publish, status_event
from server.settings import Settings
from tests.polling import wait_until
from tests.server.conftest import free_port
from tests.server.inprocess import InProcessImages, StandInJobs, dispatch


class ServedApp:
    def __init__(self, url: str, state: AppState, jobs: StandInJobs,
                 loop: asyncio.AbstractEventLoop) -> None:
        self.url = url
        self.state = state
        self.jobs = jobs
        self.loop = loop

    def create_run(self, body: dict[str, Any]) -> str:
        r = httpx.post(f"{self.url}/api/runs", json=body, timeout=30)
        assert r.status_code == 201, r.text
        return r.json()["id"]

    def emit(self, run_id: str, *events: Any) -> None:
        """Events from the run's worker, through the hub; returns once they are stored."""
        asyncio.run_coroutine_threadsafe(dispatch(self.state.hub, run_id, events),
                                         self.loop).result(timeout=30)

    def play(self, run_id: str, *events: Any) -> None:
        """The queued run starts, reports ``events`` and completes."""
        self.jobs.begin(run_id)
        self.emit(run_id, status_event("starting", -1, ""), status_event("running", 0, ""),
                  *events)
        self.jobs.end(run_id)
        self.emit(run_id, status_event("completed", -1, ""))


@contextmanager
def served_app(data_dir: Path) -> Iterator[ServedApp]:
    backends: list[StandInJobs] = []

    def stand_in(publish: Publish) -> StandInJobs:
        backends.append(StandInJobs(publish))
        return backends[-1]

    app = create_app(Settings(data_dir=data_dir,
                              database_url=f"sqlite:///{data_dir / 'ganscope.db'}"),
                     job_backend=stand_in, image_service=InProcessImages)
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port,
                                           log_level="warning"))
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_until_complete, args=(server.serve(),),
                              name="served-app", daemon=True)
    thread.start()
    try:
        wait_until(lambda: server.started or not thread.is_alive(), timeout=60,
                   what="the served app to start")
        assert server.started, "uvicorn stopped before it served"
        yield ServedApp(f"http://127.0.0.1:{port}", app.state.ganscope, backends[0], loop)
    finally:
        server.should_exit = True
        thread.join(30)
        loop.close()

"""A real server for integration tests: `ganscope serve` in a subprocess on a free port,
spawned workers, real HTTP and WebSocket clients."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from websockets.sync.client import ClientConnection, connect

from tests.polling import WaitTimeout, wait_until

# a ring-of-8 run that finishes in a few seconds and reports often
TINY: dict[str, Any] = {
    "preset": "ring8-gan",
    "overrides": {
        "model.width": 32,
        "model.depth": 2,
        "train.steps": 300,
        "train.report_every": 10,
        "train.sample_every": 100,
        "train.spectral_every": 100,
        "train.checkpoint_every": 100,
        "train.num_threads": 1,
    },
}


# a DCGAN on 256 of the 8x8 digits with one checkpoint (step 4), trained in seconds
IMAGE_RUN: dict[str, Any] = {"preset": "digits-dcgan", "overrides": {
    "data.limit": 256, "model.z_dim": 16, "model.g_channels": 8, "model.d_channels": 8,
    "train.steps": 4, "train.batch_size": 16, "train.report_every": 2,
    "train.sample_every": 4, "train.checkpoint_every": 4, "train.num_threads": 1}}


# Every module here is an integration test (it starts `ganscope serve`, spawned workers or a Ray
# cluster) except the in-process tier (test_inprocess_*) and these, which test one piece alone.
PIECES = {"test_db", "test_db_copy", "test_hub", "test_judgments", "test_ray_channel",
          "test_series", "test_settings"}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    here = Path(__file__).parent
    for item in items:
        module = item.path
        if (module.parent == here and module.stem not in PIECES
                and not module.stem.startswith("test_inprocess_")):
            item.add_marker(pytest.mark.integration)


def tiny(**overrides: Any) -> dict[str, Any]:
    return {"preset": TINY["preset"], "overrides": {**TINY["overrides"], **overrides}}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Server:
    """``ganscope serve`` as a child process."""

    def __init__(self, data_dir: Path, **env: str) -> None:
        self.data_dir = data_dir
        self.env = env
        self.port = free_port()
        self.proc: subprocess.Popen | None = None
        self.log = data_dir / "server.log"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}"

    @property
    def database_url(self) -> str:
        return self.env.get("GANSCOPE_DATABASE_URL") or f"sqlite:///{self.data_dir / 'ganscope.db'}"

    def sql(self, query: str, **params: Any) -> list[tuple]:
        """Rows of a read-only query on the server's database, as only the server sees them."""
        from sqlalchemy import create_engine, text

        engine = create_engine(self.database_url)
        try:
            with engine.connect() as conn:
                return [tuple(row) for row in conn.execute(text(query), params)]
        finally:
            engine.dispose()

    def start(self, timeout: float = 60) -> Server:
        env = {**os.environ, "GANSCOPE_MAX_JOBS": "2", "GANSCOPE_CPU_THREADS": "1",
               **self.env}
        env.pop("CUDA_VISIBLE_DEVICES", None)
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "server.cli", "serve", "--port", str(self.port),
             "--data-dir", str(self.data_dir), "--log-level", "warning"],
            env=env, stdout=self.log.open("ab"), stderr=subprocess.STDOUT,
        )
        proc = self.proc

        def healthy() -> bool:
            if proc.poll() is not None:
                raise RuntimeError(f"server exited: {self.log.read_text()[-3000:]}")
            return httpx.get(self.url + "/api/health", timeout=1).status_code == 200

        try:
            wait_until(healthy, ignore=(httpx.HTTPError,), timeout=timeout, interval=0.2,
                       what=f"the server on port {self.port} to answer /api/health")
        except WaitTimeout as late:
            raise RuntimeError(f"server did not start: {self.log.read_text()[-3000:]}") from late
        return self

    def worker_pids(self) -> dict[str, int]:
        health = httpx.get(self.url + "/api/health", timeout=10).json()
        return {w["run_id"]: w["pid"] for w in health["jobs"]["workers"]}

    def stop(self, timeout: float = 60) -> int | None:
        if self.proc is None or self.proc.poll() is not None:
            return self.proc.returncode if self.proc else None
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            return self.proc.wait()

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.kill()
        self.proc.wait()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    srv = Server(tmp_path_factory.mktemp("ganscope")).start()
    yield srv
    srv.stop()


@contextmanager
def server_on(kind: str, folder: Path) -> Iterator[Server]:
    """A started server on a fresh database of ``kind`` (tests/server/databases.py)."""
    from tests.server.databases import database_url

    with database_url(kind, folder) as url:
        srv = Server(folder, GANSCOPE_DATABASE_URL=url).start()
        try:
            yield srv
        finally:
            srv.stop()


@pytest.fixture()
def api(server: Server) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url, timeout=30) as client:
        yield client


def create_run(api: httpx.Client, body: dict[str, Any] | None = None) -> str:
    r = api.post("/api/runs", json=body or TINY)
    assert r.status_code == 201, r.text
    return r.json()["id"]


def trained_image_run(server: Server) -> str:
    """The id of a completed IMAGE_RUN on ``server``."""
    with httpx.Client(base_url=server.url, timeout=60) as api:
        run_id = create_run(api, IMAGE_RUN)
        assert wait_status(api, run_id, "completed", "failed")["status"] == "completed"
    return run_id


@pytest.fixture(scope="module")
def image_run(server: Server) -> str:
    return trained_image_run(server)


def wait_status(api: httpx.Client, run_id: str, *statuses: str, timeout: float = 90) -> dict:
    return wait_until(lambda: api.get(f"/api/runs/{run_id}").json(),
                      ready=lambda run: run["status"] in statuses, timeout=timeout,
                      what=f"run {run_id} to be {' or '.join(statuses)}")


def wait_step(api: httpx.Client, run_id: str, step: int, timeout: float = 60) -> dict:
    return wait_until(lambda: api.get(f"/api/runs/{run_id}").json(),
                      ready=lambda run: run["step"] >= step, timeout=timeout, interval=0.05,
                      what=f"run {run_id} to reach step {step}")


class Stream:
    """A WebSocket client that keeps every message it receives."""

    def __init__(self, server: Server, path: str, **params: Any) -> None:
        query = "&".join(f"{k}={v}" for k, v in params.items())
        url = f"{server.ws_url}{path}" + (f"?{query}" if query else "")
        self._connection = connect(url, open_timeout=10, max_size=1 << 24)
        self.ws: ClientConnection = self._connection.__enter__()
        self.messages: list[dict[str, Any]] = []
        self.sends = 0  # WebSocket messages received (several frames may share one)
        self._waiting: list[dict[str, Any]] = []

    def recv(self, timeout: float = 30) -> dict[str, Any]:
        """The next frame (a message holds one frame, or a JSON array of them)."""
        if not self._waiting:
            data = json.loads(self.ws.recv(timeout))
            self.sends += 1
            self._waiting = data if isinstance(data, list) else [data]
        message = self._waiting.pop(0)
        self.messages.append(message)
        return message

    def until(self, predicate: Any, timeout: float = 60) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"no matching message in {timeout} s; last: "
                                     f"{self.messages[-3:]}")
            message = self.recv(left)
            if predicate(message):
                return message

    def close(self) -> None:
        self._connection.__exit__(None, None, None)

    def __enter__(self) -> Stream:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def is_status(*statuses: str) -> Any:
    return lambda m: m.get("type") == "status" and m.get("status") in statuses

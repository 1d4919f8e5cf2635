"""The WebSocket routes in process: what a run's stream and the runs' stream send first, what
the worker's events become, and what a refused or unknown stream gets."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from starlette.websockets import WebSocketDisconnect

from gan_core.events import Metrics
from server.jobs.base import status_event
from tests.server.conftest import tiny
from tests.server.inprocess import InProcessApp, in_process_app


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[InProcessApp]:
    with in_process_app(tmp_path_factory.mktemp("ganscope")) as app:
        yield app


def frames(ws: Any) -> list[dict[str, Any]]:
    """The frames of the next message (one frame, or a JSON array of them)."""
    message = ws.receive_json()
    return message if isinstance(message, list) else [message]


def test_a_run_stream_sends_the_history_then_the_workers_events(app: InProcessApp) -> None:
    run_id = app.create_run(tiny())
    app.start(run_id)
    app.emit(run_id, Metrics(step=10, values={"loss_d": 0.5}))
    with app.client.websocket_connect(f"/ws/runs/{run_id}") as ws:
        history = ws.receive_json()
        assert history["type"] == "history" and history["run"]["status"] == "running"
        assert history["metrics"]["loss_d"]["step"] == [10]
        seen = history["seq"]
        app.emit(run_id, Metrics(step=20, values={"loss_d": 0.25}),
                 status_event("paused", -1, "asked to"))
        live: list[dict[str, Any]] = []
        while not any(f["type"] == "status" for f in live):
            live += frames(ws)
        assert [(f["type"], f["seq"]) for f in live] == [("metrics", seen + 1),
                                                         ("status", seen + 2)]
        assert live[0]["values"] == {"loss_d": 0.25} and live[1]["status"] == "paused"
        ws.send_text("hello")  # the stream takes no messages, says so, and goes on
        assert frames(ws)[0]["type"] == "error"
    with app.client.websocket_connect(f"/ws/runs/{run_id}?after_seq={seen}") as ws:
        again = ws.receive_json()  # a reconnect gets exactly what it missed
        assert again["type"] == "history"
        assert again["metrics"]["loss_d"]["step"] == [20]
    app.finish(run_id, "stopped")


def test_the_runs_stream_lists_runs_then_their_changes(app: InProcessApp) -> None:
    with app.client.websocket_connect("/ws/runs") as ws:
        first = ws.receive_json()
        assert first["type"] == "runs" and isinstance(first["runs"], list)
        run_id = app.create_run(tiny())
        created = frames(ws)
        assert {"type": "created", "id": run_id} in [
            {k: f.get(k) for k in ("type", "id")} for f in created]


def test_unknown_and_refused_streams_are_closed_with_a_reason(app: InProcessApp) -> None:
    with pytest.raises(WebSocketDisconnect) as closed, \
            app.client.websocket_connect("/ws/runs/0123456789ab") as ws:
        ws.receive_json()
    assert closed.value.code == 4404
    with pytest.raises(WebSocketDisconnect) as closed, \
            app.client.websocket_connect("/ws/runs/not-a-run") as ws:
        ws.receive_json()
    assert closed.value.code == 4404
    with pytest.raises(WebSocketDisconnect) as refused, \
            app.client.websocket_connect("/ws/runs", headers={"origin": "http://evil.example"}):
        pass
    assert refused.value.code == 1008 and "evil.example" in refused.value.reason

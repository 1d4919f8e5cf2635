"""WebSocket streams against a real server: history then live, reconnects, slow clients."""

from __future__ import annotations

import base64
import os
import socket
import time

import httpx
import pytest
from websockets.exceptions import InvalidStatus

from tests.server.conftest import (
    Server,
    Stream,
    create_run,
    is_status,
    tiny,
    wait_status,
    wait_step,
)


def metric_steps(messages: list[dict]) -> list[int]:
    out = []
    for m in messages:
        if m["type"] == "history":
            out.extend(m["metrics"].get("loss_d", {}).get("step", []))
        elif m["type"] == "metrics":
            out.append(m["step"])
    return out


def test_history_then_live_events(api: httpx.Client, server: Server) -> None:
    run_id = create_run(api, tiny(**{"train.steps": 100_000}))
    wait_step(api, run_id, 100)
    with Stream(server, f"/ws/runs/{run_id}") as stream:
        history = stream.recv()
        assert history["type"] == "history" and history["reset"] is True
        assert history["run"]["id"] == run_id and history["run"]["status"] == "running"
        assert history["metrics"]["loss_d"]["step"][:3] == [10, 20, 30]
        assert history["views"] and history["view"]["data"]["resolution"] == 64
        assert [e["status"] for e in history["events"]] == ["starting", "running"]
        # live: numbered right after the history, nothing missing in between
        live = [stream.recv() for _ in range(15)]
        seqs = [m["seq"] for m in live]
        assert seqs == list(range(history["seq"] + 1, history["seq"] + 16))
        kinds = {m["type"] for m in live}
        assert "metrics" in kinds
        view = stream.until(lambda m: m["type"] == "view")
        assert len(view["data"]["fake"]) == 512 and view["url"].endswith(f"/{view['step']}")
        ckpt = stream.until(lambda m: m["type"] == "checkpoint")
        assert api.get(ckpt["url"]).status_code == 200
        api.post(f"/api/runs/{run_id}/control", json={"action": "stop"})
        stream.until(is_status("stopped"))
    steps = metric_steps(stream.messages)
    assert steps == sorted(set(steps))


def test_decimated_history_keeps_extremes(api: httpx.Client, server: Server) -> None:
    run_id = create_run(api, tiny(**{"train.steps": 400, "train.report_every": 1}))
    wait_status(api, run_id, "completed")
    full = api.get(f"/api/runs/{run_id}/metrics").json()["series"]["loss_g"]
    with Stream(server, f"/ws/runs/{run_id}", max_points=40) as stream:
        history = stream.recv()
    small = history["metrics"]["loss_g"]
    assert len(small["value"]) <= 40 and history["metric_rows"] == 400
    assert max(small["value"]) == max(full["value"])
    assert min(small["value"]) == min(full["value"])
    assert small["step"][0] == 1 and small["step"][-1] == 400


def test_reconnect_resumes_without_gaps_or_duplicates(api: httpx.Client,
                                                      server: Server) -> None:
    run_id = create_run(api, tiny(**{"train.steps": 800, "train.report_every": 5}))
    wait_step(api, run_id, 50)
    with Stream(server, f"/ws/runs/{run_id}") as first:
        first.recv()
        for _ in range(20):
            first.recv()
    last_seq = first.messages[-1]["seq"]
    time.sleep(1.0)  # the run goes on while this client is away
    with Stream(server, f"/ws/runs/{run_id}", after_seq=last_seq) as second:
        history = second.recv()
        assert history["reset"] is False
        second.until(is_status("completed"), timeout=120)
    seen = metric_steps(first.messages) + metric_steps(second.messages)
    stored = api.get(f"/api/runs/{run_id}/metrics").json()["series"]["loss_d"]["step"]
    assert seen == stored  # every point exactly once, in order


def test_a_client_that_never_reads_blocks_nothing(api: httpx.Client, server: Server) -> None:
    body = tiny(**{"train.steps": 600, "train.report_every": 1, "train.sample_every": 100,
                   "train.checkpoint_every": 100_000})
    baseline = create_run(api, body)
    done = wait_status(api, baseline, "completed", timeout=180)
    baseline_s = _duration(done)

    run_id = create_run(api, body)
    stalled = _stalled_client(server, f"/ws/runs/{run_id}")
    try:
        with Stream(server, f"/ws/runs/{run_id}") as reader:
            reader.until(is_status("completed"), timeout=180)
        seqs = [m["seq"] for m in reader.messages[1:]]
        assert seqs == list(range(reader.messages[0]["seq"] + 1, seqs[-1] + 1))  # no gap
        assert not any(m["type"] == "gap" for m in reader.messages)
        run = wait_status(api, run_id, "completed")
        # generous: a blocked hub would stall the run outright; timing noise is not the point
        assert _duration(run) < 2.0 * baseline_s + 5, (_duration(run), baseline_s)
        assert api.get("/api/health").status_code == 200
    finally:
        stalled.close()


def _duration(run: dict) -> float:
    from datetime import datetime

    start = datetime.fromisoformat(run["started_at"])
    end = datetime.fromisoformat(run["finished_at"])
    return (end - start).total_seconds()


def _stalled_client(server: Server, path: str) -> socket.socket:
    """A WebSocket handshake, then never a single read: the server's sends back up."""
    sock = socket.create_connection(("127.0.0.1", server.port))
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    key = base64.b64encode(os.urandom(16)).decode()
    sock.sendall(
        f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{server.port}\r\nUpgrade: websocket\r\n"
        f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
        .encode()
    )
    head = b""
    while b"\r\n\r\n" not in head:
        head += sock.recv(1)
    assert head.startswith(b"HTTP/1.1 101")
    return sock


def test_runs_list_stream(api: httpx.Client, server: Server) -> None:
    with Stream(server, "/ws/runs") as stream:
        snapshot = stream.recv()
        assert snapshot["type"] == "runs"
        run_id = create_run(api, tiny(**{"train.steps": 300, "train.report_every": 1}))
        stream.until(lambda m: m["type"] == "created" and m["id"] == run_id)
        stream.until(lambda m: m["type"] == "progress" and m["id"] == run_id)
        done = stream.until(lambda m: m.get("id") == run_id and m.get("status") == "completed")
        assert done["step"] == 300
        api.delete(f"/api/runs/{run_id}")
        stream.until(lambda m: m["type"] == "deleted" and m["id"] == run_id)
        # the list stream outlives the runs it lists
        other = create_run(api, tiny(**{"train.steps": 50}))
        stream.until(lambda m: m["type"] == "created" and m["id"] == other)


def test_deleting_a_run_closes_its_streams(api: httpx.Client, server: Server) -> None:
    run_id = create_run(api, tiny(**{"train.steps": 100_000}))
    wait_status(api, run_id, "running")
    with Stream(server, f"/ws/runs/{run_id}") as stream:
        stream.recv()
        assert api.delete(f"/api/runs/{run_id}").status_code == 204
        stream.until(lambda m: m["type"] == "deleted")


@pytest.mark.parametrize("run_id", ["..%2F..", "%2e%2e", "f" * 300, "ABCDEF123456"])
def test_hostile_run_ids_are_refused(server: Server, run_id: str) -> None:
    with pytest.raises(InvalidStatus) as info:
        Stream(server, f"/ws/runs/{run_id}")
    assert info.value.response.status_code in (403, 404)


def test_an_unknown_run_closes_with_4404(server: Server) -> None:
    from websockets.exceptions import ConnectionClosed

    with Stream(server, "/ws/runs/0123456789ab") as stream, \
            pytest.raises(ConnectionClosed) as info:
        stream.recv(timeout=10)
    assert info.value.rcvd.code == 4404


def test_websocket_from_a_foreign_origin_is_refused(server: Server) -> None:
    from websockets.sync.client import connect

    with pytest.raises(InvalidStatus) as info:
        connect(f"{server.ws_url}/ws/runs", origin="http://evil.example", open_timeout=10)
    assert info.value.response.status_code == 403

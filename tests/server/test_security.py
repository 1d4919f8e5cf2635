"""A server with an admin token: mutating routes and every WebSocket check it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from websockets.exceptions import InvalidStatus

from tests.server.conftest import Server, Stream, tiny, wait_status

TOKEN = "test-token-0123456789abcdef"


@pytest.fixture(scope="module")
def guarded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    srv = Server(tmp_path_factory.mktemp("guarded"), GANSCOPE_ADMIN_TOKEN=TOKEN).start()
    yield srv
    srv.stop()


def test_mutations_need_the_token(guarded: Server) -> None:
    with httpx.Client(base_url=guarded.url, timeout=30) as api:
        r = api.post("/api/runs", json=tiny(**{"train.steps": 20}))
        assert r.status_code == 401 and "token" in r.json()["detail"]
        r = api.post("/api/runs", json=tiny(**{"train.steps": 20}),
                     headers={"Authorization": "Bearer wrong-token-0123456789"})
        assert r.status_code == 401
        r = api.post("/api/runs", json=tiny(**{"train.steps": 20}),
                     headers={"Authorization": f"Bearer {TOKEN}"})
        assert r.status_code == 201
        run_id = r.json()["id"]
        assert api.get(f"/api/runs/{run_id}").status_code == 200  # reading is open
        wait_status(api, run_id, "completed")
        assert api.post(f"/api/runs/{run_id}/control",
                        json={"action": "resume", "steps": 40}).status_code == 401
        assert api.delete(f"/api/runs/{run_id}").status_code == 401
        assert api.delete(f"/api/runs/{run_id}",
                          headers={"X-GANscope-Token": TOKEN}).status_code == 204


def test_sweep_mutations_need_the_token(guarded: Server) -> None:
    body = {**tiny(**{"train.steps": 20}), "axes": {"seed": [0, 1]}}
    auth = {"Authorization": f"Bearer {TOKEN}"}
    with httpx.Client(base_url=guarded.url, timeout=30) as api:
        r = api.post("/api/sweeps", json=body)
        assert r.status_code == 401 and "token" in r.json()["detail"]
        assert api.get("/api/sweeps").json()["count"] == 0  # nothing was created
        r = api.post("/api/sweeps", json=body, headers=auth)
        assert r.status_code == 201, r.text
        sweep_id = r.json()["id"]
        assert api.get(f"/api/sweeps/{sweep_id}").status_code == 200  # reading is open
        assert api.get(f"/api/sweeps/{sweep_id}/export.csv").status_code == 200
        control = f"/api/sweeps/{sweep_id}/control"
        assert api.post(control, json={"action": "stop"}).status_code == 401
        assert api.post(control, json={"action": "stop"}, headers=auth).status_code == 200


def test_websockets_need_the_token(guarded: Server) -> None:
    with pytest.raises(InvalidStatus) as info:
        Stream(guarded, "/ws/runs")
    assert info.value.response.status_code == 403
    with Stream(guarded, "/ws/runs", token=TOKEN) as stream:
        assert stream.recv()["type"] == "runs"


def test_cors_is_off_by_default(guarded: Server) -> None:
    r = httpx.options(guarded.url + "/api/runs", headers={
        "Origin": "http://evil.example", "Access-Control-Request-Method": "POST"})
    assert "access-control-allow-origin" not in r.headers


def test_the_token_never_appears_in_responses(guarded: Server, tmp_path: Path) -> None:
    with httpx.Client(base_url=guarded.url) as api:
        for path in ("/api/health", "/openapi.json", "/api/runs"):
            assert TOKEN not in api.get(path).text

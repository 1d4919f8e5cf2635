"""Run statuses in process: /api/registry serves every status with its rules, and the control
route accepts exactly the actions those rules allow (409 for the others)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from gan_core.status import RESUMABLE, STATUSES, RunStatus, allowed_actions, describe_statuses
from server.jobs.base import status_event
from tests.server.conftest import tiny
from tests.server.inprocess import InProcessApp, in_process_app

# stop last: on a queued run it is the one control that changes the status
CONTROLS = ("pause", "resume", "step", "set", "checkpoint", "stop")


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[InProcessApp]:
    with in_process_app(tmp_path_factory.mktemp("ganscope")) as app:
        yield app


def test_the_registry_serves_every_status_with_its_rules(app: InProcessApp) -> None:
    statuses = app.client.get("/api/registry").json()["statuses"]
    assert [s["name"] for s in statuses] == list(STATUSES)
    assert statuses == describe_statuses()
    by_name = {s["name"]: s for s in statuses}
    assert [n for n, s in by_name.items() if s["active"]] == [
        "queued", "starting", "running", "paused"]
    assert [n for n, s in by_name.items() if s["resumable"]] == [
        "stopped", "completed", "diverged", "failed", "interrupted"]
    assert "step" in by_name["paused"]["actions"] and "step" not in by_name["running"]["actions"]


def run_in(app: InProcessApp, status: RunStatus) -> str:
    """A run that the database says is in ``status`` (a live one held by the stand-in)."""
    run_id = app.create_run(tiny())
    if status is RunStatus.QUEUED:
        return run_id
    app.start(run_id)  # starting, then running
    if status in (RunStatus.STARTING, RunStatus.PAUSED):
        app.emit(run_id, status_event(status, -1, ""))
    elif status is not RunStatus.RUNNING:
        app.finish(run_id, status)
    assert app.client.get(f"/api/runs/{run_id}").json()["status"] == status
    return run_id


@pytest.mark.parametrize("status", list(RunStatus))
def test_the_control_route_accepts_what_the_status_allows(
        app: InProcessApp, status: RunStatus) -> None:
    run_id = run_in(app, status)
    allowed = allowed_actions(status)
    for action in CONTROLS:
        body = {"action": action, **({"values": {"lr_g": 1e-4}} if action == "set" else {})}
        r = app.client.post(f"/api/runs/{run_id}/control", json=body)
        detail = r.json().get("detail", "")
        if action == "resume" and status in RESUMABLE:
            # its status lets it resume (a completed one with more steps: test_inprocess_runs),
            # but the stand-in trained nothing to resume from
            assert r.status_code == 409 and "no checkpoint" in detail, r.text
        elif action in allowed:
            assert r.status_code == 202, (action, r.text)
        else:
            assert r.status_code == 409, (action, r.text)
    assert app.client.delete(f"/api/runs/{run_id}").status_code == 204

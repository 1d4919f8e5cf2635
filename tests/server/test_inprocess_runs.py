"""Runs' route rules in process: what a create validates and names, what the stand-in backend
is asked to do, and which state allows which control (404 for what does not exist, 409 for what
does not fit the run's state, 422 naming the field)."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from typing import Any

import pytest

from gan_core.config import RunConfig
from gan_core.events import Metrics
from server.jobs.base import status_event
from tests.server.conftest import tiny
from tests.server.inprocess import InProcessApp, in_process_app

# trains in about a second in this process: checkpoints at 10 and 20, 2D views at 10 and 20
SHORT = tiny(**{"train.steps": 20, "train.checkpoint_every": 10, "train.sample_every": 10,
                "train.spectral_every": 10})
MISSING = "0123456789ab"


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[InProcessApp]:
    with in_process_app(tmp_path_factory.mktemp("ganscope")) as app:
        yield app


@pytest.fixture(scope="module")
def trained(app: InProcessApp) -> str:
    """A completed run with checkpoints at steps 10 and 20."""
    run_id = app.create_run(SHORT)
    app.train(run_id)
    assert app.client.get(f"/api/runs/{run_id}").json()["status"] == "completed"
    return run_id


def issue(r: Any) -> dict[str, Any]:
    """The first issue of a 422."""
    assert r.status_code == 422, r.text
    return r.json()["detail"][0]


# -- create: validation ----------------------------------------------------------------------------


@pytest.mark.parametrize(("body", "loc"), [
    (tiny(**{"train.batch_size": 0}), ["body", "config", "train", "batch_size"]),
    ({"preset": "ring8-gan", "config": {"loss": {"name": "x"}}},
     ["body", "config", "loss", "name"]),
    ({"preset": "ring8-gan", "overrides": {"model.arch": "dcgan"}},
     ["body", "config", "model", "arch"]),
    ({"preset": "ring8-gan", "overrides": {"optim.nope": 1}}, ["body", "config", "optim", "nope"]),
    ({"config": {"trian": {}}}, ["body", "config", "trian"]),
    ({"preset": "ring8-gan", "colour": "red"}, ["body", "colour"]),
    ({"preset": "nope"}, ["body", "preset"]),
    ({}, ["body"]),
    ({"preset": "ring8-gan", "steps": 0}, ["body", "steps"]),
    (tiny(**{"train.batch_size": 4096}), ["body", "config", "train", "batch_size"]),
    (tiny(**{"train.steps": 5_000_000}), ["body", "config", "train", "steps"]),
    (tiny(**{"train.amp": "fp16", "train.device": "cpu"}), ["body", "config", "train", "amp"]),
    ({**tiny(), "resources": {"node2": 1}}, ["body", "resources"]),
    ({**tiny(), "resources": {"CPU": 2}}, ["body", "resources"]),
    ({"preset": "ring8-gan", "fork": {"run_id": MISSING}}, ["body", "fork"]),
])
def test_a_bad_create_is_a_422_naming_the_field_and_queues_nothing(
        app: InProcessApp, body: dict[str, Any], loc: list[Any]) -> None:
    before = len(app.jobs.submitted)
    found = issue(app.client.post("/api/runs", json=body))
    assert found["loc"][:len(loc)] == loc, found
    assert found["msg"]
    assert len(app.jobs.submitted) == before


def test_the_messages_say_what_to_change(app: InProcessApp) -> None:
    assert "ring8-gan" in issue(app.client.post("/api/runs", json={"preset": "nope"}))["msg"]
    assert "hinge" in issue(app.client.post(
        "/api/runs", json={"preset": "ring8-gan", "config": {"loss": {"name": "x"}}}))["msg"]
    assert "at most 1024" in issue(app.client.post(
        "/api/runs", json=tiny(**{"train.batch_size": 4096})))["msg"]
    assert "GANSCOPE_JOBS_BACKEND=ray" in issue(app.client.post(
        "/api/runs", json={**tiny(), "resources": {"node2": 1}}))["msg"]


def test_a_body_that_is_not_json_or_too_large_is_refused(app: InProcessApp) -> None:
    r = app.client.post("/api/runs", content=b"{not json",
                        headers={"content-type": "application/json"})
    assert r.status_code == 422
    big = {"preset": "ring8-gan", "config": {"name": "x" * 2_000_000}}
    assert app.client.post("/api/runs", json=big).status_code == 413


# -- create: what the backend is given -------------------------------------------------------------


def test_a_run_is_stored_queued_and_submitted_with_its_validated_config(
        app: InProcessApp) -> None:
    r = app.client.post("/api/runs", json={**tiny(**{"train.steps": 77}), "name": "queued-one"})
    assert r.status_code == 201
    run = r.json()
    assert run["status"] == "queued" and run["name"] == "queued-one"
    assert run["preset"] == "ring8-gan" and run["total_steps"] == 77 and run["step"] == 0
    spec = app.jobs.submitted[-1]
    assert spec.run_id == run["id"] and spec.resume_from is None
    assert RunConfig.from_json(spec.config_json).model_dump(mode="json") == run["config"]
    assert spec.run_dir == str(app.data_dir / "runs" / run["id"])
    assert (app.data_dir / "runs" / run["id"]).is_dir()
    assert run["id"] in app.client.get("/api/health").json()["jobs"]["queued"]


def test_steps_and_name_set_the_config(app: InProcessApp) -> None:
    run = app.client.post("/api/runs", json={"preset": "ring8-gan", "steps": 12,
                                             "name": "named"}).json()
    assert run["config"]["train"]["steps"] == 12 and run["config"]["name"] == "named"


# -- read, list, delete ----------------------------------------------------------------------------


def test_unknown_and_hostile_ids(app: InProcessApp) -> None:
    for path in (f"/api/runs/{MISSING}", f"/api/runs/{MISSING}/metrics",
                 f"/api/runs/{MISSING}/events", f"/api/runs/{MISSING}/samples",
                 f"/api/runs/{MISSING}/checkpoints", f"/api/runs/{MISSING}/checkpoints/1",
                 f"/api/runs/{MISSING}/samples/1.png", f"/api/runs/{MISSING}/metrics/export"):
        r = app.client.get(path)
        assert r.status_code == 404 and MISSING in r.json()["detail"], path
    assert app.client.delete(f"/api/runs/{MISSING}").status_code == 404
    assert app.client.post(f"/api/runs/{MISSING}/control",
                           json={"action": "pause"}).status_code == 404
    for bad in ("..", "%2e%2e", "0" * 500, "abc", "ABCDEF123456", "';drop table runs;--"):
        assert app.client.get(f"/api/runs/{bad}").status_code in (404, 422), bad
    assert issue(app.client.get(f"/api/runs/{MISSING}/samples/-1.png"))["loc"] == [
        "path", "step"]


def test_list_filters_pages_and_validates(app: InProcessApp) -> None:
    ids = [app.create_run({**tiny(), "name": f"page-{i}"}) for i in range(3)]
    page = app.client.get("/api/runs?q=page-&limit=2").json()
    assert page["count"] == 3 and [r["id"] for r in page["data"]] == ids[::-1][:2]
    assert all(r["config"] is None for r in page["data"])  # the list leaves configs out
    rest = app.client.get("/api/runs?q=page-&limit=2&offset=2").json()["data"]
    assert [r["id"] for r in rest] == ids[:1]
    app.client.post(f"/api/runs/{ids[0]}/control", json={"action": "stop"})
    stopped = app.client.get("/api/runs?q=page-&status=stopped").json()
    assert [r["id"] for r in stopped["data"]] == [ids[0]]
    both = app.client.get("/api/runs?q=page-&status=stopped&status=queued").json()
    assert both["count"] == 3
    assert issue(app.client.get("/api/runs?status=bogus"))["loc"] == ["query", "status", 0]
    assert issue(app.client.get("/api/runs?limit=100000"))["loc"] == ["query", "limit"]
    assert issue(app.client.get("/api/runs?offset=-1"))["loc"] == ["query", "offset"]
    assert app.client.get("/api/runs?q=%25").json()["count"] == 0  # LIKE wildcards are text


def test_delete_kills_the_worker_and_removes_row_and_folder(app: InProcessApp) -> None:
    run_id = app.create_run(tiny())
    app.start(run_id)
    folder = app.data_dir / "runs" / run_id
    assert folder.is_dir()
    assert app.client.delete(f"/api/runs/{run_id}").status_code == 204
    assert app.jobs.killed[-1] == run_id and not app.jobs.is_running(run_id)
    assert not folder.exists()
    assert app.client.get(f"/api/runs/{run_id}").status_code == 404
    assert app.client.delete(f"/api/runs/{run_id}").status_code == 404


# -- controls: which state allows what -------------------------------------------------------------


def test_a_queued_run_can_only_be_stopped(app: InProcessApp) -> None:
    run_id = app.create_run(tiny())
    for action in ("pause", "step", "set", "checkpoint"):
        r = app.client.post(f"/api/runs/{run_id}/control", json={"action": action})
        assert r.status_code == 409 and "queued" in r.json()["detail"], (action, r.text)
    r = app.client.post(f"/api/runs/{run_id}/control", json={"action": "stop"})
    assert r.status_code == 202 and r.json()["status"] == "stopped"
    assert run_id not in app.jobs.queued()
    events = app.client.get(f"/api/runs/{run_id}/events").json()
    assert [e["status"] for e in events] == ["stopped"]


def test_controls_of_a_running_run_reach_its_worker(app: InProcessApp) -> None:
    run_id = app.create_run(tiny())
    app.start(run_id)
    url = f"/api/runs/{run_id}/control"
    assert app.client.post(url, json={"action": "pause"}).status_code == 202
    r = app.client.post(url, json={"action": "set", "values": {"lr_g": 1e-4, "n_critic": 2}})
    assert r.status_code == 202
    r = app.client.post(url, json={"action": "step"})  # the worker has not said "paused" yet
    assert r.status_code == 409 and "pause it first" in r.json()["detail"]
    app.emit(run_id, status_event("paused", -1, ""))  # the worker's answer to the pause
    assert app.client.post(url, json={"action": "step"}).status_code == 202
    sent = [(c.action, c.values) for rid, c in app.jobs.sent if rid == run_id]
    assert sent == [("pause", {}), ("set", {"lr_g": 1e-4, "n_critic": 2.0}), ("step", {})]
    app.finish(run_id, "stopped")


def test_control_bodies_are_validated(app: InProcessApp) -> None:
    run_id = app.create_run(tiny())
    app.start(run_id)
    url = f"/api/runs/{run_id}/control"
    assert issue(app.client.post(url, json={"action": "fly"}))["loc"] == ["body", "action"]
    assert issue(app.client.post(url, json={"action": "set", "values": {"lr_x": 1}}))[
        "loc"][:2] == ["body", "values"]
    found = issue(app.client.post(url, json={"action": "set", "values": {"lr_g": 5}}))
    assert found["loc"] == ["body", "values"] and "lr_g" in found["msg"]
    assert issue(app.client.post(url, json={"action": "resume", "steps": 0}))["loc"] == [
        "body", "steps"]
    assert not [c for rid, c in app.jobs.sent if rid == run_id]
    app.finish(run_id, "stopped")


def test_a_finished_run_without_a_checkpoint_cannot_resume(app: InProcessApp) -> None:
    run_id = app.create_run(tiny())
    app.start(run_id)
    app.finish(run_id, "failed", "out of memory")
    run = app.client.get(f"/api/runs/{run_id}").json()
    assert run["status"] == "failed" and run["error"] == "out of memory"
    url = f"/api/runs/{run_id}/control"
    r = app.client.post(url, json={"action": "pause"})
    assert r.status_code == 409 and "'resume'" in r.json()["detail"]
    r = app.client.post(url, json={"action": "resume"})
    assert r.status_code == 409 and "no checkpoint" in r.json()["detail"]


def test_resume_needs_more_steps_than_the_checkpoint_and_queues_from_it(
        app: InProcessApp, trained: str) -> None:
    url = f"/api/runs/{trained}/control"
    r = app.client.post(url, json={"action": "resume", "steps": 20})
    assert r.status_code == 409 and "steps > 20" in r.json()["detail"]
    r = app.client.post(url, json={"action": "resume"})  # the config's 20 steps are done
    assert r.status_code == 409
    r = app.client.post(url, json={"action": "resume", "steps": 30})
    assert r.status_code == 202 and r.json()["status"] == "queued"
    assert r.json()["total_steps"] == 30
    spec = app.jobs.submitted[-1]
    assert spec.run_id == trained and spec.resume_from.endswith("ckpt_000000020.safetensors")
    assert RunConfig.from_json(spec.config_json).train.steps == 30
    app.train(trained)
    run = app.client.get(f"/api/runs/{trained}").json()
    assert run["status"] == "completed" and run["step"] == 30


# -- forks -----------------------------------------------------------------------------------------


def test_fork_rules(app: InProcessApp, trained: str) -> None:
    r = app.client.post("/api/runs", json={"fork": {"run_id": MISSING}})
    assert r.status_code == 404 and r.json()["detail"].startswith("fork.run_id")
    bare = app.create_run(tiny())
    r = app.client.post("/api/runs", json={"fork": {"run_id": bare}})
    assert r.status_code == 404 and "no checkpoint" in r.json()["detail"]
    r = app.client.post("/api/runs", json={"fork": {"run_id": trained, "step": 15}})
    assert r.status_code == 404 and "at step 15" in r.json()["detail"]
    r = app.client.post("/api/runs", json={"fork": {"run_id": trained, "step": 10}, "steps": 10})
    assert r.status_code == 409 and "steps > 10" in r.json()["detail"]
    r = app.client.post("/api/runs", json={"fork": {"run_id": trained, "step": 10}, "steps": 40,
                                           "name": "the fork"})
    assert r.status_code == 201, r.text
    fork = r.json()
    assert fork["parent_id"] == trained and fork["parent_step"] == 10
    assert fork["step"] == 10 and fork["total_steps"] == 40 and fork["name"] == "the fork"
    spec = app.jobs.submitted[-1]
    copied = app.data_dir / "runs" / fork["id"] / "checkpoints" / "ckpt_000000010.safetensors"
    assert spec.resume_from == str(copied) and copied.is_file()  # its own copy


# -- a run's files and series ----------------------------------------------------------------------


def test_checkpoints_views_and_metrics_of_a_trained_run(app: InProcessApp, trained: str) -> None:
    base = f"/api/runs/{trained}"
    ckpts = app.client.get(f"{base}/checkpoints").json()
    assert [c["step"] for c in ckpts][:2] == [10, 20] and ckpts[0]["size_bytes"] > 0
    blob = app.client.get(ckpts[0]["url"])
    assert blob.headers["content-type"] == "application/octet-stream"
    assert len(blob.content) == ckpts[0]["size_bytes"]
    assert app.client.get(f"{base}/checkpoints/11").status_code == 404
    views = app.client.get(f"{base}/samples").json()
    assert views["grids"] == [] and [v["step"] for v in views["views"]][:2] == [10, 20]
    assert "fake" in app.client.get(views["views"][0]["url"]).json()
    r = app.client.get(f"{base}/samples/10.png")  # a 2D run has views, no grids
    assert r.status_code == 404 and "no grid at step 10" in r.json()["detail"]
    metrics = app.client.get(f"{base}/metrics?keys=loss_d").json()
    assert set(metrics["series"]) == {"loss_d"}
    assert metrics["series"]["loss_d"]["step"][:2] == [10, 20]
    assert issue(app.client.get(f"{base}/metrics?max_points=2"))["loc"] == [
        "query", "max_points"]


def test_metrics_export_as_csv_and_json(app: InProcessApp) -> None:
    run_id = app.create_run(tiny())
    app.start(run_id)
    app.emit(run_id, Metrics(step=5, values={"loss_d": 0.5, "loss_g": 1.5}),
             Metrics(step=10, values={"loss_d": 0.25, "w1_exact": float("nan")}))
    rows = json.loads(app.client.get(f"/api/runs/{run_id}/metrics/export?format=json").content)
    assert rows == [{"step": 5, "loss_d": 0.5, "loss_g": 1.5},
                    {"step": 10, "loss_d": 0.25, "w1_exact": None}]  # NaN is stored as null
    r = app.client.get(f"/api/runs/{run_id}/metrics/export")
    assert r.headers["content-type"].startswith("text/csv")
    assert f'filename="run-{run_id}-metrics.csv"' in r.headers["content-disposition"]
    table = list(csv.reader(io.StringIO(r.text)))
    assert table == [["step", "loss_d", "loss_g", "w1_exact"], ["5", "0.5", "1.5", ""],
                     ["10", "0.25", "", ""]]
    assert issue(app.client.get(f"/api/runs/{run_id}/metrics/export?format=xml"))["loc"] == [
        "query", "format"]
    run = app.client.get(f"/api/runs/{run_id}").json()
    assert run["step"] == 10 and run["last_metrics"]["loss_d"] == 0.25
    app.finish(run_id, "stopped")


# -- the server's own limits -----------------------------------------------------------------------


TOKEN = "in-process-token-0123456789"


@pytest.fixture(scope="module")
def guarded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[InProcessApp]:
    """A server with an admin token that lets only two runs wait."""
    with in_process_app(tmp_path_factory.mktemp("guarded"), admin_token=TOKEN,
                        max_queued_runs=2) as app:
        yield app


def test_mutations_need_the_admin_token_and_reads_do_not(guarded: InProcessApp) -> None:
    client = guarded.client
    r = client.post("/api/runs", json=tiny())
    assert r.status_code == 401 and "token" in r.json()["detail"]
    r = client.post("/api/runs", json=tiny(), headers={"Authorization": "Bearer wrong-one"})
    assert r.status_code == 401
    run_id = guarded.create_run(tiny(), Authorization=f"Bearer {TOKEN}")
    assert client.get(f"/api/runs/{run_id}").status_code == 200
    assert client.post(f"/api/runs/{run_id}/control",
                       json={"action": "stop"}).status_code == 401
    assert client.delete(f"/api/runs/{run_id}").status_code == 401
    assert client.delete(f"/api/runs/{run_id}", headers={"X-GANscope-Token": TOKEN}).status_code \
        == 204
    assert TOKEN not in client.get("/api/health").text + client.get("/openapi.json").text


def test_a_full_queue_is_a_409(guarded: InProcessApp) -> None:
    auth = {"Authorization": f"Bearer {TOKEN}"}
    for _ in range(2 - len(guarded.jobs.queued())):
        guarded.create_run(tiny(), **auth)
    r = guarded.client.post("/api/runs", json=tiny(), headers=auth)
    assert r.status_code == 409 and "2 runs are waiting" in r.json()["detail"]

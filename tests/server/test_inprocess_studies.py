"""Studies' route rules in process: create (pools frozen by the image engine, in a thread),
list, read, close and open, delete; who may administer; what a participant's routes refuse."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from gan_core.events import CheckpointSaved
from server.models import StudySession, StudyTrial
from tests.server.conftest import IMAGE_RUN, tiny
from tests.server.inprocess import InProcessApp, in_process_app

SMALL = {"practice_trials": 1, "main_trials": 2, "vigilance_rate": 0.5, "pool_size": 2,
         "exposure_ms": 200, "seed": 3}
MISSING = "0123456789ab"


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[InProcessApp]:
    with in_process_app(tmp_path_factory.mktemp("ganscope")) as app:
        yield app


@pytest.fixture(scope="module")
def image_run(app: InProcessApp) -> str:
    """A DCGAN on 256 digits, trained in this process to its checkpoint at step 4."""
    run_id = app.create_run(IMAGE_RUN)
    app.train(run_id)
    return run_id


@pytest.fixture()
def study(app: InProcessApp, image_run: str) -> Iterator[dict[str, Any]]:
    r = app.client.post("/api/studies", json={"name": "ema vs raw", **SMALL, "conditions": [
        {"run_id": image_run, "label": "ema"}, {"run_id": image_run, "ema": False,
                                                "label": "raw"}]})
    assert r.status_code == 201, r.text
    yield r.json()
    app.client.delete(f"/api/studies/{r.json()['id']}")


def with_checkpoint_file(app: InProcessApp, body: dict[str, Any]) -> str:
    """A run whose worker reported a checkpoint at step 1 (a file that is only a name)."""
    run_id = app.create_run(body)
    path = app.data_dir / "runs" / run_id / "checkpoints" / "ckpt_000000001.safetensors"
    path.parent.mkdir(parents=True)
    path.write_bytes(b"not read by these rules")
    app.start(run_id)
    app.emit(run_id, CheckpointSaved(step=1, path=str(path)))
    app.finish(run_id, "stopped")
    return run_id


def images(app: InProcessApp, study_id: str) -> list[Path]:
    return sorted((app.data_dir / "studies" / study_id / "images").glob("*.png"))


def test_a_study_freezes_its_pools_at_creation(app: InProcessApp, study: dict[str, Any],
                                               image_run: str) -> None:
    assert study["status"] == "open" and study["participant_url"] == f"/s/{study['id']}"
    assert [(c["label"], c["run_id"], c["step"], c["ema"]) for c in study["conditions"]] == [
        ("ema", image_run, 4, True), ("raw", image_run, 4, False)]
    assert "data.limit=256" in study["real_source"]
    files = images(app, study["id"])
    assert len(files) == 2 * 2 + 2 + 1  # two conditions' fakes, reals, ceil(2 * 0.5) vigilance
    assert all(re.fullmatch(r"[0-9a-f]{32}\.png", f.name) for f in files)
    assert app.client.get(f"/api/studies/{study['id']}").json()["conditions"] == \
        study["conditions"]
    listed = app.client.get("/api/studies").json()
    assert study["id"] in [s["id"] for s in listed["data"]] and listed["count"] >= 1


@pytest.mark.parametrize(("change", "field"), [
    ({"protocol": "3afc"}, "protocol"), ({"exposure_ms": 5}, "exposure_ms"),
    ({"pool_size": 0}, "pool_size"), ({"conditions": []}, "conditions"),
    ({"completion_code": "no spaces"}, "completion_code"), ({"colour": "red"}, "colour"),
])
def test_bad_studies_get_a_422_naming_the_field(app: InProcessApp, image_run: str,
                                                change: dict[str, Any], field: str) -> None:
    body = {"name": "x", "conditions": [{"run_id": image_run, "label": "a"}], **change}
    r = app.client.post("/api/studies", json=body)
    assert r.status_code == 422 and r.json()["detail"][0]["loc"][1] == field, r.text


def test_conditions_must_name_image_runs_with_checkpoints_of_one_data_set(
        app: InProcessApp, image_run: str) -> None:
    def create(*run_ids: str) -> Any:
        return app.client.post("/api/studies", json={"name": "x", **SMALL, "conditions": [
            {"run_id": run_id, "label": f"c{i}"} for i, run_id in enumerate(run_ids)]})

    r = create(MISSING)
    assert r.status_code == 404 and r.json()["detail"] == f"conditions.0.run_id: no run {MISSING}"
    r = create(image_run, app.create_run(IMAGE_RUN))
    assert r.status_code == 404 and r.json()["detail"].startswith("conditions.1.run_id")
    assert "no checkpoint yet" in r.json()["detail"]
    r = create(with_checkpoint_file(app, tiny()))
    assert r.status_code == 409 and "trains on 2D points" in r.json()["detail"]
    other_data = with_checkpoint_file(app, {**IMAGE_RUN, "overrides": {
        **IMAGE_RUN["overrides"], "data.limit": 128}})
    r = create(image_run, other_data)
    assert r.status_code == 409 and r.json()["detail"].startswith("conditions.1.run_id")
    r = app.client.post("/api/studies", json={"name": "x", "conditions": [
        {"run_id": image_run, "label": "same"}, {"run_id": image_run, "label": "same"}]})
    assert r.status_code == 422 and "own label" in r.text
    assert not (app.data_dir / "studies").exists() or not any(
        (app.data_dir / "studies").iterdir())  # nothing half-made is left


def test_closing_a_study_turns_new_participants_away(app: InProcessApp,
                                                     study: dict[str, Any]) -> None:
    sid = study["id"]
    sessions = f"/api/studies/{sid}/sessions"
    early = app.client.post(sessions, json={"participant": "early"}).json()["token"]
    closed = app.client.post(f"/api/studies/{sid}/close").json()
    assert closed["status"] == "closed"
    assert app.client.get(f"/api/studies/{sid}/public").json()["open"] is False
    r = app.client.post(sessions, json={"participant": "late"})
    assert r.status_code == 409 and "closed" in r.json()["detail"]
    resumed = app.client.post(sessions, json={"participant": "early", "token": early})
    assert resumed.status_code == 200 and resumed.json()["token"] == early  # may finish
    assert app.client.post(f"/api/studies/{sid}/open").json()["status"] == "open"
    assert app.client.post(sessions, json={"participant": "late"}).status_code == 200


def test_a_participant_sees_the_procedure_and_opaque_trials_only(
        app: InProcessApp, study: dict[str, Any]) -> None:
    sid = study["id"]
    public = app.client.get(f"/api/studies/{sid}/public").json()
    assert set(public) == {"id", "protocol", "presentation", "exposure_ms", "gap_ms",
                           "practice_trials", "main_trials", "instructions", "open"}
    token = app.client.post(f"/api/studies/{sid}/sessions", json={}).json()["token"]
    state = app.client.get(f"/api/studies/{sid}/sessions/{token}")
    assert not re.search(r"fake|real|vigilance|ema|raw", state.text.lower())
    trial = state.json()["trial"]
    assert trial["position"] == 0 and trial["phase"] == "practice"
    png = app.client.get(trial["images"][0])
    assert png.headers["content-type"] == "image/png" and png.content.startswith(b"\x89PNG")
    assert app.client.get(f"/api/studies/{sid}/images/{'0' * 32}.png").status_code == 404
    assert app.client.get(f"/api/studies/{sid}/sessions/{'x' * 20}").status_code == 404
    assert app.client.get(f"/api/studies/{sid}/sessions/short").status_code == 422
    r = app.client.post(f"/api/studies/{sid}/sessions", json={"participant": "a b"})
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "participant"]


def answers(app: InProcessApp, token: str) -> dict[int, int]:
    """The truth of each trial of a session, as only the server knows it."""
    with app.state.db.read() as session:
        rows = session.execute(select(StudyTrial.position, StudyTrial.answer)
                               .join(StudySession, StudySession.id == StudyTrial.session_id)
                               .where(StudySession.token == token)).all()
    return dict(rows)


def test_judgments_come_in_order_and_results_count_them(app: InProcessApp,
                                                        study: dict[str, Any]) -> None:
    sid = study["id"]
    token = app.client.post(f"/api/studies/{sid}/sessions",
                            json={"participant": "P1"}).json()["token"]
    truth = answers(app, token)
    url = f"/api/studies/{sid}/sessions/{token}/judgments"

    def judge(position: int, response: int, shown: int = 2) -> Any:
        return app.client.post(url, json={"position": position, "response": response,
                                          "exposures_ms": [200.0] * shown, "response_ms": 300})

    r = judge(1, 0)
    assert r.status_code == 409 and "trial 0 comes next" in r.text
    first = judge(0, truth[0])
    assert first.json()["feedback"] == {"correct": True, "answer": truth[0]}  # practice
    assert judge(0, 1 - truth[0]).json() == first.json()  # a retry changes nothing
    r = judge(1, 0, shown=1)
    assert r.status_code == 409 and "exposures_ms" in r.text
    r = app.client.post(url, json={"position": 1, "response": 2, "exposures_ms": [1.0],
                                   "response_ms": 1})
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "response"]
    for position in range(1, len(truth)):
        last = judge(position, truth[position])
        assert last.status_code == 200 and "feedback" not in last.json()
    assert last.json()["done"] is True
    done = app.client.get(f"/api/studies/{sid}/sessions/{token}").json()
    assert done["done"] and done["completion_code"] == study["completion_code"]

    results = app.client.get(f"/api/studies/{sid}/results").json()
    assert sum(c["sessions"] for c in results["conditions"]) == 1
    (mine,) = results["participants"]
    assert mine["participant"] == "P1" and mine["completed"] and mine["accuracy"] == 1.0
    assert mine["fooling_rate"] == 0.0  # every answer was right: nobody was fooled
    table = list(csv.DictReader(io.StringIO(
        app.client.get(f"/api/studies/{sid}/judgments.csv").text)))
    assert [int(row["position"]) for row in table] == list(range(len(truth)))
    assert {row["participant"] for row in table} == {"P1"}
    condition = next(c["run_id"] for c in study["conditions"])
    tested = app.client.get(f"/api/runs/{condition}/studies").json()
    assert sid in {s["study_id"] for s in tested["data"]}


def test_unknown_studies_are_404_and_bad_ids_422(app: InProcessApp) -> None:
    for method, path in (("GET", ""), ("GET", "/results"), ("GET", "/judgments.csv"),
                         ("GET", "/public"), ("POST", "/close"), ("POST", "/open"),
                         ("DELETE", "")):
        r = app.client.request(method, f"/api/studies/{MISSING}{path}")
        assert r.status_code == 404 and MISSING in r.json()["detail"], (method, path)
    r = app.client.post(f"/api/studies/{MISSING}/sessions", json={})
    assert r.status_code == 404
    assert app.client.get("/api/studies/not-a-study").status_code == 422
    assert app.client.get(f"/api/runs/{MISSING}/studies").status_code == 404


def test_deleting_a_study_removes_its_images(app: InProcessApp, image_run: str) -> None:
    r = app.client.post("/api/studies", json={"name": "short-lived", **SMALL,
                                              "conditions": [{"run_id": image_run,
                                                              "label": "only"}]})
    sid = r.json()["id"]
    assert images(app, sid)
    assert app.client.delete(f"/api/studies/{sid}").status_code == 204
    assert not (app.data_dir / "studies" / sid).exists()
    assert app.client.get(f"/api/studies/{sid}").status_code == 404
    assert sid not in [s["id"] for s in app.client.get("/api/studies").json()["data"]]


def test_administration_is_for_this_machine_without_a_token(app: InProcessApp,
                                                            study: dict[str, Any]) -> None:
    proxied = {"X-Forwarded-For": "203.0.113.9"}
    for method, path in (("GET", "/api/studies"), ("GET", f"/api/studies/{study['id']}"),
                         ("GET", f"/api/studies/{study['id']}/results"),
                         ("POST", f"/api/studies/{study['id']}/close")):
        r = app.client.request(method, path, headers=proxied)
        assert r.status_code == 403 and "GANSCOPE_ADMIN_TOKEN" in r.json()["detail"], path
    # a participant's routes are open through a proxy
    r = app.client.get(f"/api/studies/{study['id']}/public", headers=proxied)
    assert r.status_code == 200


def test_a_checkpoint_step_beyond_an_integer_column_is_a_422(app: InProcessApp,
                                                             image_run: str) -> None:
    # the fuzzer found a 500 here: a step past the database's integer range
    body = {"name": "x", "conditions": [{"run_id": image_run, "label": "a", "step": 2**70}]}
    r = app.client.post("/api/studies", json=body)
    assert r.status_code == 422 and r.json()["detail"][0]["loc"][-1] == "step", r.text

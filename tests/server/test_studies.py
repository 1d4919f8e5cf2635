"""Real-vs-fake studies on a real server: pools frozen at creation, one session per
participant, trials served and judged in order, idempotent judgments that survive a SIGKILL,
results that match the math, and what a participant's API never tells."""

from __future__ import annotations

import csv
import io
import re
import threading
from collections.abc import Iterator

import httpx
import pytest

from gan_core.metrics.human import bootstrap_interval
from tests.server.conftest import Server, server_on
from tests.server.databases import KINDS

SMALL = {"practice_trials": 2, "main_trials": 6, "vigilance_rate": 0.34, "pool_size": 6,
         "exposure_ms": 200, "seed": 3}



@pytest.fixture(scope="module", params=KINDS)
def server(request: pytest.FixtureRequest,
           tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """Every study test runs on SQLite and on PostgreSQL."""
    with server_on(request.param, tmp_path_factory.mktemp("ganscope")) as srv:
        yield srv


@pytest.fixture(scope="module")
def study(server: Server, image_run: str) -> dict:
    with httpx.Client(base_url=server.url, timeout=120) as api:
        r = api.post("/api/studies", json={"name": "G vs EMA", **SMALL, "conditions": [
            {"run_id": image_run, "ema": True, "label": "ema"},
            {"run_id": image_run, "ema": False, "label": "raw"}]})
        assert r.status_code == 201, r.text
        return r.json()


def truth(server: Server, token: str) -> dict[int, tuple[int, bool, str]]:
    """position -> (answer, vigilance, phase), read from the database as only the server can."""
    rows = server.sql("SELECT t.position, t.answer, t.vigilance, t.phase FROM study_trials t "
                      "JOIN study_sessions s ON s.id = t.session_id WHERE s.token = :token",
                      token=token)
    return {p: (a, bool(v), ph) for p, a, v, ph in rows}


def take_part(api: httpx.Client, study_id: str, participant: str, choose) -> dict:
    """Answer every trial; ``choose(position, state)`` gives the response."""
    start = api.post(f"/api/studies/{study_id}/sessions", json={"participant": participant})
    assert start.status_code == 200, start.text
    token = start.json()["token"]
    while True:
        state = api.get(f"/api/studies/{study_id}/sessions/{token}").json()
        if state["done"]:
            return {"token": token, **state}
        trial = state["trial"]
        ack = api.post(f"/api/studies/{study_id}/sessions/{token}/judgments", json={
            "position": trial["position"], "response": choose(trial["position"], token),
            "exposures_ms": [200.0] * len(trial["images"]), "response_ms": 450.0})
        assert ack.status_code == 200, ack.text


def test_creating_a_study_freezes_pools_of_opaque_images(server: Server, study: dict,
                                                         image_run: str) -> None:
    assert study["status"] == "open" and study["participant_url"] == f"/s/{study['id']}"
    assert [c["label"] for c in study["conditions"]] == ["ema", "raw"]
    assert all(c["step"] == 4 for c in study["conditions"])
    # data.limit=256 of 1,797 digits: the real images come from the 1,541 never trained on
    assert study["real_source"].startswith("held out") and "data.limit=256" in study["real_source"]
    files = sorted((server.data_dir / "studies" / study["id"] / "images").glob("*.png"))
    assert len(files) == 6 * 2 + 6 + 3  # two conditions' fakes, reals, ceil(6 * 0.34) vigilance
    assert all(re.fullmatch(r"[0-9a-f]{32}\.png", f.name) for f in files)


def test_bad_studies_get_422_naming_the_field(api: httpx.Client, image_run: str) -> None:
    base = {"name": "x", "conditions": [{"run_id": image_run, "label": "a"}]}
    r = api.post("/api/studies", json={**base, "protocol": "3afc"})
    assert r.status_code == 422 and r.json()["detail"][0]["loc"][-1] == "protocol"
    r = api.post("/api/studies", json={**base, "conditions": [{"run_id": "0" * 12,
                                                              "label": "a"}]})
    assert r.status_code == 404  # a run that does not exist, named by its field
    assert r.json()["detail"] == "conditions.0.run_id: no run 000000000000"
    r = api.post("/api/studies", json={**base, "conditions": base["conditions"] * 2})
    assert r.status_code == 422 and "own label" in r.text
    r = api.post("/api/studies", json={**base, "exposure_ms": 5})
    assert r.status_code == 422 and r.json()["detail"][0]["loc"][-1] == "exposure_ms"


def test_a_session_serves_trials_in_order_and_judgments_are_idempotent(
        api: httpx.Client, server: Server, study: dict) -> None:
    sid = study["id"]
    token = api.post(f"/api/studies/{sid}/sessions", json={"participant": "P-order"}).json()[
        "token"]
    state = api.get(f"/api/studies/{sid}/sessions/{token}").json()
    assert state["total"] == 8 and state["answered"] == 0 and state["trial"]["position"] == 0
    assert state["trial"]["phase"] == "practice" and len(state["trial"]["images"]) == 2
    text = api.get(f"/api/studies/{sid}/sessions/{token}").text.lower()
    assert "fake" not in text and "real" not in text and "vigilance" not in text
    assert all(re.fullmatch(rf"/api/studies/{sid}/images/[0-9a-f]{{32}}\.png", u)
               for u in state["trial"]["images"])
    assert api.get(state["trial"]["images"][0]).headers["content-type"] == "image/png"
    answers = truth(server, token)
    url = f"/api/studies/{sid}/sessions/{token}/judgments"

    def judge(position: int, response: int) -> httpx.Response:
        return api.post(url, json={"position": position, "response": response,
                                   "exposures_ms": [200.0, 201.0], "response_ms": 300.0})

    skipped = judge(1, 0)
    assert skipped.status_code == 409 and "trial 0 comes next" in skipped.text
    first = judge(0, answers[0][0])
    assert first.json()["feedback"] == {"correct": True, "answer": answers[0][0]}
    again = judge(0, 1 - answers[0][0])  # a retry (or a change of mind) changes nothing
    assert again.json() == first.json()
    judge(1, 1 - answers[1][0])
    main = judge(2, 0).json()
    assert "feedback" not in main and main == {"position": 2, "stored": True, "done": False,
                                               "next_position": 3}
    bad = api.post(url, json={"position": 3, "response": 2, "exposures_ms": [1],
                              "response_ms": 1})
    assert bad.status_code == 422 and bad.json()["detail"][0]["loc"][-1] == "response"
    short = api.post(url, json={"position": 3, "response": 0, "exposures_ms": [1.0],
                                "response_ms": 1})
    assert short.status_code == 409 and "exposures_ms" in short.text  # this trial shows 2
    # a reload resumes at the first unanswered trial
    assert api.get(f"/api/studies/{sid}/sessions/{token}").json()["trial"]["position"] == 3
    # the same participant again, without the token: refused; with it: the same session
    again = api.post(f"/api/studies/{sid}/sessions", json={"participant": "P-order"})
    assert again.status_code == 409 and "already taken part" in again.text
    resumed = api.post(f"/api/studies/{sid}/sessions",
                       json={"participant": "P-order", "token": token})
    assert resumed.json()["token"] == token
    [(stored,)] = server.sql("SELECT count(*) FROM study_judgments j JOIN study_sessions s ON "
                             "s.id = j.session_id WHERE s.token = :token", token=token)
    assert stored == 3


def test_results_match_the_math_and_flag_vigilance_failures(
        api: httpx.Client, server: Server, study: dict) -> None:
    sid = study["id"]

    def honest(position: int, token: str) -> int:  # always right: never fooled
        return truth(server, token)[position][0]

    def fooled_on_main(position: int, token: str) -> int:  # wrong on everything scored
        answer, vigilance, phase = truth(server, token)[position]
        return answer if vigilance or phase == "practice" else 1 - answer

    def careless(position: int, token: str) -> int:  # fails every vigilance trial
        answer, vigilance, _ = truth(server, token)[position]
        return 1 - answer if vigilance else answer

    done = [take_part(api, sid, f"R{i}", fn)
            for i, fn in enumerate([honest, fooled_on_main, honest, fooled_on_main, careless])]
    assert all(d["done"] and d["completion_code"] == study["completion_code"] for d in done)
    results = api.get(f"/api/studies/{sid}/results").json()
    by_label = {c["label"]: c for c in results["conditions"]}
    # balanced assignment: P-order (unfinished) took "ema", then raw, ema, raw, ema, raw
    people = {p["participant"]: p for p in results["participants"]}
    assert [people[f"R{i}"]["condition"] for i in range(5)] == ["raw", "ema", "raw", "ema",
                                                                  "raw"]
    assert people["R4"]["flagged"] and not people["R0"]["flagged"]
    assert people["R1"]["fooling_rate"] == 1.0 and people["R0"]["fooling_rate"] == 0.0
    ema, raw = by_label["ema"], by_label["raw"]
    assert raw["participants"] == 2 and raw["excluded"] == 1 and raw["flagged"] == 1
    assert raw["fooling_rate"] == 0.0 and ema["fooling_rate"] == 1.0
    assert ema["participants"] == 2 and ema["trials"] == 8  # 4 scored main trials each
    assert ema["excluded"] == 1  # P-order has not finished
    assert ema["exposure"]["mean_ms"] == 200.0 and ema["exposure"]["within_frame"] == 1.0
    pair = {(p["a"], p["b"]): p["p_a_fools_more"] for p in results["pairwise"]}
    assert pair[("ema", "raw")] == 1.0 and pair[("raw", "ema")] == 0.0
    # with the flagged participant kept: R4 (never fooled) joins raw
    kept = api.get(f"/api/studies/{sid}/results", params={"exclude_flagged": False}).json()
    assert next(c for c in kept["conditions"] if c["label"] == "raw")["participants"] == 3
    # the interval is the library's, over participants, with the study's seed
    rows = list(csv.DictReader(io.StringIO(api.get(
        f"/api/studies/{sid}/judgments.csv").text)))
    assert len(rows) == 5 * 8 + 3 and {r["kind_1"] for r in rows} == {"real", "fake",
                                                                       "vigilance"}
    mixed = [(int(r["fooled"]), r["participant"]) for r in rows
             if r["phase"] == "main" and r["vigilance"] == "0" and r["condition"] == "ema"
             and r["session_completed"] == "1"]
    counts = {p: sum(f for f, q in mixed if q == p) for _, p in mixed}
    low, high = bootstrap_interval(list(counts.values()), [4] * len(counts), seed=3)
    assert (ema["ci_low"], ema["ci_high"]) == (low, high) == (1.0, 1.0)


def test_the_run_reports_the_fooling_rate_of_its_checkpoints(
        api: httpx.Client, study: dict, image_run: str) -> None:
    data = api.get(f"/api/runs/{image_run}/studies").json()["data"]
    mine = [d for d in data if d["study_id"] == study["id"]]
    assert {(d["label"], d["step"]) for d in mine} == {("ema", 4), ("raw", 4)}
    assert all("fooling_rate" in d and "ci_low" in d for d in mine)


def test_requests_through_a_proxy_cannot_administer_studies(api: httpx.Client,
                                                            study: dict) -> None:
    """Without an admin token, only direct requests on this machine are the admin."""
    tunnel = {"X-Forwarded-For": "203.0.113.9"}
    for path in (f"/api/studies/{study['id']}/results", "/api/studies",
                 f"/api/studies/{study['id']}/judgments.csv"):
        r = api.get(path, headers=tunnel)
        assert r.status_code == 403 and "GANSCOPE_ADMIN_TOKEN" in r.text
    # participants come through the tunnel fine
    assert api.get(f"/api/studies/{study['id']}/public", headers=tunnel).status_code == 200


def test_concurrent_participants_each_get_their_own_session(server: Server,
                                                          study: dict) -> None:
    """Eight participants at once, each answering every trial: one session each, every
    judgment stored exactly once, none refused."""
    sid = study["id"]
    finished: dict[str, dict] = {}
    errors: list[BaseException] = []

    def participant(name: str) -> None:
        try:
            with httpx.Client(base_url=server.url, timeout=60) as api:
                finished[name] = take_part(api, sid, name, lambda position, token: position % 2)
        except BaseException as exc:
            errors.append(exc)

    names = [f"C{i}" for i in range(8)]
    threads = [threading.Thread(target=participant, args=(name,)) for name in names]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert errors == [] and sorted(finished) == names
    tokens = {state["token"] for state in finished.values()}
    assert len(tokens) == 8
    total = SMALL["practice_trials"] + SMALL["main_trials"]
    rows = server.sql("SELECT s.token, count(j.id), count(DISTINCT j.position) FROM study_sessions"
                      " s JOIN study_judgments j ON j.session_id = s.id WHERE s.participant "
                      "LIKE 'C%' GROUP BY s.token")
    assert {token: (n, distinct) for token, n, distinct in rows} == {
        token: (total, total) for token in tokens}


def test_acknowledged_judgments_survive_sigkill(server: Server, study: dict) -> None:
    sid = study["id"]
    with httpx.Client(base_url=server.url, timeout=30) as api:
        token = api.post(f"/api/studies/{sid}/sessions",
                         json={"participant": "K1"}).json()["token"]
        for position in range(3):
            r = api.post(f"/api/studies/{sid}/sessions/{token}/judgments", json={
                "position": position, "response": 0, "exposures_ms": [1.0, 1.0],
                "response_ms": 1.0})
            assert r.status_code == 200
    server.kill()
    server.start()
    with httpx.Client(base_url=server.url, timeout=30) as api:
        state = api.get(f"/api/studies/{sid}/sessions/{token}").json()
        assert state["answered"] == 3 and state["trial"]["position"] == 3


def test_the_single_image_protocol_scores_fakes_judged_real(api: httpx.Client, server: Server,
                                                           image_run: str) -> None:
    """HYPE-style: one image per trial; only fake images count toward the fooling rate."""
    r = api.post("/api/studies", json={"name": "single", **SMALL, "protocol": "single",
                                       "main_trials": 12, "conditions": [
                                           {"run_id": image_run, "label": "g"}]})
    assert r.status_code == 201, r.text
    sid = r.json()["id"]

    def credulous(position: int, token: str) -> int:  # says "real" to all but vigilance
        answer, vigilance, _ = truth(server, token)[position]
        return answer if vigilance else 0

    def skeptic(position: int, token: str) -> int:  # says "fake" to everything
        return 1

    def fakes_shown(token: str) -> int:
        return sum(1 for answer, vig, phase in truth(server, token).values()
                   if phase == "main" and not vig and answer == 1)

    first = take_part(api, sid, "S1", credulous)
    second = take_part(api, sid, "S2", skeptic)
    assert first["done"] and second["done"]
    results = api.get(f"/api/studies/{sid}/results").json()
    people = {p["participant"]: p for p in results["participants"]}
    assert people["S1"]["fooling_rate"] == 1.0 and people["S2"]["fooling_rate"] == 0.0
    scored = 12 - round(12 * SMALL["vigilance_rate"])
    assert 0 < fakes_shown(first["token"]) < scored  # real images were shown too
    condition = results["conditions"][0]
    assert condition["trials"] == fakes_shown(first["token"]) + fakes_shown(second["token"])
    assert condition["fooling_rate"] == pytest.approx(
        fakes_shown(first["token"]) / condition["trials"], abs=1e-6)

    # closing takes no new participants; reopening does; deleting removes it all
    assert api.post(f"/api/studies/{sid}/close").status_code == 200
    late = api.post(f"/api/studies/{sid}/sessions", json={"participant": "S3"})
    assert late.status_code == 409 and "closed" in late.text
    assert api.post(f"/api/studies/{sid}/open").status_code == 200
    assert api.post(f"/api/studies/{sid}/sessions", json={"participant": "S3"}).status_code == 200
    assert api.delete(f"/api/studies/{sid}").status_code == 204
    assert api.get(f"/api/studies/{sid}").status_code == 404
    assert not (server.data_dir / "studies" / sid).exists()

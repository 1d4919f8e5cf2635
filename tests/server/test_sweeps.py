"""Sweeps through the real server: points, validation, the table and CSV, control, the median
stopping rule, a restart, and the ``ganscope sweep`` command."""

from __future__ import annotations

import csv
import io
import math
import subprocess
import sys
from typing import Any

import httpx
import pytest

from server.errors import Invalid
from server.schemas import SweepCreate
from server.sweeps import MedianRule, axis_labels, expand_points, point_label
from tests.polling import wait_until
from tests.server.conftest import TINY, Server, wait_status

ENDED = ("completed", "stopped", "failed", "diverged", "interrupted")


def sweep_body(**fields: Any) -> dict[str, Any]:
    return {"preset": TINY["preset"], "overrides": dict(TINY["overrides"]), **fields}


def wait_sweep(api: httpx.Client, sweep_id: str, timeout: float = 180) -> dict[str, Any]:
    return wait_until(lambda: api.get(f"/api/sweeps/{sweep_id}").json(),
                      ready=lambda sweep: sweep["status"] == "finished", timeout=timeout,
                      interval=0.2, what=f"sweep {sweep_id} to finish")


def metric_series(api: httpx.Client, run_id: str, metric: str) -> list[tuple[int, float]]:
    rows = api.get(f"/api/runs/{run_id}/metrics/export", params={"format": "json"}).json()
    return [(r["step"], r[metric]) for r in rows if r.get(metric) is not None]


# -- points (no server) ------------------------------------------------------------------------

def test_a_grid_is_every_combination_in_axis_order() -> None:
    body = SweepCreate.model_validate({"preset": "ring8-gan", "axes": {
        "optim.d.lr": [1e-4, 5e-4], "seed": [0, 1, 2]}})
    points = expand_points(body)
    assert points == [{"optim.d.lr": lr, "seed": s} for lr in (1e-4, 5e-4) for s in (0, 1, 2)]


def test_random_search_is_reproducible_from_its_seed() -> None:
    spec = {"preset": "ring8-gan", "search": "random", "count": 5, "seed": 7,
            "axes": {"optim.d.lr": {"low": 1e-5, "high": 1e-3, "log": True},
                     "loss.name": ["hinge", "nonsaturating"]}}
    first = expand_points(SweepCreate.model_validate(spec))
    assert first == expand_points(SweepCreate.model_validate(spec))
    assert first != expand_points(SweepCreate.model_validate({**spec, "seed": 8}))
    assert len(first) == 5
    for point in first:
        assert 1e-5 <= point["optim.d.lr"] <= 1e-3
        assert point["loss.name"] in ("hinge", "nonsaturating")
    # lists only: distinct points drawn from the grid
    lists = {**spec, "axes": {"seed": [0, 1, 2], "optim.d.lr": [1e-4, 5e-4]}, "count": 6}
    drawn = expand_points(SweepCreate.model_validate(lists))
    assert sorted(map(lambda p: tuple(p.values()), drawn)) == sorted(
        (s, lr) for s in (0, 1, 2) for lr in (1e-4, 5e-4))


def test_axes_are_labelled_by_their_shortest_distinct_tail() -> None:
    assert axis_labels(["optim.g.lr", "optim.d.lr", "seed", "loss.name"]) == {
        "optim.g.lr": "g.lr", "optim.d.lr": "d.lr", "seed": "seed", "loss.name": "name"}
    assert point_label({"optim.g.lr": 1e-4, "optim.d.lr": 5e-4, "seed": 2}) == \
        "g.lr=0.0001, d.lr=0.0005, seed=2"


@pytest.mark.parametrize(("spec", "loc"), [
    ({"search": "random", "axes": {"seed": [0, 1]}}, "count"),
    ({"count": 3, "axes": {"seed": [0, 1]}}, "count"),
    ({"axes": {"optim.d.lr": {"low": 1e-4, "high": 1e-3}}}, "optim.d.lr"),
    ({"search": "random", "count": 2, "axes": {"optim.d.lr": {"low": 1e-3, "high": 1e-4}}},
     "optim.d.lr"),
])
def test_points_refuse_a_spec_that_does_not_fit_its_search(spec: dict, loc: str) -> None:
    with pytest.raises(Invalid) as info:
        expand_points(SweepCreate.model_validate({"preset": "ring8-gan", **spec}))
    assert info.value.issues[0][0][-1] == loc


def test_median_rule_stops_only_a_run_worse_than_the_median() -> None:
    class Row:  # what track() reads of a Sweep and a Run
        def __init__(self, id: str, **fields: Any) -> None:
            self.id = id
            self.__dict__.update(fields)

    stopped: list[str] = []
    rule = MedianRule(lambda run_id: stopped.append(run_id))
    sweep = Row("s", metric="w1_exact", goal="min")
    runs = [Row(r, total_steps=400) for r in ("good1", "good2", "good3", "bad")]
    rule.track(sweep, runs)  # type: ignore[arg-type]

    def report(run_id: str, step: int, value: float) -> None:
        rule.observe(run_id, {"type": "metrics", "step": step, "values": {"w1_exact": value}})

    for step in (100, 200, 300):  # the good runs first, learning alike
        for run_id in ("good1", "good2", "good3"):
            report(run_id, step, 50 / step)
    assert stopped == []  # a tie with the median is not behind it
    report("good3", 400, 0.2)  # past the others: nobody to compare with
    assert stopped == []
    report("bad", 100, 0.9)
    assert stopped == ["bad"]
    run_id, step, best, median = rule.decisions[0]
    assert (run_id, step, best) == ("bad", 100, 0.9)
    assert median == pytest.approx(0.5)  # the median of the others' means up to step 100
    message = {"type": "status", "status": "stopped", "message": "stopped by the user"}
    rule.observe("bad", message)
    assert message["message"] == ("stopped by the median rule at step 100 "
                                  "(w1_exact 0.9, median 0.5)")


# -- through the server ------------------------------------------------------------------------

def test_a_grid_sweep_completes_and_its_table_and_csv_match_the_runs(
        api: httpx.Client) -> None:
    r = api.post("/api/sweeps", json=sweep_body(
        name="lr-x-seed", axes={"optim.d.lr": [1e-4, 5e-4], "seed": [0, 1]}))
    assert r.status_code == 201, r.text
    created = r.json()
    assert len(created["runs"]) == 4
    sweep = wait_sweep(api, created["id"])
    assert sweep["metric"] == "w1_exact" and sweep["goal"] == "min"
    assert sweep["axes"] == ["optim.d.lr", "seed"]
    assert [row["id"] for row in sweep["runs"]] == created["runs"]
    assert [row["point"] for row in sweep["runs"]] == [
        {"optim.d.lr": lr, "seed": s} for lr in (1e-4, 5e-4) for s in (0, 1)]
    for row in sweep["runs"]:
        assert row["status"] == "completed", row
        run = api.get(f"/api/runs/{row['id']}").json()
        assert run["sweep_id"] == created["id"]
        assert run["config"]["optim"]["d"]["lr"] == row["point"]["optim.d.lr"]
        assert run["config"]["seed"] == row["point"]["seed"]
        series = metric_series(api, row["id"], "w1_exact")
        assert (row["final_step"], row["final"]) == series[-1]
        assert (row["best_step"], row["best"]) == min(series, key=lambda sv: sv[1])
    best = min(sweep["runs"], key=lambda row: row["best"])
    assert sweep["best_run"] == best["id"]

    r = api.get(f"/api/sweeps/{created['id']}/export.csv")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    table = list(csv.DictReader(io.StringIO(r.text)))
    assert [row["run_id"] for row in table] == created["runs"]
    for line, row in zip(table, sweep["runs"], strict=True):
        assert float(line["optim.d.lr"]) == row["point"]["optim.d.lr"]
        assert int(line["seed"]) == row["point"]["seed"]
        assert math.isclose(float(line["final_w1_exact"]), row["final"], rel_tol=1e-12)
        assert math.isclose(float(line["best_w1_exact"]), row["best"], rel_tol=1e-12)
        assert line["status"] == "completed"

    listed = api.get("/api/sweeps").json()
    assert any(s["id"] == created["id"] and s["runs"] == 4 and s["active"] == 0
               for s in listed["data"])


@pytest.mark.parametrize(("axes", "loc", "says"), [
    ({"optim.d.lrr": [1e-4]}, ["body", "axes", "optim.d.lrr"], "lrr"),
    ({"optim.d.lr": [1e-4, -1.0]}, ["body", "axes", "optim.d.lr"], "-1.0"),
    ({"loss.name": ["hinge", "nope"]}, ["body", "axes", "loss.name"], "'nope'"),
    ({"seed": list(range(11)), "optim.d.lr": list(range(1, 11))}, ["body", "axes"], "at most"),
])
def test_bad_axes_get_a_422_naming_the_axis_and_value_and_create_nothing(
        api: httpx.Client, axes: dict, loc: list, says: str) -> None:
    before = api.get("/api/runs").json()["count"], api.get("/api/sweeps").json()["count"]
    r = api.post("/api/sweeps", json=sweep_body(axes=axes))
    assert r.status_code == 422, r.text
    issue = r.json()["detail"][0]
    assert issue["loc"] == loc and says in issue["msg"], issue
    assert (api.get("/api/runs").json()["count"],
            api.get("/api/sweeps").json()["count"]) == before


def test_bad_sweep_requests_get_a_422(api: httpx.Client) -> None:
    for body, field in [
        (sweep_body(axes={}), "axes"),
        (sweep_body(axes={"seed": [0]}, search="random"), "count"),
        (sweep_body(axes={"seed": [0]}, stop_rule="mean"), "stop_rule"),
        (sweep_body(axes={"Seed!": [0]}), "axes"),
        ({"axes": {"seed": [0]}}, ""),
    ]:
        r = api.post("/api/sweeps", json=body)
        assert r.status_code == 422, (body, r.text)
        assert field in ".".join(map(str, r.json()["detail"][0]["loc"])), r.text
    assert api.get("/api/sweeps/000000000000").status_code == 404
    assert api.get("/api/sweeps/nothex").status_code == 422


def test_the_median_rule_stops_the_run_that_cannot_learn_and_not_the_others(
        api: httpx.Client) -> None:
    # the two healthy points come first (two job slots): the crippled ones, whose G barely
    # moves, are judged against them and stopped; the healthy ones never fall behind
    r = api.post("/api/sweeps", json=sweep_body(
        axes={"optim.g.lr": [5e-4, 1e-9], "seed": [0, 1]}, stop_rule="median",
        overrides={**TINY["overrides"], "train.steps": 600, "train.sample_every": 50}))
    assert r.status_code == 201, r.text
    sweep = wait_sweep(api, r.json()["id"])
    by_lr: dict[float, list[dict]] = {}
    for row in sweep["runs"]:
        by_lr.setdefault(row["point"]["optim.g.lr"], []).append(row)
    for row in by_lr[5e-4]:
        assert row["status"] == "completed", row
    for row in by_lr[1e-9]:
        assert row["status"] == "stopped", row
        assert row["step"] < 600
        assert row["status_message"].startswith("stopped by the median rule at step "), row
        run = api.get(f"/api/runs/{row['id']}").json()
        assert run["status_message"] == row["status_message"]


def test_stop_and_resume_a_whole_sweep(api: httpx.Client) -> None:
    r = api.post("/api/sweeps", json=sweep_body(
        axes={"seed": [0, 1, 2]},
        overrides={**TINY["overrides"], "train.steps": 100_000}))
    sweep_id, run_ids = r.json()["id"], r.json()["runs"]
    wait_status(api, run_ids[0], "running")
    r = api.post(f"/api/sweeps/{sweep_id}/control", json={"action": "stop"})
    assert r.status_code == 200, r.text
    assert sorted(r.json()["runs"]) == sorted(run_ids)  # two training, one queued
    for run_id in run_ids:
        wait_status(api, run_id, "stopped")
    assert wait_sweep(api, sweep_id)["status"] == "finished"
    # nothing was interrupted or failed: resume has nothing to do, and says so by its list
    r = api.post(f"/api/sweeps/{sweep_id}/control", json={"action": "resume"})
    assert r.status_code == 200 and r.json()["runs"] == []
    assert api.post(f"/api/sweeps/{sweep_id}/control",
                    json={"action": "pause"}).status_code == 422


def test_a_sweep_survives_a_restart_and_resumes_its_interrupted_runs(
        tmp_path: Any) -> None:
    srv = Server(tmp_path / "data").start()
    try:
        with httpx.Client(base_url=srv.url, timeout=30) as api:
            r = api.post("/api/sweeps", json=sweep_body(
                axes={"seed": [0, 1]},
                overrides={**TINY["overrides"], "train.steps": 100_000,
                           "train.checkpoint_every": 50}))
            sweep_id, run_ids = r.json()["id"], r.json()["runs"]
            for run_id in run_ids:
                url = f"/api/runs/{run_id}/checkpoints"
                wait_until(lambda url=url: api.get(url).json(), timeout=60, interval=0.2,
                           what=f"a checkpoint of run {run_id}")
        srv.kill()  # no goodbye: the runs are left as they were
        srv.start()
        with httpx.Client(base_url=srv.url, timeout=30) as api:
            sweep = api.get(f"/api/sweeps/{sweep_id}").json()
            assert [row["id"] for row in sweep["runs"]] == run_ids
            assert {row["status"] for row in sweep["runs"]} == {"interrupted"}
            r = api.post(f"/api/sweeps/{sweep_id}/control", json={"action": "resume"})
            assert sorted(r.json()["runs"]) == sorted(run_ids)
            for run_id in run_ids:
                wait_status(api, run_id, "running")
            api.post(f"/api/sweeps/{sweep_id}/control", json={"action": "stop"})
            for run_id in run_ids:
                wait_status(api, run_id, "stopped")
    finally:
        srv.stop()


def test_the_sweep_command_launches_waits_and_prints_the_table(
        server: Server, api: httpx.Client) -> None:
    args = [sys.executable, "-m", "server.cli", "sweep", "--preset", "ring8-gan",
            "--server", server.url, "--axis", "optim.d.lr=1e-4,5e-4", "--name", "cli-sweep",
            *(f"--set={k}={v}" for k, v in TINY["overrides"].items()), "--wait"]
    done = subprocess.run(args, capture_output=True, text=True, timeout=240)
    assert done.returncode == 0, done.stderr
    first, *table = done.stdout.strip().splitlines()
    sweep_id = first.split()[1].rstrip(":")
    sweep = api.get(f"/api/sweeps/{sweep_id}").json()
    assert sweep["name"] == "cli-sweep" and len(sweep["runs"]) == 2
    assert table[0].split()[:3] == ["run", "status", "lr"]
    assert sum(row.startswith("*") for row in table) == 1
    assert all(r["status"] == "completed" for r in sweep["runs"])

    bad = subprocess.run([*args[:6], "--server", server.url, "--axis", "optim.d.lr=1e-4,-1"],
                         capture_output=True, text=True, timeout=60)
    assert bad.returncode == 2
    assert "axes.optim.d.lr" in bad.stderr and "-1" in bad.stderr
    down = subprocess.run([*args[:6], "--server", "http://127.0.0.1:9", "--axis", "seed=0,1"],
                          capture_output=True, text=True, timeout=60)
    assert down.returncode == 1 and "cannot reach" in down.stderr
    usage = subprocess.run([*args[:6], "--axis", "seed"], capture_output=True, text=True,
                           timeout=60)
    assert usage.returncode == 2 and "FIELD=V1,V2" in usage.stderr

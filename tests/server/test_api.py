"""REST API against a real server: runs from presets, validation, files, exports, limits."""

from __future__ import annotations

import csv
import io
import json

import httpx

from tests.server.conftest import Server, create_run, tiny, wait_status


def test_health_schema_and_registry(api: httpx.Client) -> None:
    health = api.get("/api/health").json()
    assert health["status"] == "ok" and health["database"] == "sqlite"
    assert health["jobs"]["slots"] == 2
    schema = api.get("/api/config/schema").json()
    assert {"data", "model", "loss", "optim", "train"} <= set(schema["properties"])
    registry = api.get("/api/registry").json()
    assert "ring8-gan" in {p["name"] for p in registry["presets"]}
    assert {"ring", "mnist5k"} <= {d["name"] for d in registry["datasets"]}
    assert {"hinge", "wasserstein"} <= {x["name"] for x in registry["losses"]}
    assert api.get("/docs").status_code == 200
    assert "/api/runs" in api.get("/openapi.json").json()["paths"]


def test_a_run_trains_to_completion_and_its_files_are_served(api: httpx.Client) -> None:
    run_id = create_run(api, tiny(**{"train.steps": 200}))
    run = wait_status(api, run_id, "completed", "failed")
    assert run["status"] == "completed", run
    assert run["step"] == 200 and run["device"] == "cpu" and run["started_at"]
    assert run["config"]["train"]["steps"] == 200
    for stamp in ("created_at", "started_at", "finished_at"):  # UTC, said so: browsers agree
        assert run[stamp].endswith(("+00:00", "Z")), run[stamp]

    metrics = api.get(f"/api/runs/{run_id}/metrics").json()
    loss = metrics["series"]["loss_d"]
    assert loss["step"] == list(range(10, 201, 10))  # every report window, in order
    assert "modes_captured" in metrics["series"]

    decimated = api.get(f"/api/runs/{run_id}/metrics?max_points=6&keys=loss_d").json()
    assert set(decimated["series"]) == {"loss_d"}
    steps = decimated["series"]["loss_d"]["step"]
    assert len(steps) <= 6 and steps[0] == 10 and steps[-1] == 200

    views = api.get(f"/api/runs/{run_id}/samples").json()["views"]
    assert [v["step"] for v in views] == [100, 200]
    view = api.get(views[-1]["url"])
    assert view.headers["content-type"] == "application/json"
    assert len(view.json()["fake"]) == 512

    ckpts = api.get(f"/api/runs/{run_id}/checkpoints").json()
    assert [c["step"] for c in ckpts] == [100, 200] and ckpts[0]["size_bytes"] > 0
    blob = api.get(ckpts[-1]["url"])
    assert blob.headers["content-type"] == "application/octet-stream"
    assert len(blob.content) == ckpts[-1]["size_bytes"]

    events = api.get(f"/api/runs/{run_id}/events").json()
    statuses = [e["status"] for e in events if e["type"] == "status"]
    assert statuses == ["starting", "running", "completed"]


def test_image_runs_serve_png_grids(api: httpx.Client) -> None:
    body = {"preset": "digits-dcgan", "overrides": {
        "train.steps": 4, "train.batch_size": 8, "train.sample_every": 2,
        "train.report_every": 2, "train.grid_size": 4, "model.g_channels": 8,
        "model.d_channels": 8, "train.num_threads": 1}}
    run_id = create_run(api, body)
    assert wait_status(api, run_id, "completed", "failed")["status"] == "completed"
    grids = api.get(f"/api/runs/{run_id}/samples").json()["grids"]
    assert [g["step"] for g in grids] == [2, 4]
    png = api.get(grids[0]["url"])
    assert png.headers["content-type"] == "image/png"
    assert png.content.startswith(b"\x89PNG")


def test_metrics_export_csv_and_json(api: httpx.Client) -> None:
    run_id = create_run(api, tiny(**{"train.steps": 50}))
    wait_status(api, run_id, "completed")
    rows = json.loads(api.get(f"/api/runs/{run_id}/metrics/export?format=json").content)
    assert [r["step"] for r in rows] == [10, 20, 30, 40, 50]
    text = api.get(f"/api/runs/{run_id}/metrics/export?format=csv")
    assert text.headers["content-type"].startswith("text/csv")
    assert "attachment" in text.headers["content-disposition"]
    table = list(csv.DictReader(io.StringIO(text.text)))
    assert [int(r["step"]) for r in table] == [10, 20, 30, 40, 50]
    assert float(table[0]["loss_d"]) == rows[0]["loss_d"]


def test_bad_configs_get_a_422_naming_the_field(api: httpx.Client) -> None:
    r = api.post("/api/runs", json=tiny(**{"train.batch_size": 0}))
    assert r.status_code == 422
    assert r.json()["detail"][0]["loc"] == ["body", "config", "train", "batch_size"]

    r = api.post("/api/runs", json={"preset": "ring8-gan", "config": {"loss": {"name": "x"}}})
    assert r.status_code == 422
    (issue,) = r.json()["detail"]
    assert issue["loc"] == ["body", "config", "loss", "name"] and "hinge" in issue["msg"]

    r = api.post("/api/runs", json={"preset": "ring8-gan",
                                    "overrides": {"model.arch": "dcgan"}})
    assert r.status_code == 422
    assert r.json()["detail"][0]["loc"] == ["body", "config", "model", "arch"]

    r = api.post("/api/runs", json={"preset": "nope"})
    assert r.status_code == 422 and "ring8-gan" in r.json()["detail"][0]["msg"]

    r = api.post("/api/runs", json={"config": {"trian": {}}})
    assert r.status_code == 422 and r.json()["detail"][0]["loc"][-1] == "trian"

    r = api.post("/api/runs", json={"preset": "ring8-gan", "colour": "red"})
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "colour"]

    r = api.post("/api/runs", content=b"{not json", headers={"content-type": "application/json"})
    assert r.status_code == 422


def test_resources_are_for_the_ray_backend(api: httpx.Client) -> None:
    r = api.post("/api/runs", json={**tiny(), "resources": {"node2": 1}})
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "resources"]
    assert "GANSCOPE_JOBS_BACKEND=ray" in r.json()["detail"][0]["msg"]
    for bad in ({"CPU": 2}, {"node2": 1.5}, {"node2": 0}, {"a b": 1}):
        r = api.post("/api/runs", json={**tiny(), "resources": bad})
        assert r.status_code == 422 and r.json()["detail"][0]["loc"][:2] == ["body",
                                                                             "resources"], r.text


def test_server_limits(api: httpx.Client) -> None:
    r = api.post("/api/runs", json=tiny(**{"train.batch_size": 4096}))
    assert r.status_code == 422 and "at most 1024" in r.json()["detail"][0]["msg"]
    r = api.post("/api/runs", json=tiny(**{"train.steps": 5_000_000}))
    assert r.status_code == 422
    assert r.json()["detail"][0]["loc"] == ["body", "config", "train", "steps"]
    big = {"preset": "ring8-gan", "config": {"name": "x" * 2_000_000}}
    assert api.post("/api/runs", json=big).status_code == 413
    assert api.get("/api/runs?limit=100000").status_code == 422


def test_hostile_ids_and_paths(api: httpx.Client, server: Server) -> None:
    hostile = ["..", "..%2F..%2Fetc%2Fpasswd", "%2e%2e", "0" * 500, "abc", "ABCDEF123456",
               "123456789abz", "';drop table runs;--"]
    for bad in hostile:
        for path in (f"/api/runs/{bad}", f"/api/runs/{bad}/metrics",
                     f"/api/runs/{bad}/samples/1.png", f"/api/runs/{bad}/checkpoints/1"):
            r = api.get(path)
            assert r.status_code in (404, 422), (path, r.status_code, r.text)
    missing = "0123456789ab"
    assert api.get(f"/api/runs/{missing}").status_code == 404
    assert api.delete(f"/api/runs/{missing}").status_code == 404
    for step in ("../../server.log", "1.png/../../x", "-1"):
        r = api.get(f"/api/runs/{missing}/samples/{step}.png")
        assert r.status_code in (404, 422)
    # raw paths that an HTTP client would normalize
    with httpx.Client(base_url=server.url) as raw:
        r = raw.send(raw.build_request("GET", "/api/runs/../../../etc/passwd"))
        assert r.status_code == 404
    assert "root:" not in r.text


def test_list_filter_and_paging(api: httpx.Client) -> None:
    ids = [create_run(api, tiny(**{"train.steps": 20})) for _ in range(3)]
    for run_id in ids:
        wait_status(api, run_id, "completed")
    page = api.get("/api/runs?status=completed&limit=2").json()
    assert page["count"] >= 3 and len(page["data"]) == 2
    assert all(r["status"] == "completed" and r["config"] is None for r in page["data"])
    second = api.get("/api/runs?status=completed&limit=2&offset=2").json()["data"]
    assert not {r["id"] for r in page["data"]} & {r["id"] for r in second}
    assert api.get("/api/runs?status=bogus").status_code == 422


def test_delete_removes_the_run_and_its_files(api: httpx.Client, server: Server) -> None:
    run_id = create_run(api, tiny(**{"train.steps": 20}))
    wait_status(api, run_id, "completed")
    folder = server.data_dir / "runs" / run_id
    assert (folder / "config.json").is_file()
    assert api.delete(f"/api/runs/{run_id}").status_code == 204
    assert not folder.exists()
    assert api.get(f"/api/runs/{run_id}").status_code == 404
    assert api.get(f"/api/runs/{run_id}/metrics").status_code == 404

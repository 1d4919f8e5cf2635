"""System, registry, documents, pages and sweeps in process: what a form, a script and a browser
read from the server before any run trains, and the rules of the routes that create many runs."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from fastapi.routing import APIRoute

from gan_core.config import RunConfig
from gan_core.losses import LOSSES
from gan_core.presets import PRESETS
from tests.server.conftest import tiny
from tests.server.inprocess import InProcessApp, in_process_app


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[InProcessApp]:
    with in_process_app(tmp_path_factory.mktemp("ganscope"), max_sweep_runs=4) as app:
        yield app


def test_health_names_the_database_and_the_backend(app: InProcessApp) -> None:
    health = app.client.get("/api/health").json()
    assert health["status"] == "ok" and health["database"] == "sqlite"
    assert health["jobs"]["backend"] == "stand-in"
    assert health["images"] == {"pid": None}  # nothing asked for an image yet


def test_the_config_schema_is_the_run_configs(app: InProcessApp) -> None:
    schema = app.client.get("/api/config/schema").json()
    assert schema == RunConfig.model_json_schema()
    assert {"data", "model", "loss", "optim", "train"} <= set(schema["properties"])


def test_the_registry_lists_every_preset_loss_and_data_set(app: InProcessApp) -> None:
    registry = app.client.get("/api/registry").json()
    presets = {p["name"]: p for p in registry["presets"]}
    assert set(presets) == set(PRESETS.names())
    for name, preset in presets.items():  # what the form would submit is a valid config
        assert preset["description"], name
        RunConfig.model_validate(preset["config"])
    assert {x["name"] for x in registry["losses"]} == set(LOSSES.names())
    kinds = {d["name"]: d["kind"] for d in registry["datasets"]}
    assert kinds["ring"] == "toy" and kinds["mnist5k"] == "image"
    assert {m["name"] for m in registry["models"]} == {"mlp", "dcgan"}


def test_the_openapi_document_covers_every_api_route(app: InProcessApp) -> None:
    doc = app.client.get("/openapi.json").json()
    routes = [r for r in app.client.app.state.api_routes  # type: ignore[attr-defined]
              if isinstance(r, APIRoute) and r.include_in_schema]
    assert len(routes) > 30
    for route in routes:
        for method in route.methods - {"HEAD"}:
            operation = doc["paths"][route.path_format][method.lower()]
            assert operation.get("summary") and operation.get("description"), route.path
            if "{" in route.path_format:  # an id may name nothing
                assert "404" in operation["responses"], (method, route.path)
    create = doc["paths"]["/api/runs"]["post"]["responses"]
    assert {"201", "401", "409", "413", "422"} <= set(create)
    presets = doc["components"]["schemas"]["RunCreate"]["properties"]["preset"]["anyOf"][0]
    assert presets["enum"] == sorted(PRESETS.names())
    assert app.client.get("/docs").status_code == 200


def test_a_wrong_method_is_a_405_that_lists_the_paths_methods(app: InProcessApp) -> None:
    r = app.client.put("/api/runs")
    assert r.status_code == 405
    assert r.headers["allow"] == "GET, HEAD, POST"
    r = app.client.post("/api/runs/0123456789ab")
    assert r.status_code == 405 and r.headers["allow"] == "DELETE, GET, HEAD"


@pytest.mark.parametrize("path", ["/", "/runs/new", "/runs/0123456789ab", "/compare",
                                  "/explore", "/support", "/lessons/divergences", "/studies",
                                  "/sweeps/0123456789ab", "/s/0123456789ab"])
def test_pages_are_served_and_load_nothing_from_other_sites(app: InProcessApp,
                                                            path: str) -> None:
    r = app.client.get(path)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    assert not re.search(r"""(src|href)=["']https?://""", r.text)


def test_pages_with_a_bad_id_and_the_static_files(app: InProcessApp) -> None:
    assert app.client.get("/runs/not-an-id").status_code == 422
    plotly = app.client.get("/static/vendor/plotly.min.js")
    assert plotly.status_code == 200 and len(plotly.content) > 1_000_000
    assert app.client.get("/static/js/api.js").status_code == 200
    assert app.client.get("/static/../server/app.py").status_code == 404


def test_lesson_parameters_are_bounded(app: InProcessApp) -> None:
    curves = app.client.get("/api/lessons/divergences?points=5&sigma=0").json()
    assert len(curves["theta"]) == 5 and curves["sigma"] == 0
    assert curves["kl"][0] is None  # an infinite KL between point masses is null
    r = app.client.get("/api/lessons/divergences?points=2")
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["query", "points"]
    r = app.client.get("/api/lessons/divergences/gradients")
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["query", "theta"]


# -- sweeps ----------------------------------------------------------------------------------------


def test_a_sweep_validates_every_point_before_it_queues_any(app: InProcessApp) -> None:
    before = len(app.jobs.submitted)
    body = {**tiny(), "axes": {"optim.d.lr": [1e-4, -1.0]}}
    r = app.client.post("/api/sweeps", json=body)
    assert r.status_code == 422 and "lr" in r.text
    r = app.client.post("/api/sweeps", json={**tiny(), "axes": {"seed": [0, 1, 2, 3, 4]}})
    assert r.status_code == 422 and "4" in r.text  # this server's max_sweep_runs
    r = app.client.post("/api/sweeps", json={**tiny(), "axes": {"Not A Field": [1]}})
    assert r.status_code == 422 and r.json()["detail"][0]["loc"][:2] == ["body", "axes"]
    r = app.client.post("/api/sweeps", json={**tiny(), "axes": {}})
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "axes"]
    assert len(app.jobs.submitted) == before
    assert app.client.get("/api/sweeps").json()["count"] == 0


def test_a_sweep_queues_one_run_per_point_and_stops_them_together(app: InProcessApp) -> None:
    r = app.client.post("/api/sweeps", json={**tiny(), "name": "seeds",
                                             "axes": {"seed": [0, 1], "optim.g.lr": [1e-3]}})
    assert r.status_code == 201, r.text
    sweep_id, run_ids = r.json()["id"], r.json()["runs"]
    assert len(run_ids) == 2 and app.jobs.queued()[-2:] == run_ids
    runs = [app.client.get(f"/api/runs/{run_id}").json() for run_id in run_ids]
    assert [(r["sweep_point"], r["config"]["seed"]) for r in runs] == [
        ({"seed": 0, "optim.g.lr": 1e-3}, 0), ({"seed": 1, "optim.g.lr": 1e-3}, 1)]
    table = app.client.get(f"/api/sweeps/{sweep_id}").json()
    assert table["status"] == "active" and table["counts"] == {"queued": 2}
    assert [row["id"] for row in table["runs"]] == run_ids
    assert table["metric"] == "w1_exact" and table["goal"] == "min"  # 2D data's default
    csv_text = app.client.get(f"/api/sweeps/{sweep_id}/export.csv").text
    assert csv_text.splitlines()[0].startswith("run_id") and len(csv_text.splitlines()) == 3
    stopped = app.client.post(f"/api/sweeps/{sweep_id}/control", json={"action": "stop"}).json()
    assert sorted(stopped["runs"]) == sorted(run_ids) and not set(app.jobs.queued()) & set(
        run_ids)
    assert app.client.get(f"/api/sweeps/{sweep_id}").json()["status"] == "finished"


def test_unknown_sweeps(app: InProcessApp) -> None:
    missing = "0123456789ab"
    for path in (f"/api/sweeps/{missing}", f"/api/sweeps/{missing}/export.csv"):
        assert app.client.get(path).status_code == 404
    r = app.client.post(f"/api/sweeps/{missing}/control", json={"action": "stop"})
    assert r.status_code == 404
    assert app.client.get("/api/sweeps/xyz").status_code == 422

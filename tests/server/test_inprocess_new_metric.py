"""Adding a metric touches the file that declares it (gan_core/reports.py for what the trainer
reports, gan_core/evaluations.py for eval.metrics): one registered here, in the test, is in the
config's schema, the registry's answer, the API's validation and the values a trained run
stores. tests/webui/test_new_metric.py sees it on the run page."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from gan_core.evaluations import EVALUATIONS, evaluation, metric_of
from gan_core.reports import CHARTS, METRICS, chart, metric, value_name
from tests.gan_core.own_metric import EVALUATION, SIGNAL, SIGNAL_CHART, own_metrics
from tests.server.conftest import IMAGE_RUN
from tests.server.inprocess import InProcessApp, in_process_app

EVALUATED = {"preset": IMAGE_RUN["preset"], "overrides": {
    **IMAGE_RUN["overrides"], "eval.every": 2, "eval.metrics": ["fid", EVALUATION],
    "eval.features": "mnist", "eval.n": 100}}


@pytest.fixture
def app(tmp_path: Path) -> Iterator[InProcessApp]:
    with own_metrics(), in_process_app(tmp_path) as app:
        yield app


def test_a_metric_registered_in_one_place_is_everywhere(app: InProcessApp) -> None:
    schema = app.client.get("/api/config/schema").json()
    choices = schema["$defs"]["EvalConfig"]["properties"]["metrics"]
    assert EVALUATION in choices["items"]["enum"] and "Distance between" in choices["description"]
    registry = app.client.get("/api/registry").json()
    assert EVALUATION in {e["name"] for e in registry["evaluations"]}
    charts = {c["name"]: c for c in registry["charts"]}
    assert charts[f"eval-{EVALUATION}"]["show"] == "evaluation"
    assert charts[SIGNAL_CHART]["log"] is True
    metrics = {m["name"]: m for m in registry["metrics"]}
    assert metrics[SIGNAL]["chart"] == SIGNAL_CHART
    assert metrics[EVALUATION] | {"chart": f"eval-{EVALUATION}", "direction": "lower",
                                  "evaluation": EVALUATION} == metrics[EVALUATION]
    assert metrics[EVALUATION]["names"] == {"inception": EVALUATION,
                                            "mnist": f"{EVALUATION}_mnist"}
    assert metrics["kid_std"]["names"]["mnist"] == "kid_mnist_std"
    assert "names" not in metrics[SIGNAL]

    run_id = app.create_run(EVALUATED)
    app.train(run_id)
    assert app.client.get(f"/api/runs/{run_id}").json()["status"] == "completed"
    series = app.client.get(f"/api/runs/{run_id}/metrics").json()["series"]
    assert series[f"{EVALUATION}_mnist"]["step"] == [2, 4]
    assert all(v >= 0 for v in series[f"{EVALUATION}_mnist"]["value"])
    assert series["fid_mnist"]["step"] == [2, 4]


def test_an_unregistered_metric_is_a_422_naming_the_field_and_the_choices(
        tmp_path: Path) -> None:
    with in_process_app(tmp_path) as app:
        r = app.client.post("/api/runs", json=EVALUATED)
    assert r.status_code == 422
    detail = r.json()["detail"][0]
    assert detail["loc"][-3:] == ["eval", "metrics", 1] and "'fid'" in detail["msg"]


def test_the_built_in_metrics_are_declared_with_their_charts() -> None:
    for entry in METRICS:
        assert entry.value.chart is None or entry.value.chart in CHARTS, entry.name
    for entry in EVALUATIONS:
        assert f"eval-{entry.name}" in CHARTS
        assert all(value in METRICS for value in entry.value.values)
    kept = [e.name for e in METRICS if e.value.keeps_best]
    assert kept == ["fid"]  # the best checkpoint is the best FID's


def test_a_metric_needs_a_declared_chart_and_keeps_only_a_lowest_best() -> None:
    with pytest.raises(ValueError, match="no chart 'nowhere'"):
        metric("test_lost", "Charted nowhere.", label="lost", chart="nowhere")
    with pytest.raises(ValueError, match="keeps_best needs direction='lower'"):
        metric("test_best", "Best when highest.", label="best", direction="higher",
               keeps_best=True)
    with pytest.raises(ValueError, match="needs the evaluation it charts"):
        chart("test-eval", "An evaluation's chart.", title="t", ytitle="t", show="evaluation")
    assert "test_lost" not in METRICS and "test_best" not in METRICS
    assert "test-eval" not in CHARTS


def test_a_value_is_stored_under_one_name_per_feature_space() -> None:
    assert value_name("kid", "_mnist") == "kid_mnist"
    assert value_name("kid_std", "_mnist") == "kid_mnist_std"
    assert value_name("precision", "_mnist") == "precision_mnist"  # prdc's, not prdc_...
    assert value_name("kid_std", "") == "kid_std"
    assert value_name("loss_d", "_mnist") == "loss_d"  # the trainer's own: never suffixed
    assert metric_of("precision_mnist") is METRICS.get("precision")
    assert metric_of("kid_mnist_std") is METRICS.get("kid_std")
    assert metric_of("no_such_metric") is None


def test_an_evaluation_whose_names_are_taken_leaves_nothing_registered() -> None:
    before = (EVALUATIONS.names(), CHARTS.names(), METRICS.names())
    with pytest.raises(ValueError, match="'fid' already registered"):
        evaluation("test_dup", "Reports fid again.", compute=lambda r, f: {}, title="t",
                   ytitle="t", charted={"test_dup": "dup", "fid": "fid"}, direction="lower")
    assert (EVALUATIONS.names(), CHARTS.names(), METRICS.names()) == before


def test_the_sweeps_goal_follows_the_metrics_direction() -> None:
    from server.sweeps import default_goal

    assert default_goal("precision_mnist") == "max" and default_goal("modes_captured") == "max"
    assert default_goal("fid_mnist") == "min" and default_goal("w1_exact") == "min"
    assert default_goal("loss_g") == "min" and default_goal("unknown") == "min"


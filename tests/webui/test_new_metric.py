"""The run page draws what the registry declares: a metric and an evaluation registered in this
test (tests/gan_core/own_metric.py) get their charts, labels and scale on the page, with no
change to the web UI. The app is served from this process, so that it sees them."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from gan_core.events import Metrics
from tests.gan_core.own_metric import EVALUATION, SIGNAL, SIGNAL_CHART, own_metrics
from tests.server.conftest import IMAGE_RUN
from tests.webui.served import ServedApp, served_app

RUN = {"preset": IMAGE_RUN["preset"], "overrides": {
    **IMAGE_RUN["overrides"], "eval.every": 2, "eval.metrics": [EVALUATION],
    "eval.features": "mnist"}}


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServedApp]:
    with own_metrics(), served_app(tmp_path_factory.mktemp("served")) as app:
        yield app


@pytest.fixture()
def page(served_page: Any) -> Any:
    return served_page  # the app served from this process, not a `ganscope serve`


def traces(page: Any, chart: str) -> list[dict[str, Any]]:
    return page.evaluate(
        "id => document.getElementById(id).data.map(t => ({name: t.name, n: t.x.length}))",
        f"chart-{chart}")


def test_a_registered_metric_and_evaluation_get_their_charts(page: Any,
                                                             served: ServedApp) -> None:
    run_id = served.create_run(RUN)
    served.play(run_id, *(Metrics(step=step, values={
        "loss_d": 1.0, "loss_g": 0.5, SIGNAL: 10.0 ** step, f"{EVALUATION}_mnist": 1.0 / step})
        for step in (2, 4, 6)))

    page.goto(f"/runs/{run_id}")
    signal = page.locator(f"#chart-{SIGNAL_CHART} .scatterlayer .trace").first
    signal.wait_for()
    caption = page.locator(f"#chart-{SIGNAL_CHART}").locator("xpath=..")
    assert "Test signal" in caption.inner_text()
    shown = traces(page, SIGNAL_CHART)
    assert {t["name"] for t in shown} >= {"signal (test)"} and max(t["n"] for t in shown) == 3
    assert page.evaluate(f"document.getElementById('chart-{SIGNAL_CHART}').layout.yaxis.type") \
        == "log"

    gap = f"eval-{EVALUATION}"
    page.locator(f"#chart-{gap} .scatterlayer .trace").first.wait_for()
    assert traces(page, gap) == [{"name": "feature gap", "n": 3}]  # as measured: not smoothed
    caption = page.locator(f"#chart-{gap}").locator("xpath=..").inner_text()
    assert "Feature gap (MNIST features" in caption
    assert page.locator("#chart-eval-fid").count() == 0  # not asked for: not drawn

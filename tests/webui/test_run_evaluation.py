"""The run page's evaluation and study readings: FID charted with the best step named, and
each checkpoint's fooling rate from the studies that tested it, with a link to start one."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.server.conftest import IMAGE_RUN, Server, create_run, wait_status
from tests.server.test_studies import SMALL, take_part, truth
from tests.webui.conftest import shot

EVALUATED = {"preset": IMAGE_RUN["preset"], "overrides": {
    **IMAGE_RUN["overrides"], "train.steps": 6, "train.checkpoint_every": 6,
    "eval.every": 2, "eval.metrics": ["fid", "prdc"], "eval.features": "mnist", "eval.n": 100}}


@pytest.fixture(scope="module")
def api(live_server: Server) -> Any:
    with httpx.Client(base_url=live_server.url, timeout=120) as client:
        yield client


def test_fid_is_charted_and_its_best_step_named(page: Any, api: httpx.Client) -> None:
    run_id = create_run(api, EVALUATED)
    assert wait_status(api, run_id, "completed", "failed", timeout=180)["status"] == "completed"
    fid = api.get(f"/api/runs/{run_id}/metrics?keys=fid_mnist").json()["series"]["fid_mnist"]
    assert fid["step"] == [2, 4, 6]
    best_step = fid["step"][fid["value"].index(min(fid["value"]))]

    page.goto(f"/runs/{run_id}")
    page.locator("#chart-eval-fid .scatterlayer .trace").first.wait_for()
    points = page.evaluate("document.getElementById('chart-eval-fid').data[0].x.length")
    assert points == 3
    assert page.locator("#chart-eval-prdc").count() == 1
    best = page.locator(".best-fid")
    best.wait_for()
    assert f"at step {best_step}" in best.inner_text()
    assert "MNIST features" in page.locator("#chart-eval-fid").locator("xpath=..").inner_text()
    shot(page, "run-evaluation")


def test_checkpoints_show_fooling_rates_and_lead_to_a_study(page: Any, api: httpx.Client,
                                                            live_server: Server) -> None:
    run_id = create_run(api, IMAGE_RUN)
    assert wait_status(api, run_id, "completed", "failed")["status"] == "completed"
    study = api.post("/api/studies", json={"name": "first look", **SMALL, "conditions": [
        {"run_id": run_id, "step": 4, "ema": True, "label": "ema"}]})
    assert study.status_code == 201, study.text
    def attentive(position: int, token: str) -> int:
        answer, vigilance, _ = truth(live_server, token)[position]
        return answer if vigilance else 0  # passes the vigilance checks, guesses the rest

    take_part(api, study.json()["id"], "p1", attentive)

    page.goto(f"/runs/{run_id}")
    notes = page.locator("#checkpoints tr[data-step='4'] .checkpoint-notes")
    notes.filter(has_text="fools").wait_for()
    assert "“first look” (1 participant)" in notes.inner_text()

    page.locator("#checkpoints tr[data-step='4'] a", has_text="Study").click()
    page.wait_for_url(f"**/studies?run={run_id}&step=4")
    row = page.locator("#conditions .condition-row").first
    row.locator("[name=step]").wait_for()
    assert row.locator("[name=run_id]").input_value() == run_id
    assert row.locator("[name=step]").input_value() == "4"

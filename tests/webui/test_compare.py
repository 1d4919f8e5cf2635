"""Compare runs: overlaid metric charts, latest samples side by side, selection in the URL."""

from __future__ import annotations

import httpx
import pytest
from playwright.sync_api import expect

from tests.server.conftest import Server, create_run, tiny, wait_status
from tests.webui.conftest import shot

SLOW = 120  # s: runs share two busy cores with everything else

# a DCGAN on scikit-learn's digits that writes two small sample grids in a few seconds
TINY_IMAGES = {"preset": "digits-dcgan", "overrides": {
    "model.g_channels": 8, "model.d_channels": 8, "train.steps": 20, "train.batch_size": 16,
    "train.sample_every": 10, "train.grid_size": 16, "train.checkpoint_every": 20,
    "train.report_every": 5, "train.num_threads": 1}}


@pytest.fixture(scope="module")
def runs(live_server: Server) -> dict[str, str]:
    """Two finished 2D runs and one finished image run, by name."""
    with httpx.Client(base_url=live_server.url, timeout=60) as api:
        ids = {"cmp-ring-a": create_run(api, {**tiny(), "name": "cmp-ring-a"}),
               "cmp-ring-b": create_run(api, {**tiny(seed=1), "name": "cmp-ring-b"}),
               "cmp-digits": create_run(api, {**TINY_IMAGES, "name": "cmp-digits"})}
        for run_id in ids.values():
            wait_status(api, run_id, "completed", timeout=SLOW)
    return ids


def traces(page, metric: str) -> list[dict]:
    chart = page.locator(f'[data-metric="{metric}"].js-plotly-plot')
    chart.wait_for()
    return chart.evaluate("n => n.data.map(t => ({name: t.name, n: t.x.length, "
                          "colour: t.line.color}))")


def test_two_runs_overlaid(page, runs: dict[str, str]) -> None:
    a, b = runs["cmp-ring-a"], runs["cmp-ring-b"]
    page.goto(f"/compare?ids={a},{b}")
    loss_d = traces(page, "loss_d")
    assert [t["name"] for t in loss_d] == ["cmp-ring-a", "cmp-ring-b"]
    assert all(t["n"] == 30 for t in loss_d)  # 300 steps reported every 10
    assert loss_d[0]["colour"] != loss_d[1]["colour"]
    # the legend names the runs; gradient norms on a log axis; 2D metrics are there too
    legend = page.locator('[data-metric="loss_d"] .legendtext').all_text_contents()
    assert legend == ["cmp-ring-a", "cmp-ring-b"]
    grad_chart = page.locator('[data-metric="grad_norm_d"].js-plotly-plot')
    assert grad_chart.evaluate("n => n.layout.yaxis.type") == "log"
    assert [t["name"] for t in traces(page, "modes_captured")] == ["cmp-ring-a", "cmp-ring-b"]
    # each run's latest 2D view: its real and generated points
    for run_id in (a, b):
        view = page.locator(f'figure.sample[data-run-id="{run_id}"] .view.js-plotly-plot')
        view.wait_for()
        points = view.evaluate("n => n.data.map(t => [t.name, t.x.length])")
        assert [name for name, _ in points] == ["real", "generated"]
        assert all(n > 100 for _, n in points)
        caption = page.locator(f'figure.sample[data-run-id="{run_id}"] figcaption')
        expect(caption).to_contain_text("step 300")
    # the picker shows the selection
    for run_id in (a, b):
        expect(page.locator(f'.pick[data-run-id="{run_id}"] input')).to_be_checked()
    shot(page, "compare_2d")


def test_grid_beside_a_view(page, runs: dict[str, str]) -> None:
    digits, ring = runs["cmp-digits"], runs["cmp-ring-a"]
    page.goto(f"/compare?ids={digits},{ring}")
    grid = page.locator(f'figure.sample[data-run-id="{digits}"] img')
    expect(grid).to_have_attribute("src", f"/api/runs/{digits}/samples/20.png")
    page.wait_for_function("img => img.complete && img.naturalWidth > 0", arg=grid.element_handle())
    view = page.locator(f'figure.sample[data-run-id="{ring}"] .view.js-plotly-plot')
    expect(view).to_be_visible()
    assert [t["name"] for t in traces(page, "loss_g")] == ["cmp-digits", "cmp-ring-a"]
    shot(page, "compare_grid_and_view")


def test_picker_keeps_the_choice_in_the_url(page, runs: dict[str, str]) -> None:
    a, b = runs["cmp-ring-a"], runs["cmp-ring-b"]
    page.goto("/compare")
    expect(page.locator(".empty", has_text="Choose two or more runs")).to_be_visible()
    page.locator(f'.pick[data-run-id="{a}"]').get_by_role("checkbox").check()
    expect(page.locator(".empty", has_text="at least one more")).to_be_visible()
    page.locator(f'.pick[data-run-id="{b}"]').get_by_role("checkbox").check()
    assert page.url.endswith(f"/compare?ids={a},{b}")
    assert len(traces(page, "loss_g")) == 2
    # the address alone brings the same comparison back
    page.reload()
    assert [t["name"] for t in traces(page, "loss_g")] == ["cmp-ring-a", "cmp-ring-b"]
    page.get_by_label("Filter").fill("ring-b")
    expect(page.locator(f'.pick[data-run-id="{a}"]')).to_be_hidden()
    page.locator(f'.pick[data-run-id="{b}"]').get_by_role("checkbox").uncheck()
    assert page.url.endswith(f"/compare?ids={a}")
    expect(page.locator(".empty", has_text="at least one more")).to_be_visible()


def test_a_deleted_run_in_the_link_is_named(page, runs: dict[str, str]) -> None:
    page.allowed_errors = ("status of 404",)  # Chromium logs the lookup's 404
    a, b = runs["cmp-ring-a"], runs["cmp-ring-b"]
    gone = "0123456789ab"
    page.goto(f"/compare?ids={a},{gone},{b}")
    expect(page.get_by_role("alert").filter(has_text=gone)).to_contain_text("Not found")
    assert len(traces(page, "loss_d")) == 2
    assert page.url.endswith(f"/compare?ids={a},{b}")

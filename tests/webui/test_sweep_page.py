"""Sweeps in the browser: the sweep page (a live table of its runs, sorting, the metric by one
axis, stop), launching a sweep from the new-run form, and sweeps on the runs page."""

from __future__ import annotations

import re
import statistics
from collections.abc import Iterator

import httpx
import pytest
from playwright.sync_api import expect

from tests.server.conftest import TINY, Server, wait_status
from tests.webui.conftest import shot

SLOW = 180_000  # ms: four runs share two busy cores with everything else
SWEEP_URL = re.compile(r"/sweeps/[0-9a-f]{12}$")


@pytest.fixture()
def api(live_server: Server) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=live_server.url, timeout=60) as client:
        yield client


def create_sweep(api: httpx.Client, **body: object) -> dict:
    r = api.post("/api/sweeps", json={"preset": TINY["preset"], "overrides": TINY["overrides"],
                                      **body})
    assert r.status_code == 201, r.text
    return r.json()


@pytest.fixture(scope="module")
def grid_sweep(live_server: Server) -> dict:
    """A 2 x 2 sweep of tiny runs, just created: its runs are still queued or training."""
    with httpx.Client(base_url=live_server.url, timeout=60) as api:
        return create_sweep(api, name="lr-seed grid",
                            axes={"optim.d.lr": [1e-4, 5e-4], "seed": [0, 1]})


def row(page, run_id: str):
    return page.locator(f'#sweep-table tr[data-run-id="{run_id}"]')


def row_ids(page) -> list[str]:
    return page.locator("#sweep-table tbody tr").evaluate_all(
        "rows => rows.map(r => r.dataset.runId)")


def chart(page) -> dict:
    return page.locator("#sweep-chart.js-plotly-plot").evaluate(
        "n => ({x: n.data[0].x, y: n.data[0].y, up: n.data[0].error_y.array,"
        " down: n.data[0].error_y.arrayminus, title: n.layout.title.text})")


def test_a_sweep_fills_in_live_sorts_and_charts(page, api, grid_sweep) -> None:
    sweep_id, run_ids = grid_sweep["id"], grid_sweep["runs"]
    page.goto(f"/sweeps/{sweep_id}")
    page.evaluate("window.notReloaded = true")
    expect(page.locator("#sweep-table tbody tr")).to_have_count(4)
    first_statuses = page.locator("#sweep-table tbody .status").all_inner_texts()
    assert first_statuses != ["completed"] * 4  # what follows is live, not a finished table
    expect(page.locator("#sweep-name")).to_have_text("lr-seed grid")
    expect(page.locator("#sweep-info")).to_contain_text("w1_exact (lower is better)")
    expect(page.locator("#sweep-table thead th")).to_have_text(
        ["Run", "Status", "optim.d.lr", "seed", "Step", "final w1_exact", "best w1_exact"])
    points = {r["id"]: r["point"] for r in api.get(f"/api/sweeps/{sweep_id}").json()["runs"]}
    assert set(points) == set(run_ids)
    for run_id, point in points.items():
        expect(row(page, run_id).locator("td.axis")).to_have_text(
            [str(point["optim.d.lr"]), str(point["seed"])])  # 0.0001, as JSON writes it

    # live: every run completes on the page, which never reloads
    page.wait_for_function(
        "() => { const s = [...document.querySelectorAll('#sweep-table tbody .status')];"
        " return s.length === 4 && s.every(n => n.textContent === 'completed'); }",
        timeout=SLOW)
    for run_id in run_ids:
        wait_status(api, run_id, "completed", timeout=SLOW / 1000)
    summary = api.get(f"/api/sweeps/{sweep_id}").json()
    assert all(r["final"] is not None and r["best"] is not None for r in summary["runs"])
    page.wait_for_function(  # the cells hold the API's values, exactly
        "want => Object.entries(want).every(([id, [final, best]]) => {"
        " const tr = document.querySelector(`tr[data-run-id='${id}']`);"
        " return tr && Number(tr.querySelector('.final').dataset.value) === final"
        " && Number(tr.querySelector('.best-value').dataset.value) === best; })",
        arg={r["id"]: [r["final"], r["best"]] for r in summary["runs"]}, timeout=30_000)
    for run_id in run_ids:
        assert row(page, run_id).locator(".final").inner_text() not in ("", "–")
        expect(row(page, run_id).locator(".progress-text")).to_have_text("300 / 300")
    expect(page.locator("#sweep-counts")).to_contain_text("4 completed")
    assert page.evaluate("window.notReloaded") is True

    # the best run is marked, as the API ranks it
    best = page.locator("#sweep-table tr.best")
    expect(best).to_have_count(1)
    expect(best).to_have_attribute("data-run-id", summary["best_run"])
    expect(best.locator(".best-badge")).to_be_visible()
    expect(best.locator(".best-badge")).to_have_text("best")

    # sorted by the metric, then the other way round (the keyboard works as a click)
    by_best = [r["id"] for r in sorted(summary["runs"], key=lambda r: r["best"])]
    header = page.locator('#sweep-table th[data-key="best"]')
    header.get_by_role("button").click()
    expect(header).to_have_attribute("aria-sort", "ascending")
    assert row_ids(page) == by_best
    header.get_by_role("button").focus()
    page.keyboard.press("Enter")
    expect(header).to_have_attribute("aria-sort", "descending")
    assert row_ids(page) == by_best[::-1]
    seed_header = page.locator('#sweep-table th[data-key="axis:seed"]')
    seed_header.get_by_role("button").click()
    expect(header).not_to_have_attribute("aria-sort", re.compile("."))
    assert [points[i]["seed"] for i in row_ids(page)] == [0, 0, 1, 1]
    shot(page, "sweep_page")

    # the metric by one axis: the mean of each run's best value, min and max as error bars
    page.locator("#sweep-chart.js-plotly-plot").wait_for()
    data = chart(page)
    assert data["x"] == [1e-4, 5e-4]
    assert "best" in data["title"]
    for x, y, up, down in zip(data["x"], data["y"], data["up"], data["down"], strict=True):
        values = [r["best"] for r in summary["runs"] if r["point"]["optim.d.lr"] == x]
        assert y == pytest.approx(statistics.fmean(values))
        assert y + up == pytest.approx(max(values)) and y - down == pytest.approx(min(values))
    page.get_by_label("Axis", exact=True).select_option("seed")
    page.wait_for_function(
        "() => document.getElementById('sweep-chart').data[0].x.join() === '0,1'")
    page.get_by_label("Each run's value", exact=True).select_option("final")
    data = chart(page)
    assert "final" in data["title"]
    finals = [r["final"] for r in summary["runs"] if r["point"]["seed"] == 1]
    assert data["y"][1] == pytest.approx(statistics.fmean(finals))
    shot(page, "sweep_chart_by_seed")

    # a finished sweep has nothing to stop or resume; its table as CSV; its runs compared
    expect(page.get_by_role("button", name="Stop sweep")).to_be_disabled()
    expect(page.get_by_role("button", name="Resume interrupted runs")).to_be_disabled()
    csv = page.get_by_role("link", name="Download CSV")
    expect(csv).to_have_attribute("href", f"/api/sweeps/{sweep_id}/export.csv")
    assert api.get(f"/api/sweeps/{sweep_id}/export.csv").text.startswith(
        "run_id,name,status,optim.d.lr,seed,")
    page.get_by_role("link", name="Compare these runs").click()
    page.wait_for_url(re.compile(r"/compare\?ids="))
    ids = re.search(r"ids=([^&]+)", page.url).group(1).replace("%2C", ",").split(",")
    assert sorted(ids) == sorted(run_ids)


def test_the_runs_page_lists_sweeps_and_links_their_runs(page, api, grid_sweep) -> None:
    sweep_id, run_ids = grid_sweep["id"], grid_sweep["runs"]
    for run_id in run_ids:
        wait_status(api, run_id, "completed", timeout=SLOW / 1000)
    page.goto("/")
    panel = page.locator('#sweeps[data-loaded="true"]')
    entry = panel.locator(f'tr[data-sweep-id="{sweep_id}"]')
    expect(entry.get_by_role("link", name="lr-seed grid")).to_have_attribute(
        "href", f"/sweeps/{sweep_id}")
    expect(entry.locator("td")).to_have_text(
        [re.compile("^lr-seed grid"), "w1_exact (min)", "optim.d.lr, seed", "4", "0",
         re.compile("ago$")])
    link = page.locator(f'tr[data-run-id="{run_ids[0]}"] .sweep-link')
    expect(link).to_have_text("sweep: lr-seed grid")
    shot(page, "runs_with_sweeps")
    link.click()
    page.wait_for_url(f"**/sweeps/{sweep_id}")
    expect(page.locator("#sweep-table tbody tr")).to_have_count(4)


def test_launch_a_sweep_from_the_form(page, api) -> None:
    page.allowed_errors = ("status of 422",)  # Chromium logs every 4xx response
    page.goto("/runs/new")
    page.get_by_label("Start from").select_option("ring8-gan")
    for path, value in {"name": "form sweep", "train.steps": "200", "model.width": "16",
                        "model.depth": "2", "train.checkpoint_every": "100"}.items():
        page.locator(f'[name="{path}"]').fill(value)
    expect(page.locator("#sweep-panel")).to_be_hidden()
    page.get_by_role("radio", name="Sweep").check()
    expect(page.locator("#sweep-panel")).to_be_visible()
    assert "mode=sweep" in page.url

    lr = page.locator(".axis-row").nth(0)
    lr.get_by_label("Field").fill("optim.d.lr")
    lr.get_by_label("Values").fill("-1")
    size = page.locator("#sweep-size")
    expect(size).to_have_text("1 run: every combination.")
    # a second axis multiplies the grid; removing it divides it again
    page.get_by_role("button", name="Add axis").click()
    seed = page.locator(".axis-row").nth(1)
    seed.get_by_label("Field").fill("seed")
    seed.get_by_label("Values").fill("0, 1, 2")
    expect(size).to_have_text("3 runs (1 × 3): every combination.")
    seed.get_by_role("button", name="Remove the axis seed").click()
    expect(page.locator(".axis-row")).to_have_count(1)
    expect(size).to_have_text("1 run: every combination.")

    launch = page.get_by_role("button", name=re.compile("^Launch sweep"))
    with page.expect_response(lambda r: r.url.endswith("/api/sweeps")
                              and r.request.method == "POST") as response:
        launch.click()
    assert response.value.status == 422
    values = lr.get_by_label("Values")
    expect(lr.locator(".axis-error")).to_contain_text("value -1")
    expect(lr.locator(".axis-error")).to_contain_text("greater than 0")
    expect(values).to_have_attribute("aria-invalid", "true")
    expect(values).to_be_focused()
    expect(page.locator("#form-errors")).to_contain_text("optim.d.lr")
    assert page.locator('[name="train.steps"]').get_attribute("aria-invalid") is None
    shot(page, "new_sweep_server_error")

    values.fill("1e-4, 5e-4")
    expect(values).not_to_have_attribute("aria-invalid", "true")
    expect(size).to_have_text("2 runs: every combination.")
    expect(launch).to_have_text("Launch sweep (2 runs)")
    launch.click()
    page.wait_for_url(SWEEP_URL, timeout=60_000)
    expect(page.locator("#sweep-table tbody tr")).to_have_count(2)
    expect(page.locator("#sweep-name")).to_have_text("form sweep")
    sweep = api.get(f"/api/sweeps/{page.url.rsplit('/', 1)[1]}").json()
    assert sweep["spec"]["axes"] == {"optim.d.lr": [1e-4, 5e-4]}
    assert sweep["spec"]["preset"] == "ring8-gan"
    assert sweep["spec"]["config"]["train"]["steps"] == 200
    for run in sweep["runs"]:
        config = api.get(f"/api/runs/{run['id']}").json()["config"]
        assert config["optim"]["d"]["lr"] == run["point"]["optim.d.lr"]
        assert config["model"]["width"] == 16 and config["train"]["steps"] == 200
    shot(page, "sweep_from_form")


def test_stop_a_sweep(page, api) -> None:
    sweep = create_sweep(api, name="to stop", overrides={**TINY["overrides"],
                                                         "train.steps": 1_000_000},
                         axes={"seed": [0, 1]})
    page.goto(f"/sweeps/{sweep['id']}")
    expect(page.locator("#sweep-table tbody tr")).to_have_count(2)
    stop = page.get_by_role("button", name="Stop sweep")
    expect(stop).to_be_enabled()
    stop.click()
    expect(page.locator("#control-result")).to_have_text("Stopped 2 runs.")
    for run_id in sweep["runs"]:
        expect(row(page, run_id).locator(".status")).to_have_text("stopped", timeout=SLOW)
    expect(stop).to_be_disabled()
    expect(page.locator("#sweep-state")).to_have_text("finished")


def test_an_unknown_sweep_says_so(page) -> None:
    page.allowed_errors = ("status of 404",)
    page.goto("/sweeps/000000000000")
    expect(page.locator("h1")).to_have_text("No sweep 000000000000")
    expect(page.locator("#sweep-body")).to_be_hidden()


def test_random_search_takes_ranges(page) -> None:
    page.goto("/runs/new?mode=sweep")
    page.locator('[name="train.steps"]').wait_for()
    expect(page.get_by_role("radio", name="Sweep")).to_be_checked()
    expect(page.get_by_label("Points", exact=True)).to_be_hidden()  # a grid has no count
    page.get_by_label("Search", exact=True).select_option("random")
    page.get_by_label("Points", exact=True).fill("5")
    rows = page.locator(".axis-row")
    rows.nth(0).get_by_label("Field").fill("optim.g.lr")
    rows.nth(0).get_by_label("Values").fill("1e-5..1e-3 log")
    page.get_by_role("button", name="Add axis").click()
    rows.nth(1).get_by_label("Field").fill("loss.name")
    rows.nth(1).get_by_label("Values").fill("hinge, wasserstein")
    expect(page.locator("#sweep-size")).to_have_text("5 runs, drawn at random with seed 0.")
    expect(rows.nth(0).locator(".axis-count")).to_have_text("log range")
    page.locator("details.preview summary").click()
    page.wait_for_function("() => document.getElementById('preview').textContent.includes('axes')")
    body = page.evaluate("JSON.parse(document.getElementById('preview').textContent)")
    assert body["axes"] == {
        "optim.g.lr": {"low": 1e-5, "high": 1e-3, "log": True, "integer": False},
        "loss.name": ["hinge", "wasserstein"]}
    assert body["search"] == "random" and body["count"] == 5 and body["seed"] == 0
    assert body["preset"] == "ring8-gan" and body["config"]["train"]["steps"] > 0

"""The runs list: live rows from /ws/runs, filters, delete/resume, selection to compare."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import expect

from tests.server.conftest import Server, create_run, tiny, wait_status
from tests.webui.conftest import shot

SLOW = 120_000  # ms: runs share two busy cores with everything else


@pytest.fixture()
def api(live_server: Server) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=live_server.url, timeout=60) as client:
        yield client


def row(page, run_id: str):
    return page.locator(f'tr[data-run-id="{run_id}"]')


def test_empty_state_on_a_fresh_server(page) -> None:
    page.goto("/")
    empty = page.locator(".empty", has_text="No runs yet")
    expect(empty).to_be_visible()
    shot(page, "runs_empty")
    empty.get_by_role("link", name="New run").click()
    page.wait_for_url(re.compile(r"/runs/new"))


def test_the_panel_says_where_runs_train(page) -> None:
    page.goto("/")
    panel = page.locator('#cluster[data-loaded="true"]')
    expect(panel).to_contain_text("This machine: 2 job slots")
    expect(panel).to_contain_text("running")


def test_a_new_run_appears_and_finishes_without_reload(page, api) -> None:
    page.goto("/")
    page.locator('#runs[data-loaded="true"]').wait_for()
    page.evaluate("window.notReloaded = true")
    run_id = create_run(api, {**tiny(), "name": "live-row"})
    tr = row(page, run_id)
    expect(tr.get_by_role("link", name="live-row")).to_have_attribute("href", f"/runs/{run_id}")
    expect(tr.locator(".status")).to_have_text("completed", timeout=SLOW)
    expect(tr.locator(".progress-text")).to_have_text("300 / 300")
    expect(tr.locator("td.num").first).not_to_have_text("–")  # the last D loss arrived
    assert tr.locator("td").nth(3).inner_text() == "ring"
    assert page.evaluate("window.notReloaded") is True
    # a completed run can be continued (to more steps), not resumed as it is
    expect(tr.get_by_role("button", name="Continue live-row")).to_be_visible()
    shot(page, "runs_list")


def test_filter_by_name_and_status(page, api) -> None:
    ids = {name: create_run(api, {**tiny(), "name": name})
           for name in ("filter-alpha", "filter-beta")}
    for run_id in ids.values():
        wait_status(api, run_id, "completed", timeout=SLOW / 1000)
    page.goto("/")
    expect(row(page, ids["filter-alpha"])).to_be_visible()
    page.get_by_label("Name").fill("alpha")
    expect(row(page, ids["filter-alpha"])).to_be_visible()
    expect(row(page, ids["filter-beta"])).to_be_hidden()
    expect(page.locator("tbody tr:visible")).to_have_count(1)
    assert "q=alpha" in page.url  # the filter is part of the address
    page.get_by_label("Name").fill("filter-")
    page.get_by_label("Status").select_option("completed")
    expect(page.locator("tbody tr:visible")).to_have_count(2)
    page.get_by_label("Status").select_option("failed")
    expect(page.locator(".empty", has_text="No runs match this filter")).to_be_visible()
    page.get_by_role("button", name="Clear the filter").click()
    expect(row(page, ids["filter-beta"])).to_be_visible()
    assert page.get_by_label("Name").input_value() == ""


def test_failed_run_shows_its_reason(page, api) -> None:
    body = {"name": "no-such-folder",
            "config": {"data": {"name": "image_folder", "root": "/nonexistent/ganscope-images"},
                       "model": {"arch": "dcgan"}, "train": {"steps": 5}}}
    run_id = create_run(api, body)
    page.goto("/")
    tr = row(page, run_id)
    expect(tr.locator(".status")).to_have_text("failed", timeout=SLOW)
    expect(tr.locator(".reason")).to_contain_text("/nonexistent/ganscope-images")
    assert api.get(f"/api/runs/{run_id}").json()["error"] in tr.locator(".reason").inner_text()
    shot(page, "runs_failed")


def test_delete_asks_first(page, api) -> None:
    run_id = create_run(api, {**tiny(), "name": "to-delete"})
    wait_status(api, run_id, "completed", timeout=SLOW / 1000)
    page.goto("/")
    delete = row(page, run_id).get_by_role("button", name="Delete to-delete")
    delete.click()
    dialog = page.get_by_role("dialog")
    expect(dialog).to_contain_text("Delete to-delete?")
    dialog.get_by_role("button", name="Cancel").click()
    expect(dialog).to_have_count(0)
    expect(row(page, run_id)).to_be_visible()
    assert api.get(f"/api/runs/{run_id}").status_code == 200
    delete.click()
    page.get_by_role("dialog").get_by_role("button", name="Delete").click()
    expect(row(page, run_id)).to_have_count(0)
    assert api.get(f"/api/runs/{run_id}").status_code == 404


def test_a_running_run_offers_no_resume_and_is_stopped_by_delete(page, api) -> None:
    run_id = create_run(api, {**tiny(**{"train.steps": 1_000_000}), "name": "long-runner"})
    wait_status(api, run_id, "running", timeout=SLOW / 1000)
    page.goto("/")
    tr = row(page, run_id)
    expect(tr.locator(".status")).to_have_text("running")
    expect(tr.locator(".progress-text")).not_to_have_text(re.compile(r"^0 /"))  # progress arrives
    expect(tr.get_by_role("button", name="Resume long-runner")).to_be_hidden()
    tr.get_by_role("button", name="Delete long-runner").click()
    dialog = page.get_by_role("dialog")
    expect(dialog).to_contain_text("it is stopped first")
    dialog.get_by_role("button", name="Delete").click()
    expect(tr).to_have_count(0)
    assert api.get(f"/api/runs/{run_id}").status_code == 404


def test_continue_a_completed_run(page, api) -> None:
    run_id = create_run(api, {**tiny(), "name": "to-continue"})
    wait_status(api, run_id, "completed", timeout=SLOW / 1000)
    page.goto("/")
    row(page, run_id).get_by_role("button", name="Continue to-continue").click()
    dialog = page.get_by_role("dialog")
    dialog.get_by_label("Train up to step").fill("400")
    dialog.get_by_role("button", name="Continue").click()
    tr = row(page, run_id)
    expect(tr.locator(".progress-text")).to_have_text(re.compile(r"/ 400$"))
    expect(tr.locator(".status")).to_have_text("completed", timeout=SLOW)
    expect(tr.locator(".progress-text")).to_have_text("400 / 400")
    assert api.get(f"/api/runs/{run_id}").json()["step"] == 400


def test_select_runs_to_compare(page, api) -> None:
    first = create_run(api, {**tiny(), "name": "pick-1"})
    second = create_run(api, {**tiny(), "name": "pick-2"})
    page.goto("/")
    compare = page.get_by_role("button", name=re.compile("Compare selected"))
    page.get_by_label("Select pick-1 to compare").check()
    expect(compare).to_be_disabled()  # one run is not a comparison
    page.get_by_label("Select pick-2 to compare").check()
    expect(compare).to_be_enabled()
    compare.click()
    page.wait_for_url(re.compile(r"/compare\?ids="))
    assert set(page.url.split("ids=")[1].split(",")) == {first, second}
    for run_id in (first, second):  # don't leave them training for the next module
        wait_status(api, run_id, "completed", timeout=SLOW / 1000)


def test_unreachable_server_is_explained(page, tmp_path: Path) -> None:
    page.allowed_errors = ("WebSocket connection", "ERR_CONNECTION_REFUSED")
    own = Server(tmp_path / "gone").start()
    try:
        page.goto(own.url + "/")
        expect(page.locator(".empty", has_text="No runs yet")).to_be_visible()
    finally:
        own.stop()
    banner = page.locator("#banner")
    expect(banner).to_contain_text("connection to the GANscope server", timeout=30_000)
    expect(page.locator("#connection")).to_have_text("reconnecting…")
    shot(page, "runs_unreachable")

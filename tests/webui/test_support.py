"""The support-size page in a browser: draw, judge the flagged pairs (by mouse and keyboard),
and watch the estimate follow the verdicts."""

from __future__ import annotations

from typing import Any

from tests.webui.conftest import shot


def test_draw_judge_and_read_the_estimate(page: Any, image_run: str) -> None:
    page.set_default_timeout(90_000)  # the first draw starts the image service
    page.goto(f"/support?run={image_run}&step=4")
    estimate = page.locator("#estimate")
    estimate.get_by_text("No draw judged yet").wait_for()
    assert page.locator("#step").input_value() == "4"

    page.fill("#s", "30")
    page.fill("#top", "4")
    page.click("#draw")
    pairs = page.locator("#pairs .pair")
    pairs.nth(3).wait_for()
    assert pairs.count() == 4
    assert "s = 30" in page.locator("#draw-title").inner_text()
    assert "mnist" in page.locator("#draw-title").inner_text()
    assert pairs.first.locator("img").first.get_attribute("src").startswith("data:image/png")

    # reject every pair: no duplicates up to s = 30
    for i in range(4):
        pairs.nth(i).get_by_role("button", name="Different").click()
        page.wait_for_function(f"document.querySelectorAll('#pairs .pair')[{i}]"
                               ".dataset.verdict === 'false'")
    estimate.get_by_text("No duplicates confirmed up to s = 30").wait_for()
    assert "support above about 628 images" in estimate.inner_text()  # 30*29 / (2 ln 2)

    # the keyboard: focus the second pair and press s (same image)
    pairs.nth(1).focus()
    page.keyboard.press("s")
    estimate.get_by_text("Duplicates likely at s = 30").wait_for()
    assert "support about 628 images" in estimate.inner_text()
    assert pairs.nth(1).get_attribute("data-verdict") == "true"
    row = page.locator("#by-s tbody tr").first
    assert row.locator("td").all_inner_texts() == ["30", "1", "1", "1"]
    shot(page, "support")

    # verdicts persist: a reload shows the same estimate
    page.reload()
    estimate.get_by_text("Duplicates likely at s = 30").wait_for()

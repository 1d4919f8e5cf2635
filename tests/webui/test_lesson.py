"""The divergence lesson in Chromium: the slider moves Q, the charts redraw, the gradients of
the three losses are trained on the server and shown."""

from __future__ import annotations

import math
from typing import Any

from tests.webui.conftest import shot

WAIT_MS = 60_000


def gradient_rows(page: Any) -> dict[str, float]:
    rows = page.locator("#grad-table tbody tr")
    return {rows.nth(i).get_attribute("data-loss"): float(rows.nth(i).locator("td.num")
                                                            .inner_text())
            for i in range(rows.count())}


def test_the_slider_redraws_the_divergences_and_the_gradients(page: Any) -> None:
    page.goto("/lessons/divergences")
    page.get_by_role("link", name="Lessons").wait_for()
    page.wait_for_function("() => document.querySelectorAll('#grad-table tbody tr').length === 3",
                           timeout=WAIT_MS)
    js = page.evaluate("document.getElementById('chart-divs').data.find(t => t.name === 'JS')")
    w1 = page.evaluate("document.getElementById('chart-divs').data.find(t => t.name === 'W1')")
    # JS flat at log 2 far out, W1 = |theta|
    assert js["y"][0] == math.log(2) or abs(js["y"][0] - math.log(2)) < 1e-9
    assert all(abs(y - abs(x)) < 1e-3 for x, y in zip(w1["x"], w1["y"], strict=True))
    far = gradient_rows(page)  # theta = 1: D separates them
    assert abs(far["minimax"]) < 0.1 and abs(far["wgan-gp"] - 1) < 0.3
    shot(page, "lesson-divergences")

    status = page.locator("#grad-status")
    slider = page.locator("#theta")
    slider.focus()
    for _ in range(50):  # theta 1.00 -> 0.50 with the keyboard
        page.keyboard.press("ArrowLeft")
    assert page.locator("#theta-value").inner_text() == "0.50"
    marker = page.evaluate("document.getElementById('chart-divs').layout.shapes"
                           ".find(s => s.name === 'theta').x0")
    assert marker == 0.5
    assert "W1 = 0.5" in page.locator("#div-readout").inner_text()
    page.wait_for_function("() => document.getElementById('grad-status').textContent"
                           ".includes('trained at θ = 0.50')", timeout=WAIT_MS)
    assert "ms" in status.inner_text()
    d_view = page.evaluate("document.getElementById('chart-d').data[0].x")
    assert min(d_view) < 0 and max(d_view) > 0.5  # D is shown around both P and Q

    page.select_option("#sigma", "0")  # point masses: KL is infinite off the axis
    page.wait_for_function("() => document.getElementById('div-readout').textContent"
                           ".includes('KL = ∞')", timeout=WAIT_MS)

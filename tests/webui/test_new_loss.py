"""The run page reads what a loss declares: a loss registered in this test
(tests/gan_core/own_loss.py, D's output a margin) gets the margin's health check and the plain
D-output axis, with no change to the web UI. The app is served from this process, so that it
sees the loss."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from gan_core.events import Metrics
from tests.gan_core.own_loss import NAME, own_loss
from tests.server.conftest import tiny
from tests.webui.served import ServedApp, served_app


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServedApp]:
    with own_loss(), served_app(tmp_path_factory.mktemp("served")) as app:
        yield app


@pytest.fixture()
def page(served_page: Any) -> Any:
    return served_page  # the app served from this process, not a `ganscope serve`


def test_a_registered_loss_gets_its_checks_and_axes(page: Any, served: ServedApp) -> None:
    run_id = served.create_run(tiny(**{"loss.name": NAME}))
    # D past its margin on both sides with next to no loss: what the margin check alarms on
    served.play(run_id, *(Metrics(step=10 * i, values={
        "loss_d": 0.001, "loss_g": 2.0, "d_real": 2.0, "d_fake": -2.0, "grad_norm_g": 1.0})
        for i in range(1, 8)))
    page.goto(f"/runs/{run_id}")
    check = page.locator("#health-dwins")
    page.wait_for_function("() => document.querySelector('#health-dwins')?.dataset.status "
                           "=== 'alarm'")
    assert "hinge loss 0.001" in check.locator(".finding").inner_text()
    page.locator("#chart-d-outputs .scatterlayer .trace").first.wait_for(state="attached")
    axis = page.evaluate("document.getElementById('chart-d-outputs').layout.yaxis.title.text")
    assert axis == "mean output"  # not a logit: no sigmoid on this axis

"""The web UI offers and draws what the registry declares: a data set registered in this test
(tests/gan_core/own_dataset.py) is in the new-run form's menu, with its own fields, and its run
page is a 2D run's (the playground, the 2D charts), with no change to the web UI. The app is
served from this process, so that it sees the set."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from gan_core.events import Metrics
from tests.gan_core.own_dataset import NAME, own_dataset
from tests.server.conftest import tiny
from tests.webui.served import ServedApp, served_app


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServedApp]:
    with own_dataset(), served_app(tmp_path_factory.mktemp("served")) as app:
        yield app


@pytest.fixture()
def page(served_page: Any) -> Any:
    return served_page  # the app served from this process, not a `ganscope serve`


def test_the_form_offers_a_registered_data_set_with_its_fields(page: Any) -> None:
    page.goto("/runs/new")
    menu = page.locator('select[name="data.name"]')
    menu.wait_for()
    page.wait_for_function("([name]) => [...document.querySelector('select[name=\"data.name\"]')"
                           ".options].some((o) => o.value === name)", arg=[NAME])
    menu.select_option(NAME)
    length = page.locator('input[name="data.length"]')
    length.wait_for()
    assert length.input_value() == "2"


def test_its_run_page_is_a_2d_runs(page: Any, served: ServedApp) -> None:
    run_id = served.create_run(tiny(**{"data": {"name": NAME}}))
    served.play(run_id, *(Metrics(step=step, values={"loss_d": 1.0, "loss_g": 0.5,
                                                     "w1_exact": 0.1})
                          for step in (10, 20)))
    page.goto(f"/runs/{run_id}")
    page.locator("#chart-losses .scatterlayer .trace").first.wait_for(state="attached")
    assert page.locator("#chart-wasserstein").locator("xpath=..").inner_text().startswith(
        "Critic's Wasserstein estimate vs exact W1")  # the chart's 2D variant
    assert page.locator("#playground #playground-plot").count() == 1
    assert page.locator("#samples").count() == 0

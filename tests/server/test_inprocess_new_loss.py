"""Adding a loss touches gan_core/losses.py alone: a loss registered here, in the test, is in the
config's schema, the registry's answer (with what D's output means, which the run page's charts
and health checks read), the API's validation, and trains like the built-in ones.
tests/webui/test_new_loss.py sees it on the run page."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from gan_core.config import RunConfig
from tests.gan_core.own_loss import NAME, own_loss
from tests.server.conftest import tiny
from tests.server.inprocess import InProcessApp, in_process_app


@pytest.fixture
def squared_hinge() -> Iterator[str]:
    with own_loss() as name:
        yield name


@pytest.fixture
def app(tmp_path: Path) -> Iterator[InProcessApp]:
    with in_process_app(tmp_path) as app:
        yield app


def test_a_loss_registered_in_one_place_is_everywhere(squared_hinge: str,
                                                      app: InProcessApp) -> None:
    schema = app.client.get("/api/config/schema").json()
    assert squared_hinge in schema["$defs"]["LossConfig"]["properties"]["name"]["enum"]
    losses = {x["name"]: x for x in app.client.get("/api/registry").json()["losses"]}
    assert losses[squared_hinge]["d_output"] == "margin"
    body = tiny(**{"loss.name": squared_hinge, "train.steps": 20})
    run_id = app.create_run(body)
    app.train(run_id)
    run = app.client.get(f"/api/runs/{run_id}").json()
    assert run["status"] == "completed" and run["loss"] == squared_hinge


def test_an_unregistered_loss_is_a_422_naming_the_field_and_the_choices(
        app: InProcessApp) -> None:
    r = app.client.post("/api/runs", json=tiny(**{"loss.name": NAME}))
    assert r.status_code == 422
    detail = r.json()["detail"][0]
    assert detail["loc"][-2:] == ["loss", "name"] and "nonsaturating" in detail["msg"]
    with pytest.raises(ValueError, match="allowed: 'minimax'"):
        RunConfig.model_validate({"name": "x", "loss": {"name": NAME}})

"""The new-run page: a form generated from the config schema, presets, launching, 422s."""

from __future__ import annotations

import re

import httpx

from tests.webui.conftest import shot

RUN_URL = re.compile(r"/runs/[0-9a-f]{12}$")


def field(page, path: str):
    """The input of a config field, by its dotted path."""
    return page.locator(f'[name="{path}"]')


def wait_for_focus(page, path: str) -> None:
    page.wait_for_function("p => document.activeElement && document.activeElement.name === p",
                           arg=path)


def open_form(page, preset: str = "ring8-gan") -> None:
    page.goto("/runs/new")
    page.get_by_label("Start from").select_option(preset)
    field(page, "train.steps").wait_for()


def test_form_is_generated_from_the_schema(page, live_server) -> None:
    schema = httpx.get(live_server.url + "/api/config/schema", timeout=30).json()
    open_form(page)
    # one fieldset per section, with the schema's descriptions and bounds next to the fields
    for section in ("data", "model", "loss", "regularization", "optim", "train"):
        legend = page.locator("fieldset.section > legend", has_text=re.compile(f"^{section}$"))
        assert legend.count() == 1
    steps = schema["$defs"]["ScheduleConfig"]["properties"]["steps"]
    hint = page.locator("#f-train-steps-hint")
    assert steps["description"] in hint.inner_text()
    assert f"{steps['minimum']} ≤ value ≤ {steps['maximum']}" in hint.inner_text()
    assert field(page, "train.steps").get_attribute("type") == "number"
    # enums are selects, booleans checkboxes, nullable numbers may stay empty
    assert field(page, "loss.name").evaluate("n => n.tagName") == "SELECT"
    assert field(page, "model.spectral_norm_d").get_attribute("type") == "checkbox"
    assert field(page, "regularization.gradient_penalty").input_value() == ""
    # the preset filled the form: ring8-gan's values are shown
    assert field(page, "model.width").input_value() == "128"
    assert field(page, "optim.ema_decay").input_value() == "0.99"
    shot(page, "new_run_form")
    # another preset fills in its own values; a discriminated union swaps its fields
    page.get_by_label("Start from").select_option("mnist-dcgan")
    assert field(page, "data.name").input_value() == "mnist5k"
    assert field(page, "model.arch").input_value() == "dcgan"
    assert field(page, "model.g_channels").input_value() == "32"
    assert field(page, "model.width").count() == 0
    field(page, "data.name").select_option("grid")
    assert field(page, "data.side").input_value() == "5"
    assert field(page, "data.image_size").count() == 0
    shot(page, "new_run_mnist_preset")


def test_launch_a_preset_made_tiny(page, live_server) -> None:
    open_form(page, "ring8-gan")
    field(page, "name").fill("tiny ring from the form")
    field(page, "train.steps").fill("200")
    field(page, "model.width").fill("16")
    field(page, "model.depth").fill("2")
    field(page, "train.checkpoint_every").fill("100")
    page.get_by_role("button", name="Launch run").click()
    page.wait_for_url(RUN_URL, wait_until="commit", timeout=60_000)
    run_id = page.url.rsplit("/", 1)[1]
    run = httpx.get(f"{live_server.url}/api/runs/{run_id}", timeout=30).json()
    assert run["name"] == "tiny ring from the form"
    assert run["preset"] == "ring8-gan"
    assert run["total_steps"] == 200
    config = run["config"]
    assert config["train"]["steps"] == 200
    assert config["model"]["width"] == 16
    assert config["model"]["depth"] == 2
    # everything else is the preset's, exactly as the form showed it
    assert config["optim"]["ema_decay"] == 0.99
    assert config["optim"]["g"]["lr"] == 0.0005
    assert config["train"]["batch_size"] == 256


def test_a_list_of_choices_is_a_set_of_checkboxes(page, live_server) -> None:
    """eval.metrics (a list from a fixed set) gets one checkbox per choice, its default ticked."""
    open_form(page, "digits-dcgan")
    boxes = page.locator('input[type=checkbox][name="eval.metrics"]')
    assert boxes.count() == 4
    assert page.locator('input[name="eval.metrics"][value="fid"]').is_checked()
    page.locator('input[name="eval.metrics"][value="kid"]').check()
    field(page, "eval.every").fill("50")
    field(page, "train.steps").fill("2")
    page.get_by_role("button", name="Launch run").click()
    page.wait_for_url(RUN_URL, wait_until="commit", timeout=60_000)
    run_id = page.url.rsplit("/", 1)[1]
    config = httpx.get(f"{live_server.url}/api/runs/{run_id}", timeout=30).json()["config"]
    assert config["eval"]["metrics"] == ["fid", "kid"] and config["eval"]["every"] == 50


def test_server_rejection_is_shown_next_to_the_field(page) -> None:
    page.allowed_errors = ("status of 422",)  # Chromium logs every 4xx response
    open_form(page, "ring8-gan")
    # within the schema's bounds (the browser lets it through) but over the server's limit
    batch = field(page, "train.batch_size")
    assert int(batch.get_attribute("max")) > 2000
    batch.fill("2000")
    with page.expect_response(lambda r: r.url.endswith("/api/runs")
                              and r.request.method == "POST") as response:
        page.get_by_role("button", name="Launch run").click()
    assert response.value.status == 422
    error = page.locator("#f-train-batch_size-err")
    error.wait_for()
    assert "at most 1024" in error.inner_text()
    assert batch.get_attribute("aria-invalid") == "true"
    assert "f-train-batch_size-err" in batch.get_attribute("aria-describedby")
    wait_for_focus(page, "train.batch_size")
    assert "train.batch_size" in page.locator("#form-errors").inner_text()
    assert page.url.endswith("/runs/new?preset=ring8-gan")
    shot(page, "new_run_server_error")
    # fixing the value clears the mark
    batch.fill("128")
    batch.dispatch_event("change")
    assert batch.get_attribute("aria-invalid") is None


def test_cross_field_rule_from_the_server(page) -> None:
    # the schema allows each value; only the server's rule (not both clip and penalty) refuses
    page.allowed_errors = ("status of 422",)
    open_form(page, "ring8-wgan-gp")
    field(page, "regularization.weight_clip").fill("0.01")
    with page.expect_response(lambda r: r.url.endswith("/api/runs")
                              and r.request.method == "POST") as response:
        page.get_by_role("button", name="Launch run").click()
    assert response.value.status == 422
    error = page.locator("#f-regularization-err")
    error.wait_for()
    assert "weight_clip or gradient_penalty" in error.inner_text()


def test_client_side_bounds_stop_a_launch(page) -> None:
    open_form(page, "ring8-gan")
    field(page, "optim.g.beta1").fill("1")  # exclusive maximum
    posts = []
    page.on("request", lambda r: posts.append(r) if r.method == "POST" else None)
    page.get_by_role("button", name="Launch run").click()
    error = page.locator("#f-optim-g-beta1-err")
    error.wait_for()
    assert "less than 1" in error.inner_text()
    wait_for_focus(page, "optim.g.beta1")
    assert posts == []

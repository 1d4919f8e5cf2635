"""The run page in a real browser against a real server: live charts, the 2D playground,
controls, hyper-parameter markers, sample grids with their scrubber, reload, not found."""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import pytest

from tests.server.conftest import Server, create_run, tiny, wait_status
from tests.webui.conftest import shot

WAIT_MS = 90_000  # 2 shared cores: a worker imports torch while the browser renders

# a ring-of-8 run that would take minutes: each test stops it when done
LONG_RING = {"train.steps": 200_000}
# scikit-learn's digits at 32 px with tiny models: a grid every 10 steps from the first seconds
SMALL_IMAGES = {
    "preset": "digits-dcgan",
    "overrides": {"train.steps": 20_000, "train.batch_size": 16, "train.grid_size": 16,
                  "train.sample_every": 10, "train.report_every": 5,
                  "train.spectral_every": 20, "train.checkpoint_every": 100,
                  "model.g_channels": 8, "model.d_channels": 8, "train.num_threads": 1},
}


@pytest.fixture()
def api(live_server: Server) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=live_server.url, timeout=30) as client:
        yield client


@contextmanager
def running(api: httpx.Client, body: dict[str, Any]) -> Iterator[str]:
    """A run created through the API, stopped at the end (two job slots for the module)."""
    run_id = create_run(api, body)
    try:
        yield run_id
    finally:
        api.post(f"/api/runs/{run_id}/control", json={"action": "stop"})
        wait_status(api, run_id, "stopped", "completed", "failed", "interrupted")


def trace_lengths(page: Any, chart: str) -> list[int]:
    return page.evaluate(
        "id => { const gd = document.getElementById(id); "
        "return gd && gd.data ? gd.data.map(t => t.x.length) : []; }", f"chart-{chart}")


def wait_points(page: Any, chart: str, at_least: int) -> None:
    """Until every trace of the chart has at least ``at_least`` points."""
    page.wait_for_function(
        "([id, n]) => { const gd = document.getElementById(id); "
        "return gd && gd.data && gd.data.length > 0 && gd.data.every(t => t.x.length >= n); }",
        arg=[f"chart-{chart}", at_least], timeout=WAIT_MS)


def page_step(page: Any) -> int:
    text = page.locator("#run-step").inner_text()  # "step 1,230 / 200,000"
    return int(text.split()[1].replace(",", ""))


def test_charts_grow_and_the_playground_draws_while_a_ring8_run_streams(
        page: Any, api: httpx.Client) -> None:
    with running(api, tiny(**LONG_RING)) as run_id:
        page.goto(f"/runs/{run_id}")
        page.locator("#run-status").filter(has_text="running").wait_for(timeout=WAIT_MS)
        wait_points(page, "losses", 3)
        # a chart off screen has none of the live points (an empty chart if it has only those)
        before = {c: min(trace_lengths(page, c), default=0)
                  for c in ("losses", "grad-norms", "d-outputs")}
        for chart, n in before.items():
            # charts off screen catch up when they come into view
            page.locator(f"#chart-{chart}").scroll_into_view_if_needed()
            wait_points(page, chart, n + 10)  # live points appended, not a page reload
        axis = page.evaluate("document.getElementById('chart-grad-norms').layout.yaxis.type")
        assert axis == "log"
        # one raw (faint) and one smoothed trace per series
        names = page.evaluate("document.getElementById('chart-losses').data.map(t => t.name)")
        assert names == ["D loss (raw)", "D loss", "G loss (raw)", "G loss"]

        # the playground: D's heat map over the plane, real and generated points, G's field
        page.wait_for_function(
            "() => { const gd = document.getElementById('playground-plot'); "
            "return gd && gd.data && gd.data.some(t => t.type === 'heatmap' && t.z.length === 64)"
            " && gd.data.some(t => t.name === 'generated' && t.x.length === 512)"
            " && gd.data.some(t => t.name === 'real' && t.x.length === 512); }", timeout=WAIT_MS)
        wait_points(page, "toy-quality", 1)  # modes captured and hq fraction, from the metrics
        page.get_by_label("G's gradient field").uncheck()
        assert page.evaluate("document.getElementById('playground-plot').data"
                             ".find(t => t.name === \"G's gradient\").visible") is False

        # a click on one chart puts the step cursor on every chart
        page.locator("#chart-losses .nsewdrag").first.click()
        page.wait_for_function(
            "() => ['losses', 'grad-norms', 'sigma'].every(id => "
            "(document.getElementById('chart-' + id).layout.shapes || [])"
            ".some(s => s.name === 'cursor'))")
        assert "Cursor at step" in page.locator(".cursor-text").inner_text()

        page.locator(".run-meta dd").filter(has_text="cpu").wait_for()  # from the start frame
        health = page.locator("#health .health-item")
        assert health.count() == 5
        assert page.locator("#health-collapse .finding").inner_text() != ""
        shot(page, "run-ring8-live")


def test_pause_step_and_resume(page: Any, api: httpx.Client) -> None:
    with running(api, tiny(**LONG_RING)) as run_id:
        page.goto(f"/runs/{run_id}")
        pause = page.locator("#control-pause")
        resume = page.locator("#control-resume")
        page.locator("#run-status").filter(has_text="running").wait_for(timeout=WAIT_MS)
        wait_points(page, "losses", 2)
        assert resume.is_disabled() and page.locator("#control-step").is_disabled()

        pause.click()
        page.locator("#run-status").filter(has_text="paused").wait_for(timeout=WAIT_MS)
        assert pause.is_disabled() and resume.is_enabled()
        step = page_step(page)
        page.wait_for_timeout(1500)  # a paused run must not move: nothing to wait for
        assert page_step(page) == step
        assert api.get(f"/api/runs/{run_id}").json()["step"] == step

        page.locator("#control-step").click()  # exactly one step, then paused again
        page.wait_for_function(f"() => document.getElementById('run-step').textContent"
                               f".startsWith('step {step + 1:,} ')", timeout=WAIT_MS)
        assert page.locator("#run-status").inner_text() == "paused"

        resume.click()
        page.locator("#run-status").filter(has_text="running").wait_for(timeout=WAIT_MS)
        page.wait_for_function(
            f"() => Number(document.getElementById('run-step').textContent.split(' ')[1]"
            f".replaceAll(',', '')) > {step + 50}", timeout=WAIT_MS)
        statuses = [e["status"] for e in api.get(f"/api/runs/{run_id}/events").json()
                    if e["type"] == "status"]
        assert statuses[-3:] == ["running", "paused", "running"]
        shot(page, "run-resumed")


def test_changing_lr_marks_the_step_on_the_charts(page: Any, api: httpx.Client) -> None:
    with running(api, tiny(**LONG_RING)) as run_id:
        page.goto(f"/runs/{run_id}")
        page.locator("#run-status").filter(has_text="running").wait_for(timeout=WAIT_MS)
        wait_points(page, "losses", 2)
        page.locator("#hp-lr_g").fill("0.0001")
        page.locator("#hp-n_critic").fill("2")
        page.locator("#hp-apply").click()
        page.wait_for_function(
            "() => ['losses', 'grad-norms'].every(id => { const l = "
            "document.getElementById('chart-' + id).layout; "
            "return (l.shapes || []).some(s => s.name === 'hyperparams' && s.line.dash === 'dash')"
            " && (l.annotations || []).some(a => a.text.includes('lr_g=0.0001')); })",
            timeout=WAIT_MS)
        changes = [e for e in api.get(f"/api/runs/{run_id}/events").json()
                   if e["type"] == "hyperparams"]
        assert len(changes) == 1 and changes[0]["changes"] == {"lr_g": 0.0001, "n_critic": 2}
        marker_step = page.evaluate("document.getElementById('chart-losses').layout.shapes"
                                    ".find(s => s.name === 'hyperparams').x0")
        assert marker_step == changes[0]["step"]
        assert "dashed line" in page.locator("#control-message").inner_text()
        shot(page, "run-lr-changed")


def test_an_image_run_shows_its_grids_live_with_a_scrubber(page: Any, api: httpx.Client) -> None:
    with running(api, SMALL_IMAGES) as run_id:
        page.goto(f"/runs/{run_id}")
        scrubber = page.locator("#grid-scrubber")
        image = page.locator("#samples img.grid-image")
        page.wait_for_function("() => Number(document.getElementById('grid-scrubber')?.max) >= 1",
                               timeout=WAIT_MS)
        first_max = int(scrubber.get_attribute("max"))
        first_src = image.get_attribute("src")
        # new grids arrive: the scrubber's range grows and the shown grid follows the newest
        page.wait_for_function(
            f"() => Number(document.getElementById('grid-scrubber')?.max) >= {first_max + 3}",
            timeout=WAIT_MS)
        page.wait_for_function(f"() => document.querySelector('#samples img').getAttribute('src')"
                               f" !== {first_src!r}")
        # one condition: a newer grid may replace the src between two separate checks, and
        # Chromium reports no size while the replacement loads
        page.wait_for_function("() => { const img = document.querySelector('#samples img');"
                               " return img.complete && img.naturalWidth > 0; }",
                               timeout=WAIT_MS)

        scrubber.focus()  # keyboard: Home goes to the first grid, arrows step through them
        page.keyboard.press("Home")
        assert image.get_attribute("src").endswith("/samples/10.png")
        assert "grid 1 of" in page.locator("#samples figcaption").inner_text()
        page.keyboard.press("ArrowRight")
        assert image.get_attribute("src").endswith("/samples/20.png")
        href = page.locator("#gif-link").get_attribute("href")
        assert href == f"/api/runs/{run_id}/samples.gif?fps=4"
        # the health panel measured the grid's diversity
        page.locator("#health-collapse .finding").filter(has_text="grid diversity").wait_for(
            timeout=WAIT_MS)
        shot(page, "run-image-grid")
    grids = api.get(f"/api/runs/{run_id}/samples").json()["grids"]
    page.reload()
    page.locator("#run-status").filter(has_text="stopped").wait_for(timeout=WAIT_MS)
    page.wait_for_function(f"() => Number(document.getElementById('grid-scrubber')?.max) "
                           f"=== {len(grids) - 1}", timeout=WAIT_MS)


def test_reload_mid_run_keeps_the_history(page: Any, api: httpx.Client) -> None:
    with running(api, tiny(**LONG_RING)) as run_id:
        page.goto(f"/runs/{run_id}")
        wait_points(page, "losses", 30)
        page.locator("#checkpoints tbody tr").first.wait_for(timeout=WAIT_MS)
        first_step = page.evaluate("document.getElementById('chart-losses').data[0].x[0]")
        seen = min(trace_lengths(page, "losses"))
        checkpoints = page.locator("#checkpoints tbody tr").count()
        page.reload()
        wait_points(page, "losses", seen)  # the history holds what the page had
        assert page.evaluate("document.getElementById('chart-losses').data[0].x[0]") == first_step
        assert page.locator("#checkpoints tbody tr").count() >= checkpoints
        wait_points(page, "losses", seen + 10)  # and live points follow it
        assert page.locator("#connection").inner_text() == "● live"
        link = page.locator("#checkpoints tbody a").first.get_attribute("href")
        assert api.get(link).status_code == 200


def test_a_reconnect_and_a_gap_lose_no_step(page: Any, api: httpx.Client) -> None:
    with running(api, tiny(**LONG_RING)) as run_id:
        page.goto(f"/runs/{run_id}")
        wait_points(page, "losses", 10)
        # the connection drops: the page says so, reconnects with ?after_seq= and goes on
        page.evaluate("window.ganscopeRunPage.stream.ws.close()")
        page.locator("#connection").filter(has_text="reconnecting").wait_for()
        page.locator("#connection").filter(has_text="live").wait_for(timeout=WAIT_MS)
        seen = min(trace_lengths(page, "losses"))
        wait_points(page, "losses", seen + 10)
    # the run is stopped: every stored report is on the chart once, in step order
    stored = api.get(f"/api/runs/{run_id}/metrics", params={"keys": "loss_d"}).json()
    steps = stored["series"]["loss_d"]["step"]
    page.wait_for_function(f"() => document.getElementById('chart-losses').data[0].x.length"
                           f" === {len(steps)}", timeout=WAIT_MS)
    assert page.evaluate("document.getElementById('chart-losses').data[0].x") == steps

    # a gap notice (frames dropped for a slow client): the page reads the steps it lacks
    kept = page.evaluate("""() => { const p = window.ganscopeRunPage;
        p.store.truncateAfter(p.store.lastStep - 100);
        const kept = p.store.get('loss_d').steps.length;
        p.onFrame({type: 'gap', from_seq: 1, to_seq: 2, frames: 2});
        return kept; }""")
    assert kept < len(steps)
    page.wait_for_function(f"() => window.ganscopeRunPage.store.get('loss_d').steps.length"
                           f" === {len(steps)}", timeout=WAIT_MS)
    page.wait_for_function(f"() => document.getElementById('chart-losses').data[0].x.length"
                           f" === {len(steps)}", timeout=WAIT_MS)
    assert page.evaluate("document.getElementById('chart-losses').data[0].x") == steps


def test_a_failed_run_shows_why(page: Any, api: httpx.Client, live_server: Server) -> None:
    with running(api, tiny(**LONG_RING)) as run_id:
        page.goto(f"/runs/{run_id}")
        wait_points(page, "losses", 2)
        os.kill(live_server.worker_pids()[run_id], signal.SIGKILL)
        page.locator("#run-status").filter(has_text="failed").wait_for(timeout=WAIT_MS)
        error = page.locator("#run-error")
        error.wait_for()
        assert error.inner_text().startswith("Error: ") and "SIGKILL" in error.inner_text()
        # a failed run resumes from its last checkpoint; nothing else applies
        assert page.locator("#control-resume").is_enabled()
        for action in ("pause", "step", "stop"):
            assert page.locator(f"#control-{action}").is_disabled()
        assert page.locator("#hp-apply").is_disabled()
        shot(page, "run-failed")


def test_a_run_that_does_not_exist_says_so(page: Any) -> None:
    page.goto("/runs/000000000000")
    page.get_by_role("heading", name="Run not found").wait_for()
    assert "000000000000" in page.locator("#run-not-found").inner_text()
    shot(page, "run-not-found")


def test_smoothing_is_tensorboards_debiased_moving_average(page: Any) -> None:
    page.goto("/runs/000000000000")
    page.get_by_role("heading", name="Run not found").wait_for()
    values = [3.0, 1.0, 4.0, 1.0, 5.0, 9.0, 2.0, 6.0]
    smoothed = page.evaluate(
        "async (values) => (await import('/static/js/run_charts.js')).smooth(values, 0.6)", values)
    expected, ema = [], 0.0
    for t, x in enumerate(values, start=1):
        ema = 0.6 * ema + 0.4 * x
        expected.append(ema / (1 - 0.6 ** t))
    assert smoothed == pytest.approx(expected)
    assert smoothed[0] == pytest.approx(values[0])  # debiased: not pulled toward 0
    # a live series that grew too long is decimated keeping the first, last and extremes
    steps, kept = page.evaluate(
        "async () => { const m = await import('/static/js/run_charts.js'); "
        "const v = Array.from({length: 1000}, (_, i) => Math.sin(i / 10)); v[500] = 7; v[700] = -7;"
        " return m.decimate(v.map((_, i) => i), v, 100); }")
    assert len(kept) <= 100 and steps[0] == 0 and steps[-1] == 999
    assert 7 in kept and -7 in kept and steps == sorted(steps)


def test_the_losses_show_before_plotly_is_ready(page: Any, live_server: Server) -> None:
    """A first visit compiles 4.6 MB of plotly.js: meanwhile the history is drawn as a still
    picture, which the interactive charts then replace."""
    with httpx.Client(base_url=live_server.url, timeout=60) as api:
        run_id = create_run(api, tiny())
        wait_status(api, run_id, "completed")
    held: list[Any] = []
    page.route("**/static/vendor/plotly.min.js", lambda route: held.append(route))
    page.goto(f"/runs/{run_id}", wait_until="domcontentloaded")  # "load" waits for plotly.js
    preview = page.locator("#preview svg.preview-chart")
    preview.wait_for()
    assert preview.locator("polyline").count() == 2  # D and G losses
    assert page.evaluate("typeof window.Plotly") == "undefined"
    for route in held:
        route.continue_()
    page.locator("#chart-losses .scatterlayer .trace").first.wait_for()
    assert page.locator("#preview").count() == 0


# -- live drawing: batched rounds, nothing drawn hidden or off screen ------------------------------

# Counts the Plotly calls per chart from now on (the page calls the global Plotly at each draw).
COUNT_PLOTLY_CALLS = """() => {
  const counts = window.plotlyCalls = {};
  for (const name of ["newPlot", "react", "extendTraces", "relayout", "restyle", "update",
    "redraw"]) {
    const fn = Plotly[name];
    Plotly[name] = function (gd, ...rest) {
      const id = typeof gd === "string" ? gd : gd.id;
      counts[id] = (counts[id] || 0) + 1;
      return fn.call(this, gd, ...rest);
    };
  }
}"""

# `count` live reports after the page's last step, handed to the page as its stream does,
# `per_tick` of them every 10 ms; returns the steps sent and the seconds it took.
SEND_REPORTS = """async ([count, perTick]) => {
  const page = window.ganscopeRunPage;
  const steps = [];
  let step = page.store.lastStep;
  const t0 = performance.now();
  while (steps.length < count) {
    for (let i = 0; i < perTick && steps.length < count; i++) {
      step += 1;
      steps.push(step);
      const x = Math.sin(step / 50);
      page.stream.onFrame({ type: "metrics", step, steps: 1, values: {
        loss_d: 1 + x, loss_g: 2 - x, d_real: 0.5 + x, d_fake: -0.5 - x,
        grad_norm_d: 2 + x, grad_norm_g: 3 + x, images_per_s: 1000 + 10 * x } });
    }
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  return { steps, seconds: (performance.now() - t0) / 1000 };
}"""

# The (chart, series) pairs of the charts given that lack some of `steps` in their Plotly data.
MISSING_STEPS = """([ids, steps]) => {
  const lacking = [];
  for (const c of window.ganscopeRunPage.charts.charts) {
    if (!ids.includes(c.spec.id)) continue;
    c.traces.forEach((t, i) => {
      const have = new Set(c.div.data && c.div.data[i] ? c.div.data[i].x : []);
      if (steps.some((s) => !have.has(s))) lacking.push(`${c.spec.id}/${t.name}`);
    });
  }
  return lacking;
}"""

FED_CHARTS = ["losses", "d-outputs", "grad-norms", "throughput"]  # the series SEND_REPORTS sends


@pytest.fixture(scope="module")
def completed_run(live_server: Server) -> str:
    """A finished ring-of-8 run: its page gets no live frames but those a test sends."""
    with httpx.Client(base_url=live_server.url, timeout=60) as api:
        run_id = create_run(api, tiny())
        wait_status(api, run_id, "completed")
    return run_id


def open_charts(page: Any, run_id: str, *, height: int = 2000) -> None:
    """The run's page, tall enough by default that every chart is on screen."""
    page.set_viewport_size({"width": 1400, "height": height})
    page.goto(f"/runs/{run_id}")
    page.locator("#run-status").filter(has_text="completed").wait_for(timeout=WAIT_MS)
    for chart in FED_CHARTS:
        wait_points(page, chart, 2)
    page.evaluate(COUNT_PLOTLY_CALLS)


def wait_drawn(page: Any, charts: list[str], steps: list[int]) -> None:
    page.wait_for_function(f"(arg) => ({MISSING_STEPS})(arg).length === 0", arg=[charts, steps],
                           timeout=WAIT_MS)


def test_a_burst_of_reports_reaches_every_chart_in_a_few_redraws(
        page: Any, completed_run: str) -> None:
    open_charts(page, completed_run)
    # 1,500 reports in about a second and a half: one Plotly update each would be 1,500 per chart
    sent = page.evaluate(SEND_REPORTS, [1500, 10])
    wait_drawn(page, FED_CHARTS, sent["steps"])
    calls = page.evaluate("window.plotlyCalls")
    bound = 4 * sent["seconds"] + 3  # a round at most every 250 ms, and the rounds after it
    for chart in FED_CHARTS:
        assert 1 <= calls.get(f"chart-{chart}", 0) <= bound, (chart, calls, sent["seconds"])
    last = sent["steps"][-1]  # the step counter follows in the same rounds
    page.wait_for_function(f"() => document.getElementById('run-step').textContent"
                           f".startsWith('step {last:,} ')", timeout=WAIT_MS)


def test_a_chart_off_screen_is_not_drawn_and_catches_up_when_shown(
        page: Any, completed_run: str) -> None:
    open_charts(page, completed_run, height=400)
    page.locator("#chart-throughput").scroll_into_view_if_needed()
    page.wait_for_function("() => { const c = window.ganscopeRunPage.charts.charts;"
                           " return !c.find((x) => x.spec.id === 'losses').visible"
                           " && c.find((x) => x.spec.id === 'throughput').visible; }")
    calls = page.evaluate("window.plotlyCalls['chart-losses'] || 0")
    sent = page.evaluate(SEND_REPORTS, [200, 20])
    wait_drawn(page, ["throughput"], sent["steps"])  # rounds were drawn meanwhile...
    assert page.evaluate(MISSING_STEPS, [["losses"], sent["steps"]])  # ...but not off screen
    assert page.evaluate("window.plotlyCalls['chart-losses'] || 0") == calls
    page.locator("#chart-losses").scroll_into_view_if_needed()
    wait_drawn(page, ["losses"], sent["steps"])


def test_a_hidden_tab_draws_nothing_and_catches_up_when_shown(
        page: Any, completed_run: str) -> None:
    open_charts(page, completed_run)
    page.evaluate("""(hidden) => {
      Object.defineProperty(document, "hidden", { configurable: true, get: () => hidden });
      Object.defineProperty(document, "visibilityState", { configurable: true,
        get: () => (hidden ? "hidden" : "visible") });
      document.dispatchEvent(new Event("visibilitychange"));
    }""", True)
    calls = page.evaluate("window.plotlyCalls")
    sent = page.evaluate(SEND_REPORTS, [300, 30])
    last = page.evaluate("window.ganscopeRunPage.store.get('loss_d').steps.at(-1)")
    assert last == sent["steps"][-1]  # the page took every report in
    # the work waits in the scheduler, and no frame or timer is planned to do it
    assert page.evaluate("""async () => {
      const r = window.ganscopeRunPage.redraw;
      await new Promise((resolve) => requestAnimationFrame(() => requestAnimationFrame(resolve)));
      return r.jobs.size > 0 && r.timer === null && r.frame === null; }""")
    assert page.evaluate("window.plotlyCalls") == calls
    assert page.evaluate(MISSING_STEPS, [FED_CHARTS, sent["steps"]])
    page.evaluate("""() => {
      delete document.hidden;
      delete document.visibilityState;
      document.dispatchEvent(new Event("visibilitychange"));
    }""")
    wait_drawn(page, FED_CHARTS, sent["steps"])


# A scheduler of the page's own (redraw.js) in the page: `plan` is [[ms after the start, key,
# urgent, ms of work]]; returns when each job was requested and the start of the round that ran
# it (ms after the start), and the scheduler's hold once every job ran.
SCHEDULE = """async ([hold, plan]) => {
  const { RedrawScheduler } = await import("/static/js/redraw.js");
  const s = new RedrawScheduler();
  s.hold = hold;
  const t0 = performance.now();
  const requested = {};
  const round = {};
  for (const [at, key, urgent, work] of plan) {
    await new Promise((resolve) => setTimeout(resolve, at - (performance.now() - t0)));
    requested[key] = performance.now() - t0;
    s.request(key, () => {
      round[key] = s.roundStart - t0;
      const until = performance.now() + work;
      while (performance.now() < until);  // a costly chart
    }, { urgent });
  }
  const deadline = performance.now() + 30000;
  while (Object.keys(round).length < plan.length && performance.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  return { requested, round, hold: s.hold };
}"""


def test_while_rounds_are_costly_a_report_waits_for_the_next_ones(
        page: Any, completed_run: str) -> None:
    page.goto(f"/runs/{completed_run}")
    # the page has learnt that a round costs ~50 ms: a change is held 1 s for others to join it
    out = page.evaluate(SCHEDULE, [1000, [[0, "a", False, 0], [400, "b", False, 0]]])
    assert out["round"]["a"] == out["round"]["b"], out  # one round drew both
    assert out["round"]["a"] >= out["requested"]["a"] + 999, out


def test_what_the_user_asked_for_is_not_held(page: Any, completed_run: str) -> None:
    page.goto(f"/runs/{completed_run}")
    # a chart scrolled to (or a control moved) starts its round at once, with what waited
    out = page.evaluate(SCHEDULE, [20_000, [[0, "a", False, 0], [100, "shown", True, 0]]])
    assert out["round"]["shown"] == out["round"]["a"], out
    assert out["round"]["shown"] < out["requested"]["shown"] + 5_000, out


def test_the_hold_follows_what_a_round_costs(page: Any, completed_run: str) -> None:
    page.goto(f"/runs/{completed_run}")
    # a round of 20 ms of script holds the next change 400 ms (5% of a core for the drawing)...
    out = page.evaluate(SCHEDULE, [0, [[0, "a", False, 20]]])
    assert 400 <= out["hold"] <= 750, out
    # ...and however costly, a change waits at most 750 ms: it reaches the charts within 1 s
    out = page.evaluate(SCHEDULE, [0, [[0, "a", False, 60]]])
    assert out["hold"] == 750, out

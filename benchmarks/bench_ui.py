"""Time the run page in a real browser: (a) first chart paint of a 100,000-step run, (b) the
frame rate while a run streams metrics every step, (c) training alone vs watched by the page.

(a) A run folder of 100,000 steps is written without training (config.json, stats.jsonl with
    10,000 report rows at report_every 10, spectral norms every 100 steps, a few grids),
    added with ``ganscope import``, and served by ``ganscope serve``. The figure is the time
    from navigation start to the first chart drawn with data and painted, over ``--loads``
    fresh page loads; target under 1 s. That chart is the still SVG preview of the losses
    (``ganscope:first-preview``) when the history arrives before plotly.js is ready (a first
    visit), else the interactive Plotly chart (``ganscope:first-chart``, printed too).
    Separately: the server's history message for that run (the WebSocket's first
    message, the page's ``max_points``), timed from connect to receipt, the first read (cold
    cache) and the median of the next ones.
(b) A real ``ring8-gan`` run reporting every step streams to the page; the browser counts
    ``requestAnimationFrame`` callbacks for ``--seconds`` (frames per second) while the charts
    grow, and again with the run paused (the baseline on this machine).
(c) What a browser on the same machine costs training: ``--rounds`` ``mnist-dcgan`` runs on a
    server with its default threads (every core for the one job). Each run is cut into windows
    of ``--window`` seconds, alternately alone (no page open) and watched by the run page in
    Chromium, ``--pairs`` watched windows a run, each between two alone ones; a watched
    window's ratio is the mean of its two neighbours' median step time over its own (the
    ``step_time`` reports of the steps inside each window). Alternating within one run gives
    both sides the same machine: on a shared host the speed drifts by 10-15% over minutes,
    which separate runs alone and watched would take for the page's cost. Each visit's load
    (plotly.js compiles) is given a few seconds before its window and not counted: it is paid
    once a visit. Printed: the ratio alone/watched (target >= 0.90) by the median step and by
    the mean step (every step counted: a page that drew in rare long bursts would leave the
    median alone and still slow the run), the CPU Chromium used in the watched windows, and
    that the page stayed live: when each report arrived over the WebSocket and when its step
    first appeared in the loss chart's Plotly data (target: within 1 s), the Plotly calls per
    chart per second, and that every stored report is in every chart at the end of each
    window (after scrolling each into view: charts off screen are not drawn).
    ``--js-dir`` adds watched windows, in turn with the others, with the page's modules from
    another folder (a copy of ``webui/static/js`` from another version), for a before/after
    in one run.

It is a report, not a test: it exits 0 whatever the figures, 1 on an error.

    .venv/bin/python benchmarks/bench_ui.py --phases ab  # about 2 minutes on 2 CPU cores
    .venv/bin/python benchmarks/bench_ui.py --phases c   # about 10 minutes on 2 idle cores
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import math
import os
import random
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

HISTORY_POINTS = 1500  # the page's max_points (webui/static/js/run.js)
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run",
                 "--disable-dev-shm-usage"]
LAYERS = ("main.conv1", "main.conv2", "main.conv3", "final_conv")


# -- (a) a 100,000-step run folder, written without training -------------------------------------

def write_run_folder(folder: Path, *, steps: int, report_every: int, grids: int) -> None:
    from PIL import Image

    from gan_core.presets import preset_config

    config = preset_config("digits-dcgan")
    config.train.steps = steps
    config.train.report_every = report_every
    (folder / "samples").mkdir(parents=True)
    (folder / "config.json").write_text(config.to_json())
    rng = random.Random(0)
    with (folder / "stats.jsonl").open("w") as out:
        for step in range(report_every, steps + 1, report_every):
            t = step / steps
            d_real, d_fake = 2 + rng.gauss(0, 0.3), -2 + rng.gauss(0, 0.3)
            row = {"step": step, "loss_d": 0.5 + 0.3 * math.exp(-5 * t) + rng.gauss(0, 0.05),
                   "d_real": d_real, "d_fake": d_fake, "w_estimate": d_real - d_fake,
                   "loss_g": 2.5 + rng.gauss(0, 0.3), "grad_norm_d": 5 * rng.lognormvariate(0, 0.3),
                   "grad_norm_g": 10 * rng.lognormvariate(0, 0.3), "step_time": 0.04,
                   "images_per_s": 1600 + rng.gauss(0, 50)}
            if step % 100 == 0:
                row.update({f"sigma/{layer}": 1 + i + t for i, layer in enumerate(LAYERS)})
            out.write(json.dumps(row) + "\n")
    with (folder / "events.jsonl").open("w") as out:
        out.write(json.dumps({"kind": "started", "step": 0, "device": "cpu"}) + "\n")
        out.write(json.dumps({"kind": "status", "step": steps, "status": "completed"}) + "\n")
    for i in range(grids):
        step = (i + 1) * steps // grids
        tiles = Image.effect_noise((8 * 30 + 2, 8 * 30 + 2), 40 + 10 * i).convert("L")
        buf = io.BytesIO()
        tiles.save(buf, "PNG")
        (folder / "samples" / f"grid_{step:09d}.png").write_bytes(buf.getvalue())


def import_run(folder: Path, data_dir: Path) -> str:
    out = subprocess.run([sys.executable, "-m", "server.cli", "import", str(folder),
                          "--data-dir", str(data_dir), "--name", "bench-100k"],
                         cwd=ROOT, check=True, capture_output=True, text=True)
    return out.stdout.split()[-1]


# -- the server ------------------------------------------------------------------------------------

class Server:
    """``ganscope serve`` with one job slot; ``cpu_threads`` None: the server's default (every
    core for the one job, as a student's laptop would run it)."""

    def __init__(self, data_dir: Path, cpu_threads: int | None = 1) -> None:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            self.port = sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        data_dir.mkdir(parents=True, exist_ok=True)
        self.log = data_dir / "server.log"
        env = {**os.environ, "GANSCOPE_MAX_JOBS": "1"}
        env.pop("GANSCOPE_CPU_THREADS", None)
        if cpu_threads is not None:
            env["GANSCOPE_CPU_THREADS"] = str(cpu_threads)
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "server.cli", "serve", "--port", str(self.port),
             "--data-dir", str(data_dir), "--log-level", "warning"],
            cwd=ROOT, env=env, stdout=self.log.open("ab"), stderr=subprocess.STDOUT,
            start_new_session=True)
        import httpx

        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"the server exited: {self.log.read_text()[-2000:]}")
            try:
                if httpx.get(self.url + "/api/health", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                time.sleep(0.2)
        raise RuntimeError("the server did not start in 60 s")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()


def history_times(server: Server, run_id: str, reads: int) -> tuple[list[float], int]:
    """Seconds from connect to the history message, per read; and its size in bytes."""
    from websockets.sync.client import connect

    url = f"ws://127.0.0.1:{server.port}/ws/runs/{run_id}?max_points={HISTORY_POINTS}"
    times, size = [], 0
    for _ in range(reads):
        start = time.perf_counter()
        with connect(url, open_timeout=30, max_size=1 << 26) as ws:
            text = ws.recv(60)
            times.append(time.perf_counter() - start)
            size = len(text)
    return times, size


# -- the browser -----------------------------------------------------------------------------------

MARKS = ("ganscope:plotly", "ganscope:history-received", "ganscope:first-preview",
         "ganscope:first-chart")


def page_load_marks(browser: Any, url: str) -> tuple[dict[str, float], dict[str, float]]:
    """The page's marks (ms from navigation start) on a first visit (a fresh browser context:
    nothing cached) and on a reload (plotly.js from the browser's cache)."""
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    out = []
    for visit in (lambda: page.goto(url), page.reload):
        visit()
        page.wait_for_function("() => window.ganscopeFirstChart !== undefined", timeout=60_000)
        page.evaluate("() => window.ganscopeFirstChart")
        out.append(page.evaluate(
            "names => Object.fromEntries(names.map(n => [n, (performance.getEntriesByName(n)[0]"
            " || {startTime: null}).startTime]))", list(MARKS)))
    context.close()
    if errors:
        raise RuntimeError(f"the page failed: {errors}")
    return out[0], out[1]


def describe(marks: list[dict[str, float]]) -> str:
    """The first chart painted: the still preview of the losses when plotly.js was not ready
    yet when the history arrived, else the interactive chart."""
    first = [m["ganscope:first-preview"] or m["ganscope:first-chart"] for m in marks]
    interactive = [m["ganscope:first-chart"] for m in marks]
    plotly = statistics.median(m["ganscope:plotly"] for m in marks)
    history = statistics.median(m["ganscope:history-received"] for m in marks)
    previews = sum(m["ganscope:first-preview"] is not None for m in marks)
    return (f"median {statistics.median(first):.0f} ms ({min(first):.0f}-{max(first):.0f}; "
            f"{previews}/{len(marks)} were the still preview), interactive chart "
            f"{statistics.median(interactive):.0f} ms; plotly.js ready at {plotly:.0f} ms, "
            f"history received at {history:.0f} ms")


FPS_JS = """async (seconds) => {
  const gd = document.getElementById('chart-losses');
  const points0 = gd.data[0].x.length;
  let frames = 0;
  const t0 = performance.now();
  await new Promise((resolve) => {
    const tick = () => {
      frames += 1;
      if (performance.now() - t0 < seconds * 1000) requestAnimationFrame(tick);
      else resolve();
    };
    requestAnimationFrame(tick);
  });
  const elapsed = (performance.now() - t0) / 1000;
  return {fps: frames / elapsed, points: (gd.data[0].x.length - points0) / elapsed};
}"""


# -- (c) training alone vs watched by the run page ---------------------------------------------

# Installed in the watched page before its own scripts. It records when each live report
# arrived over the WebSocket and when its step first appeared in the loss chart's data, and
# counts the Plotly calls each chart received (calls made from outside plotly.js: the page's).
WATCH_JS = """(() => {
  const rec = { arrived: new Map(), drawn: new Map(), calls: {} };
  window.ganscopeBench = rec;
  const Native = window.WebSocket;
  window.WebSocket = class extends Native {
    constructor(...args) {
      super(...args);
      this.addEventListener("message", (ev) => {
        const t = performance.now();
        const data = JSON.parse(ev.data);
        for (const f of Array.isArray(data) ? data : [data]) {
          if (f.type === "metrics" && "loss_d" in f.values && !rec.arrived.has(f.step)
              && !rec.stopped) {
            rec.arrived.set(f.step, t);
          }
        }
      });
    }
  };
  const note = (gd) => {
    if (!gd || !gd.id) return;
    (rec.calls[gd.id] ||= []).push(performance.now());
    if (gd.id !== "chart-losses" || !gd.data || !gd.data.length) return;
    const t = performance.now();
    for (const x of gd.data[0].x) if (!rec.drawn.has(x)) rec.drawn.set(x, t);
  };
  let plotly;
  Object.defineProperty(window, "Plotly", {
    configurable: true,
    get: () => plotly,
    set: (value) => {
      for (const name of ["newPlot", "react", "extendTraces", "relayout", "restyle", "update",
        "redraw"]) {
        const fn = value[name];
        value[name] = function (gd, ...rest) {
          const out = fn.call(this, gd, ...rest);
          note(typeof gd === "string" ? document.getElementById(gd) : gd);
          return out;
        };
      }
      plotly = value;
    },
  });
})();"""

# Each chart's traces against the server's stored series: the steps that are not drawn.
MISSING_JS = """(series) => {
  const missing = [];
  for (const c of window.ganscopeRunPage.charts.charts) {
    const gd = c.div;
    c.traces.forEach((t, i) => {
      const want = (series[t.name] || {step: []}).step;
      const have = new Set(gd.data && gd.data[i] ? gd.data[i].x : []);
      const lost = want.filter((s) => !have.has(s)).length;
      if (lost) missing.push(`${gd.id} ${t.name}: ${lost} of ${want.length}`);
    });
  }
  return missing;
}"""

# Per live report: arrival to loss chart (ms); and each chart's Plotly calls per second while
# the reports came.
LATENCY_JS = """() => {
  const rec = window.ganscopeBench;
  const waits = [];
  let lost = 0;
  for (const [step, t] of rec.arrived) {
    const drawn = rec.drawn.get(step);
    if (drawn === undefined) lost += 1;
    else waits.push(drawn - t);
  }
  const times = [...rec.arrived.values()];
  const first = Math.min(...times);
  const last = Math.max(...times);
  const rates = Object.values(rec.calls).map(
    (calls) => calls.filter((t) => t >= first && t <= last).length / ((last - first) / 1000));
  return { waits, lost, rates };
}"""


def _stat(pid: int) -> list[str] | None:
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    name_end = text.rindex(")")  # the command name may hold spaces
    return [text[:name_end + 1], *text[name_end + 2:].split()]


class CpuMeter:
    """CPU seconds used since its creation, from /proc: by this script's Chromium processes
    ("browser"), by the server and its training worker ("server"), by this script and its
    Playwright driver ("bench"), and by everything else on the machine ("others": other people's
    work on a shared machine; "niced": all that ran at a lower priority, which takes little from
    the others). A process counts up to its last sample: sample every second."""

    def __init__(self, server_pid: int) -> None:
        self.server_pid = server_pid
        self.tick = os.sysconf("SC_CLK_TCK")
        self.seen: dict[int, float] = {}
        self.totals = {"browser": 0.0, "server": 0.0, "bench": 0.0}
        self.machine0 = self._machine_busy()
        self.sample(baseline=True)

    def _machine_busy(self) -> tuple[float, float]:
        """Seconds the machine's CPUs were busy at normal priority, and niced."""
        user, nice, system, _idle, _iowait, irq, softirq, steal = (
            int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9])
        return (user + system + irq + softirq + steal) / self.tick, nice / self.tick

    def sample(self, baseline: bool = False) -> None:
        stats = {}
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit() and (fields := _stat(int(entry.name))):
                stats[int(entry.name)] = fields
        children: dict[int, list[int]] = {}
        for pid, fields in stats.items():
            children.setdefault(int(fields[2]), []).append(pid)  # fields[2]: the parent's pid
        todo = [(os.getpid(), "bench")]
        while todo:
            pid, group = todo.pop()
            if pid not in stats:
                continue
            if pid == self.server_pid:
                group = "server"
            elif "chrom" in stats[pid][0]:
                group = "browser"
            cpu = (int(stats[pid][12]) + int(stats[pid][13])) / self.tick
            if not baseline:  # a process first seen now started since: all its time counts
                self.totals[group] += cpu - self.seen.get(pid, 0.0)
            self.seen[pid] = cpu
            todo.extend((child, group) for child in children.get(pid, []))

    def result(self) -> dict[str, float]:
        self.sample()
        busy, niced = (now - then for now, then in zip(self._machine_busy(), self.machine0,
                                                        strict=True))
        return {**self.totals, "others": max(0.0, busy - sum(self.totals.values())),
                "niced": niced}


def quantile(ordered: list[float], q: float) -> float:
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def run_step(api: Any, run_id: str) -> int:
    return api.get(f"/api/runs/{run_id}").json()["step"] or 0


def window(api: Any, server: Server, run_id: str, seconds: float) -> dict[str, Any]:
    """The next ``seconds`` of the run: its steps (from, to), the wall time, and the CPU used
    meanwhile (CpuMeter's groups, sampled every second)."""
    meter = CpuMeter(server.proc.pid)
    first, t0 = run_step(api, run_id), time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        time.sleep(min(1.0, seconds - (time.perf_counter() - t0)))
        meter.sample()
    return {"steps": (first, run_step(api, run_id)), "wall": time.perf_counter() - t0,
            "cpu": meter.result()}


def watched_window(page: Any, api: Any, server: Server, run_id: str, *, window_s: float,
                   settle_s: float) -> dict[str, Any]:
    """The run page opened (its load let settle for ``settle_s``), then one window of
    ``window_s`` seconds; then what reached the charts, and the page closed again."""
    from playwright.sync_api import Error as PlaywrightError

    page.goto(f"{server.url}/runs/{run_id}")
    time.sleep(settle_s)  # the page's load (plotly.js compiles): once per visit, not measured
    out = window(api, server, run_id, window_s)
    # what came in the window is drawn within a round or two: then the arrival -> chart times
    page.evaluate("window.ganscopeBench.stopped = true")
    with contextlib.suppress(PlaywrightError):  # if not, LATENCY_JS counts those never drawn
        page.wait_for_function("() => { const r = window.ganscopeBench; "
                               "return [...r.arrived.keys()].every((s) => r.drawn.has(s)); }",
                               timeout=30_000)
    out.update(page.evaluate(LATENCY_JS))
    # every stored report in every chart (charts off screen catch up when scrolled to)
    series = api.get(f"/api/runs/{run_id}/metrics").json()["series"]
    for div in page.locator(".chart").all():
        div.scroll_into_view_if_needed()
    try:
        page.wait_for_function(f"(series) => ({MISSING_JS})(series).length === 0",
                               arg=series, timeout=30_000)
        out["missing"] = []
    except PlaywrightError:  # a report: say what is missing
        out["missing"] = page.evaluate(MISSING_JS, series)
    page.goto("about:blank")
    return out


def alternating_run(api: Any, server: Server, browser: Any, *, sides: list[str], pairs: int,
                    window_s: float, settle_s: float, report_every: int,
                    js_dir: Path | None) -> list[dict[str, Any]]:
    """One mnist-dcgan run, in windows alternately alone (the page closed) and watched (each
    watched side in turn): alone, watched, alone, ..., alone, ``pairs`` watched windows in all.
    A machine whose speed drifts over minutes (a shared host) gives both sides the same drift."""
    body = {"preset": "mnist-dcgan", "overrides": {"train.steps": 1_000_000,
                                                   "train.report_every": report_every}}
    run_id = api.post("/api/runs", json=body).json()["id"]
    pages, errors = {}, {side: [] for side in sides}
    for side in sides:
        context = browser.new_context(viewport={"width": 1400, "height": 900})
        context.add_init_script(WATCH_JS)
        if side.endswith("--js-dir"):  # another version of the page's modules, to compare
            context.route("**/static/js/*.js", lambda route: route.fulfill(
                path=str(js_dir / route.request.url.split("?")[0].rsplit("/", 1)[-1]),
                content_type="text/javascript"))
        pages[side] = context.new_page()
        pages[side].on("pageerror", lambda exc, side=side: errors[side].append(str(exc)))
    windows: list[dict[str, Any]] = []
    try:
        wait_until = time.monotonic() + 120
        while run_step(api, run_id) < 50:  # the worker started and warmed up
            if time.monotonic() > wait_until:
                raise RuntimeError(f"run {run_id} did not start in 120 s")
            time.sleep(0.5)
        for i in range(pairs + 1):
            time.sleep(settle_s)  # the page of the window before is gone
            windows.append({"side": "alone", **window(api, server, run_id, window_s)})
            if i == pairs:
                break
            side = sides[i % len(sides)]
            res = watched_window(pages[side], api, server, run_id, window_s=window_s,
                                 settle_s=settle_s)
            windows.append({"side": side, "errors": errors[side], **res})
        # each window's step times: the reports of the steps it saw
        series = api.get(f"/api/runs/{run_id}/metrics").json()["series"]["step_time"]
        for w in windows:
            lo, hi = w["steps"]
            times = [v for st, v in zip(series["step"], series["value"], strict=True)
                     if lo < st - report_every and st <= hi]  # whole report windows inside
            if len(times) < 5:
                raise RuntimeError(f"a window saw {len(times)} reports: make it longer")
            w["median_ms"] = statistics.median(times) * 1e3
            w["mean_ms"] = statistics.mean(times) * 1e3
    finally:
        api.post(f"/api/runs/{run_id}/control", json={"action": "stop"})
        for page in pages.values():
            page.context.close()
    return windows


def watched_vs_alone(browser: Any, data_dir: Path, *, rounds: int, pairs: int, window_s: float,
                     report_every: int, js_dir: Path | None, threads: int | None) -> None:
    import httpx

    server = Server(data_dir, cpu_threads=threads)
    settle_s = 5.0
    try:
        api = httpx.Client(base_url=server.url, timeout=30)
        threads = api.get("/api/health").json().get("jobs", {}).get("threads_per_job", "?")
        sides = ["watched"] + (["watched, JS from --js-dir"] if js_dir else [])
        print(f"(c) mnist-dcgan, a report every {report_every} steps, {rounds} runs; in each, "
              f"windows of {window_s:g} s alternately alone (no page) and watched by the run "
              f"page in Chromium (1400x900; each visit's load given {settle_s:g} s first, not "
              f"measured), {pairs} watched windows a run" + (", sides in turn" if js_dir else ""),
              flush=True)
        ratios: dict[str, list[tuple[float, float]]] = {side: [] for side in sides}
        watched: dict[str, list[dict[str, Any]]] = {side: [] for side in sides}
        alone_ms = []
        for r in range(rounds):
            windows = alternating_run(api, server, browser, sides=sides, pairs=pairs,
                                      window_s=window_s, settle_s=settle_s,
                                      report_every=report_every, js_dir=js_dir)
            line = []
            for i in range(1, len(windows), 2):  # a watched window between two alone ones
                before, w, after = windows[i - 1], windows[i], windows[i + 1]
                ratios[w["side"]].append(
                    ((before["median_ms"] + after["median_ms"]) / 2 / w["median_ms"],
                     (before["mean_ms"] + after["mean_ms"]) / 2 / w["mean_ms"]))
                watched[w["side"]].append(w)
                line.append(f"{w['median_ms']:.1f} ({100 * w['cpu']['browser'] / w['wall']:.0f}%"
                            f" browser)")
            alone = [w["median_ms"] for w in windows if w["side"] == "alone"]
            alone_ms.extend(alone)
            print(f"    run {r + 1}: alone {', '.join(f'{x:.1f}' for x in alone)} ms a step; "
                  f"watched {', '.join(line)}", flush=True)
        print(f"    worker threads: {threads}; median step time alone "
              f"{statistics.median(alone_ms):.1f} ms (windows {min(alone_ms):.1f}-"
              f"{max(alone_ms):.1f})")
        for side in sides:
            runs = watched[side]
            by_median = [m for m, _ in ratios[side]]
            by_mean = [m for _, m in ratios[side]]
            waits = sorted(w for run in runs for w in run["waits"])
            lost = sum(run["lost"] for run in runs)
            missing = [m for run in runs for m in run["missing"]]
            errors = [e for run in runs for e in run["errors"]]
            rates = sorted(rate for run in runs for rate in run["rates"])
            cpu = statistics.median(run["cpu"]["browser"] / run["wall"] for run in runs)
            print(f"    {side}: speed ratio alone/watched (each watched window against the "
                  f"alone windows on either side) median {statistics.median(by_median):.3f} "
                  f"({min(by_median):.3f}-{max(by_median):.3f} over {len(by_median)} windows; "
                  f"target >= 0.90); by the mean step time {statistics.median(by_mean):.3f} "
                  f"({min(by_mean):.3f}-{max(by_mean):.3f}); browser CPU "
                  f"{100 * cpu:.0f}% of one core")
            print(f"      reports to the loss chart: {len(waits)} drawn, {lost} never drawn; "
                  + (f"arrival to chart p50 {quantile(waits, 0.5):.0f} ms, p99 "
                     f"{quantile(waits, 0.99):.0f} ms, max "
                     f"{waits[-1]:.0f} ms (target <= 1000 ms); " if waits else "")
                  + f"Plotly calls per chart per second while reports came: median "
                  f"{statistics.median(rates):.2f}, max {rates[-1]:.2f}")
            print("      every stored report in every chart at the end of each window: "
                  + ("yes" if not missing else f"NO, missing {missing[:6]}")
                  + ("" if not errors else f"; page errors: {errors[:3]}"))
    finally:
        server.stop()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--phases", default="abc", help="which of the phases a, b, c to run")
    parser.add_argument("--loads", type=int, default=5, help="page loads timed in (a)")
    parser.add_argument("--seconds", type=float, default=5, help="seconds counted in (b)")
    parser.add_argument("--steps", type=int, default=100_000, help="steps of the run in (a)")
    parser.add_argument("--rounds", type=int, default=3, help="runs in (c)")
    parser.add_argument("--pairs", type=int, default=4,
                        help="(c) watched windows in each run, each between two alone ones")
    parser.add_argument("--window", type=float, default=20, help="(c) seconds a window")
    parser.add_argument("--report-every", type=int, default=10, help="train.report_every in (c)")
    parser.add_argument("--js-dir", type=Path, default=None,
                        help="(c) also watches with the page's JS modules from this folder "
                        "(a copy of webui/static/js from another version)")
    parser.add_argument("--threads", type=int, default=None,
                        help="(c) the training worker's CPU threads (default: the server's, "
                        "every core)")
    args = parser.parse_args()
    # a `timeout` or Ctrl-C still stops the servers and their training workers (finally below)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))

    import httpx
    from playwright.sync_api import sync_playwright

    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        print("no Chromium found (apt-get install chromium)", file=sys.stderr)
        return 1
    tmp = Path(tempfile.mkdtemp(prefix="bench-ui-"))
    server = None
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
            if "a" in args.phases or "b" in args.phases:
                server = Server(tmp / "data")
            if "a" in args.phases:
                folder = tmp / "run-100k"
                start = time.perf_counter()
                write_run_folder(folder, steps=args.steps, report_every=10, grids=8)
                run_id = import_run(folder, tmp / "data")
                print(f"(a) {args.steps:,}-step run ({args.steps // 10:,} report rows, 8 grids) "
                      f"written and imported in {time.perf_counter() - start:.1f} s")
                times, size = history_times(server, run_id, reads=6)
                print(f"    server: history message ({HISTORY_POINTS} points per series, "
                      f"{size / 1e3:.0f} kB): first read {times[0] * 1e3:.0f} ms, then median "
                      f"{statistics.median(times[1:]) * 1e3:.0f} ms (connect to receipt, "
                      "WebSocket)")
                url = f"{server.url}/runs/{run_id}"
                page_load_marks(browser, url)  # warm-up of the server and the browser
                visits = [page_load_marks(browser, url) for _ in range(args.loads)]
                print(f"    browser, navigation start to first chart painted (target < 1000 ms),"
                      f" {args.loads} loads each:")
                print(f"      first visit (nothing cached): {describe([v[0] for v in visits])}")
                print(f"      reload (plotly.js cached):    {describe([v[1] for v in visits])}")
            if "b" in args.phases:
                api = httpx.Client(base_url=server.url, timeout=30)
                body = {"preset": "ring8-gan", "overrides": {
                    "train.steps": 1_000_000, "train.report_every": 1, "train.num_threads": 1}}
                live = api.post("/api/runs", json=body).json()["id"]
                page = browser.new_page(viewport={"width": 1400, "height": 900})
                page.goto(f"{server.url}/runs/{live}")
                page.wait_for_function("() => { const gd = document.getElementById("
                                       "'chart-losses'); return gd && gd.data && gd.data[0] && "
                                       "gd.data[0].x.length > 200; }", timeout=120_000)
                streaming = page.evaluate(FPS_JS, args.seconds)
                api.post(f"/api/runs/{live}/control", json={"action": "pause"})
                page.locator("#run-status").filter(has_text="paused").wait_for(timeout=60_000)
                idle = page.evaluate(FPS_JS, args.seconds)
                api.post(f"/api/runs/{live}/control", json={"action": "stop"})
                page.close()
                print(f"(b) ring8-gan reporting every step: {streaming['points']:.0f} points/s "
                      f"per series reached the charts; browser {streaming['fps']:.1f} frames/s "
                      f"while streaming, {idle['fps']:.1f} frames/s with the run paused "
                      f"({args.seconds:g} s each)")
            if server is not None:
                server.stop()
                server = None
            if "c" in args.phases:
                watched_vs_alone(browser, tmp / "data-c", rounds=args.rounds, pairs=args.pairs,
                                 window_s=args.window, report_every=args.report_every,
                                 js_dir=args.js_dir, threads=args.threads)
            browser.close()
        load = os.getloadavg()[0]
        print(f"load average {load:.1f} on {os.cpu_count()} CPUs (the server, the worker and the "
              "browser share them)")
        return 0
    except Exception as exc:  # a report: say what failed, exit 1
        print(f"bench_ui failed: {exc!r}", file=sys.stderr)
        return 1
    finally:
        if server is not None:
            server.stop()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())

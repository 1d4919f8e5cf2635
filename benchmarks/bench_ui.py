"""Time the run page in a real browser: (a) first chart paint of a 100,000-step run, (b) the
frame rate while a run streams metrics every step.

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

It is a report, not a test: it exits 0 whatever the figures, 1 on an error.

    .venv/bin/python benchmarks/bench_ui.py            # about 2 minutes on 2 CPU cores
"""

from __future__ import annotations

import argparse
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
        out.write(json.dumps({"kind": "run_started", "step": 0, "device": "cpu"}) + "\n")
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
    def __init__(self, data_dir: Path) -> None:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            self.port = sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = data_dir / "server.log"
        env = {**os.environ, "GANSCOPE_MAX_JOBS": "1", "GANSCOPE_CPU_THREADS": "1"}
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


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--loads", type=int, default=5, help="page loads timed in (a)")
    parser.add_argument("--seconds", type=float, default=5, help="seconds counted in (b)")
    parser.add_argument("--steps", type=int, default=100_000, help="steps of the run in (a)")
    args = parser.parse_args()

    import httpx
    from playwright.sync_api import sync_playwright

    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        print("no Chromium found (apt-get install chromium)", file=sys.stderr)
        return 1
    tmp = Path(tempfile.mkdtemp(prefix="bench-ui-"))
    server = None
    try:
        folder = tmp / "run-100k"
        start = time.perf_counter()
        write_run_folder(folder, steps=args.steps, report_every=10, grids=8)
        run_id = import_run(folder, tmp / "data")
        print(f"(a) {args.steps:,}-step run ({args.steps // 10:,} report rows, 8 grids) written "
              f"and imported in {time.perf_counter() - start:.1f} s")
        server = Server(tmp / "data")
        times, size = history_times(server, run_id, reads=6)
        print(f"    server: history message ({HISTORY_POINTS} points per series, "
              f"{size / 1e3:.0f} kB): first read {times[0] * 1e3:.0f} ms, then median "
              f"{statistics.median(times[1:]) * 1e3:.0f} ms (connect to receipt, WebSocket)")
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
            url = f"{server.url}/runs/{run_id}"
            page_load_marks(browser, url)  # warm-up of the server and the browser
            visits = [page_load_marks(browser, url) for _ in range(args.loads)]
            print(f"    browser, navigation start to first chart painted (target < 1000 ms), "
                  f"{args.loads} loads each:")
            print(f"      first visit (nothing cached): {describe([v[0] for v in visits])}")
            print(f"      reload (plotly.js cached):    {describe([v[1] for v in visits])}")

            api = httpx.Client(base_url=server.url, timeout=30)
            body = {"preset": "ring8-gan", "overrides": {
                "train.steps": 1_000_000, "train.report_every": 1, "train.num_threads": 1}}
            live = api.post("/api/runs", json=body).json()["id"]
            page = browser.new_page(viewport={"width": 1400, "height": 900})
            page.goto(f"{server.url}/runs/{live}")
            page.wait_for_function("() => { const gd = document.getElementById('chart-losses');"
                                   " return gd && gd.data && gd.data[0] && "
                                   "gd.data[0].x.length > 200; }", timeout=120_000)
            streaming = page.evaluate(FPS_JS, args.seconds)
            api.post(f"/api/runs/{live}/control", json={"action": "pause"})
            page.locator("#run-status").filter(has_text="paused").wait_for(timeout=60_000)
            idle = page.evaluate(FPS_JS, args.seconds)
            api.post(f"/api/runs/{live}/control", json={"action": "stop"})
            print(f"(b) ring8-gan reporting every step: {streaming['points']:.0f} points/s per "
                  f"series reached the charts; browser {streaming['fps']:.1f} frames/s while "
                  f"streaming, {idle['fps']:.1f} frames/s with the run paused "
                  f"({args.seconds:g} s each)")
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

"""POST /api/sweeps against the same runs posted one by one: wall time, and the sweep's table.

A 3 x 3 grid of ``ring8-gan`` runs (``loss.name`` x ``optim.d.lr``) with 2 seeds, 18 runs at the
preset's steps, is launched two ways, each on a fresh ``ganscope serve`` (``python -m server.cli
serve``) on a free 127.0.0.1 port with its own temporary data folder and the same settings
(``GANSCOPE_MAX_JOBS`` 2, ``GANSCOPE_CPU_THREADS`` 1):

- ``sweep``: one ``POST /api/sweeps`` (grid search);
- ``one-by-one``: the same points, in the same order, with the same names and overrides, each
  ``POST /api/runs``-ed as soon as the previous answer came, as a user's script would.

A side's wall time runs from its first request to the last run's end (the server's
``finished_at``; client and server share this machine's clock). Both sides are followed the
same way: one ``GET /api/runs`` every ``--poll`` seconds (``--watch-table S`` follows the sweep
side with ``GET /api/sweeps/{id}`` every S seconds instead, as its page does, to price that read).
The order of the sides alternates
from round to round. Target: the sweep adds at most 2% to the total (ratio sweep / one-by-one
<= 1.02). Both sides do the same training work, but a side lasts ~12 minutes and the machine's
speed drifts by several percent between sides, which the raw wall ratio carries; so the report
also prices the sweep's own cost at equal training speed: one-by-one's training time plus the
sweep's time with slots not training (launches, hand-overs, the tail), over one-by-one's wall.
Then the sweep's table (``GET /api/sweeps/{id}``) and, per cell, the mean and min
over seeds.

It is a report, not a test: it exits 0 whatever the figures, 1 on an error.

    .venv/bin/python benchmarks/bench_sweeps.py            # 2 x 18 runs of the preset's steps
                                                           # steps: about 20 min a round
    .venv/bin/python benchmarks/bench_sweeps.py --steps 2000  # the README's: 6 min a round
    .venv/bin/python benchmarks/bench_sweeps.py --quick    # 2 x 8 runs of 300 steps, 2-4 minutes
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import platform
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from importlib.metadata import version
from pathlib import Path
from typing import Any

import httpx
from bench_server import cpu_seconds  # this folder is the script's sys.path[0]

from gan_core.losses import LOSSES
from gan_core.presets import preset_config
from server.schemas import SweepCreate
from server.sweep_cli import format_table
from server.sweeps import default_metric, expand_points, point_label

ROOT = Path(__file__).resolve().parent.parent

PRESET = "ring8-gan"
NAME = "bench-sweeps"
FULL_AXES: dict[str, list[Any]] = {"loss.name": ["nonsaturating", "hinge", "lsgan"],
                                   "optim.d.lr": [1e-4, 5e-4, 1e-3], "seed": [0, 1]}
QUICK_AXES: dict[str, list[Any]] = {"loss.name": ["nonsaturating", "hinge"],
                                    "optim.d.lr": [1e-4, 1e-3], "seed": [0, 1]}
QUICK_STEPS = 300
TARGET_RATIO = 1.02
TERMINAL = {"stopped", "completed", "diverged", "failed", "interrupted"}
ENDED_WELL = {"completed", "diverged"}  # a diverged run ends early, identically on both sides
SIDES = ("sweep", "one-by-one")


# -- the server ------------------------------------------------------------------------------

def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _die_with_parent() -> None:
    """In the server's process before exec: SIGTERM when this script dies without stopping it
    (Linux), so even a SIGKILL of the script leaves no server and no workers behind."""
    with contextlib.suppress(Exception):
        import ctypes

        ctypes.CDLL(None).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


class Server:
    """``ganscope serve`` in its own session: Ctrl-C reaches only this script, and ``stop()``
    ends the server's whole process group (its spawned workers included)."""

    def __init__(self, data_dir: Path, jobs: int, threads: int) -> None:
        data_dir.mkdir(parents=True)
        self.log = data_dir / "server.log"
        env = {k: v for k, v in os.environ.items() if not k.startswith("GANSCOPE_")}
        env.update(GANSCOPE_MAX_JOBS=str(jobs), GANSCOPE_CPU_THREADS=str(threads),
                   GANSCOPE_HOST="127.0.0.1")
        for attempt in range(3):  # the free port may be taken before the server binds it
            port = free_port()
            with self.log.open("ab") as out:
                self.proc = subprocess.Popen(
                    [sys.executable, "-m", "server.cli", "serve", "--port", str(port),
                     "--data-dir", str(data_dir), "--log-level", "warning"],
                    cwd=ROOT, env=env, stdin=subprocess.DEVNULL, stdout=out, stderr=out,
                    start_new_session=True,
                    preexec_fn=_die_with_parent if sys.platform == "linux" else None)
            self.http = httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=120,
                                     trust_env=False)
            try:
                if self._started(deadline=time.monotonic() + 120):
                    return
            except BaseException:
                self.stop()
                raise
            self.stop()
            if attempt == 2 or "cannot serve" not in self.tail():
                raise RuntimeError(f"the server exited: {self.tail()}")

    def _started(self, deadline: float) -> bool:
        while True:
            if self.proc.poll() is not None:
                return False
            if time.monotonic() > deadline:
                raise RuntimeError(f"the server did not start in 120 s: {self.tail()}")
            with contextlib.suppress(httpx.HTTPError):
                if self.http.get("/api/health").status_code == 200:
                    return True
            time.sleep(0.1)

    def tail(self, chars: int = 3000) -> str:
        text = self.log.read_text(errors="replace") if self.log.exists() else ""
        return text[-chars:] or "(no output)"

    def post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        r = self.http.post(path, json=body)
        if r.status_code != 201:
            raise RuntimeError(f"POST {path}: {r.status_code} {r.text[:1000]}")
        return r.json()

    def get(self, path: str, **params: Any) -> Any:
        r = self.http.get(path, params=params)
        if r.status_code != 200:
            raise RuntimeError(f"GET {path}: {r.status_code} {r.text[:1000]}")
        return r.json()

    def stop(self, timeout: float = 60.0) -> None:
        """SIGTERM (the job manager stops its workers with a checkpoint), then SIGKILL to
        whatever is left of the group; returns once the server is reaped."""
        self.http.close()
        try:
            if self.proc.poll() is None:
                self.proc.send_signal(signal.SIGTERM)
                self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            print(f"  the server did not stop in {timeout:.0f} s; killing it", file=sys.stderr)
        finally:  # also after a Ctrl-C during the wait: its group, workers included
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()


# -- one side ---------------------------------------------------------------------------------

def timestamp(value: str) -> float:
    moment = datetime.fromisoformat(value)
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp()


def launch_sweep(server: Server, body: dict[str, Any]) -> tuple[list[str], str, list[float]]:
    start = time.perf_counter()
    created = server.post("/api/sweeps", body)
    return created["runs"], created["id"], [time.perf_counter() - start]


def launch_one_by_one(server: Server, runs: list[dict[str, Any]]
                      ) -> tuple[list[str], None, list[float]]:
    ids, took = [], []
    for body in runs:
        start = time.perf_counter()
        ids.append(server.post("/api/runs", body)["id"])
        took.append(time.perf_counter() - start)
    return ids, None, took


def follow(server: Server, ids: list[str], poll: float, timeout: float,
           sweep_id: str | None = None) -> None:
    """One ``GET /api/runs`` (or, given ``sweep_id``, ``GET /api/sweeps/{id}``) every ``poll``
    s until every run has ended."""
    wanted, deadline = set(ids), time.monotonic() + timeout
    while True:
        rows = (server.get(f"/api/sweeps/{sweep_id}")["runs"] if sweep_id
                else server.get("/api/runs", limit=500)["data"])
        status = {r["id"]: r["status"] for r in rows if r["id"] in wanted}
        if len(status) == len(wanted) and all(s in TERMINAL for s in status.values()):
            return
        if time.monotonic() > deadline:
            left = sum(s not in TERMINAL for s in status.values())
            raise RuntimeError(f"{left} of {len(ids)} runs still active after {timeout:.0f} s")
        time.sleep(poll)


def run_side(side: str, server: Server, args: argparse.Namespace, sweep_body: dict[str, Any],
             run_bodies: list[dict[str, Any]]) -> dict[str, Any]:
    cpu_before = cpu_seconds(server.proc.pid)
    t0 = time.time()
    if side == "sweep":
        ids, sweep_id, took = launch_sweep(server, sweep_body)
    else:
        ids, sweep_id, took = launch_one_by_one(server, run_bodies)
    created_s = time.time() - t0
    if sweep_id is not None and args.watch_table:
        follow(server, ids, args.watch_table, args.timeout, sweep_id)
    else:
        follow(server, ids, args.poll, args.timeout)
    observed_s = time.time() - t0
    cpu_after = cpu_seconds(server.proc.pid)

    runs = [server.get(f"/api/runs/{run_id}") for run_id in ids]
    bad = [f"{r['id']} {r['status']}: {r['error']}" for r in runs if r["status"] not in ENDED_WELL]
    if bad:
        raise RuntimeError(f"{side}: runs that did not complete: " + "; ".join(bad))
    created = [timestamp(r["created_at"]) for r in runs]
    # the job manager's "starting": the moment it spawned the run's worker
    spawned = [min(timestamp(e["at"]) for e in server.get(f"/api/runs/{run_id}/events")
                   if e.get("status") == "starting") for run_id in ids]
    started = [timestamp(r["started_at"]) for r in runs]  # the worker's "running"
    finished = [timestamp(r["finished_at"]) for r in runs]
    metrics = [server.get(f"/api/runs/{run_id}/metrics", keys=f"step_time,{args.metric}")["series"]
               for run_id in ids]
    step_times = [statistics.fmean(m["step_time"]["value"]) for m in metrics if "step_time" in m]
    finals = [m[args.metric]["value"][-1] if args.metric in m else None for m in metrics]

    wall = max(finished) - t0
    training = [f - s for s, f in zip(started, finished, strict=True)]
    # a freed slot: the k-th end to the (slots + k)-th worker spawned
    ends, later = sorted(finished), sorted(spawned)[args.jobs:]
    dispatches = [b - a for a, b in zip(ends, later, strict=False) if b >= a]
    out: dict[str, Any] = {
        "side": side, "runs": len(ids), "wall_s": wall, "observed_wall_s": observed_s,
        "requests": len(took), "request_s": sum(took), "created_s": created_s,
        "first_start_s": min(started) - t0,
        "queue_wait_s": statistics.median(s - c for s, c in zip(started, created, strict=True)),
        "training_sum_s": sum(training), "training_median_s": statistics.median(training),
        "training_per_slot_s": sum(training) / args.jobs,
        "not_training_s": wall - sum(training) / args.jobs,
        "dispatch_median_s": statistics.median(dispatches) if dispatches else math.nan,
        "startup_median_s": statistics.median(b - a for a, b in zip(spawned, started,
                                                                     strict=True)),
        "step_time_ms": statistics.fmean(step_times) * 1e3 if step_times else math.nan,
        "server_cpu_s": (cpu_after - cpu_before) if None not in (cpu_before, cpu_after)
        else None,
        "spawned_in_order": spawned == sorted(spawned),
        "timeline": [{"id": i, "created": c - t0, "spawned": w - t0, "started": b - t0,
                      "finished": f - t0} for i, c, w, b, f in
                     zip(ids, created, spawned, started, finished, strict=True)],
        "statuses": [r["status"] for r in runs], "finals": finals,
        "names": [r["name"] for r in runs], "configs": [r["config"] for r in runs],
        "sweep_id": sweep_id,
    }
    if sweep_id is not None:
        out["sweep"] = server.get(f"/api/sweeps/{sweep_id}")
        costs = []
        for _ in range(5):  # what a follower of the table (ganscope sweep --wait) costs
            start = time.perf_counter()
            server.get(f"/api/sweeps/{sweep_id}")
            costs.append(time.perf_counter() - start)
        out["sweep_get_ms"] = statistics.median(costs) * 1e3
    return out


# -- the report -------------------------------------------------------------------------------

def spread(values: list[float], fmt: str = ".1f") -> str:
    if len(values) == 1:
        return format(values[0], fmt)
    return (f"{format(statistics.median(values), fmt)} (min {format(min(values), fmt)}, "
            f"max {format(max(values), fmt)})")


def describe(got: dict[str, Any]) -> str:
    cpu = "n/a" if got["server_cpu_s"] is None else f"{got['server_cpu_s']:.1f} s"
    return (f"wall {got['wall_s']:.1f} s ({got['requests']} request(s) {got['request_s']:.2f} s; "
            f"training {got['training_per_slot_s']:.1f} s per slot, step_time "
            f"{got['step_time_ms']:.2f} ms; slots not training {got['not_training_s']:.1f} s: "
            f"first run training after {got['first_start_s']:.2f} s, a worker's start-up "
            f"{got['startup_median_s']:.2f} s; server CPU {cpu})")


BREAKDOWN = (
    ("wall_s", "wall: first request -> last run's end", "{:.1f} s"),
    ("request_s", "create request(s), summed", "{:.3f} s"),
    ("created_s", "first request -> last run created", "{:.3f} s"),
    ("first_start_s", "first request -> first run training", "{:.2f} s"),
    ("queue_wait_s", "a run's created_at -> started_at, median", "{:.1f} s"),
    ("training_median_s", "a run's training (started -> finished), median", "{:.2f} s"),
    ("training_per_slot_s", "training, summed over runs / slots", "{:.1f} s"),
    ("not_training_s", "wall - the line above (start-ups, handovers, tail)", "{:.1f} s"),
    ("dispatch_median_s", "a run's end -> the next worker spawned, median", "{:.3f} s"),
    ("startup_median_s", "a worker's start-up (spawned -> training), median", "{:.2f} s"),
    ("step_time_ms", "step_time (the trainer's clock), mean over runs", "{:.2f} ms"),
    ("server_cpu_s", "the server process's CPU during the side", "{:.1f} s"),
)


def report(results: dict[str, list[dict[str, Any]]], args: argparse.Namespace) -> dict[str, Any]:
    sweep, single = results["sweep"], results["one-by-one"]
    ratios = [a["wall_s"] / b["wall_s"] for a, b in zip(sweep, single, strict=True)]
    ratio = statistics.median(ratios)
    print(f"\nwall, median over {len(ratios)} round(s): sweep "
          f"{spread([g['wall_s'] for g in sweep])} s, one by one "
          f"{spread([g['wall_s'] for g in single])} s")
    print(f"ratio sweep / one-by-one: {spread(ratios, '.4f')} (target <= {TARGET_RATIO:g}: "
          f"{'met' if ratio <= TARGET_RATIO else 'NOT met'}"
          + ("; noisy: the rounds spread wider than the 2% margin"
             if len(ratios) > 1 and max(ratios) - min(ratios) > TARGET_RATIO - 1 else "") + ")")
    # The two sides train the same 18 configs with the same seeds: the same work. What differs
    # in their training time is the machine's speed drifting between the sides (step_time moves
    # by several percent from one 12-minute side to the next on a shared 2-core machine), not
    # the sweep. The sweep's own cost is in the slots' time not training (launch, hand-overs,
    # the tail): priced at equal training speed, the sweep's wall is the other side's training
    # plus its own time not training.
    equal = [(b["training_per_slot_s"] + a["not_training_s"]) / b["wall_s"]
             for a, b in zip(sweep, single, strict=True)]
    print(f"ratio at equal training speed (one-by-one's training + the sweep's time not "
          f"training, over one-by-one's wall): {spread(equal, '.4f')} (target <= "
          f"{TARGET_RATIO:g}: {'met' if statistics.median(equal) <= TARGET_RATIO else 'NOT met'})")
    print("\nwhere the time goes, median over rounds:")
    width = max(len(what) for _, what, _ in BREAKDOWN)
    print(f"  {'':{width}}  {'sweep':>12}  {'one-by-one':>12}  {'difference':>12}")
    for key, what, fmt in BREAKDOWN:
        a = [g[key] for g in sweep if g[key] is not None]
        b = [g[key] for g in single if g[key] is not None]
        if not a or not b:
            continue
        ma, mb = statistics.median(a), statistics.median(b)
        print(f"  {what:{width}}  {fmt.format(ma):>12}  {fmt.format(mb):>12}  "
              f"{fmt.format(ma - mb):>12}")
    print(f"  GET /api/sweeps/{{id}} of the finished sweep (what `ganscope sweep --wait` asks "
          f"every 2 s): {spread([g['sweep_get_ms'] for g in sweep])} ms")

    # the same runs on both sides: the same configs, the same order, the same results
    same_configs = all(a["configs"] == b["configs"]
                       for a, b in zip(sweep, single, strict=True))
    in_order = {side: all(g["spawned_in_order"] for g in results[side]) for side in SIDES}
    pairs = [(x, y) for a, b in zip(sweep, single, strict=True)  # a point's two runs
             for x, y in zip(a["finals"], b["finals"], strict=True)]
    identical = sum(x == y for x, y in pairs)
    diffs = [abs(x - y) for x, y in pairs if x is not None and y is not None]
    print(f"\nsame runs: configs identical on both sides: {'yes' if same_configs else 'NO'}; "
          f"workers spawned in the points' order: sweep {'yes' if in_order['sweep'] else 'NO'}, "
          f"one-by-one {'yes' if in_order['one-by-one'] else 'NO'}; final {args.metric} "
          f"identical in {identical}/{len(pairs)} pairs"
          + (f" (max difference {max(diffs):.3g})" if identical < len(pairs) and diffs else ""))
    return {"ratios": ratios, "ratio_median": ratio, "target": TARGET_RATIO,
            "equal_speed_ratios": equal, "equal_speed_ratio_median": statistics.median(equal),
            "same_configs": same_configs, "spawned_in_order": in_order,
            "finals_identical": identical, "finals_compared": len(pairs)}


def print_table(summary: dict[str, Any], points: list[dict[str, Any]]) -> None:
    print(f"\nthe sweep's table (GET /api/sweeps/{summary['id']}, {summary['status']}):")
    print(format_table(summary))
    if [r["point"] for r in summary["runs"]] != points:
        print("  (its rows are not in the order of the points)")
    cell_axes = [a for a in summary["axes"] if a != "seed"]
    cells: dict[tuple, list[dict[str, Any]]] = {}
    for run in summary["runs"]:
        cells.setdefault(tuple(run["point"].get(a) for a in cell_axes), []).append(run)
    metric = summary["metric"]
    header = [*cell_axes, "seeds", f"final {metric} mean", "min", f"best {metric} mean", "min"]
    rows = []
    for cell, runs in cells.items():
        row = [format(v, "g") if isinstance(v, float) else str(v) for v in cell]
        row.append(str(len(runs)))
        for key in ("final", "best"):
            values = [r[key] for r in runs if r[key] is not None]
            row += ([f"{statistics.fmean(values):.4g}", f"{min(values):.4g}"] if values
                    else ["-", "-"])
        rows.append(row)
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    print(f"\nper cell, over seeds ({', '.join(cell_axes)}):")
    for r in [header, *rows]:
        print("  " + "  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip())


# -- main -------------------------------------------------------------------------------------

def load() -> str:
    try:
        return "load average {:.2f} {:.2f} {:.2f}".format(*os.getloadavg())
    except OSError:
        return "load average n/a"


def _interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, help="train.steps of every run (default: the "
                        f"preset's; {QUICK_STEPS} with --quick)")
    parser.add_argument("--rounds", type=int, default=1,
                        help="rounds of both sides, their order alternating (default 1)")
    parser.add_argument("--jobs", type=int, default=2, help="GANSCOPE_MAX_JOBS (default 2)")
    parser.add_argument("--threads", type=int, default=1, help="GANSCOPE_CPU_THREADS (default 1)")
    parser.add_argument("--poll", type=float, default=1.0,
                        help="seconds between two GET /api/runs while a side runs (default 1)")
    parser.add_argument("--watch-table", type=float, metavar="S",
                        help="follow the sweep side with GET /api/sweeps/{id} every S s "
                        "instead (the sweep page reads it up to every 0.5 s): its cost")
    parser.add_argument("--timeout", type=float,
                        help="seconds a side may take (default: from the runs and steps)")
    parser.add_argument("--quick", action="store_true",
                        help=f"a smoke check: 2 x 2 x 2 runs of {QUICK_STEPS} steps")
    parser.add_argument("--json", type=Path, help="write the figures to this file")
    args = parser.parse_args(argv)
    axes = QUICK_AXES if args.quick else FULL_AXES
    if args.quick and args.steps is None:
        args.steps = QUICK_STEPS
    if min(args.rounds, args.jobs, args.threads, args.steps or 1) < 1 or min(
            args.poll, args.watch_table or 1) <= 0:
        parser.error("--steps, --rounds, --jobs, --threads, --poll and --watch-table must be "
                     "positive")
    unknown = set(axes["loss.name"]) - set(LOSSES.names())
    if unknown:
        parser.error(f"unknown losses {sorted(unknown)}; registered: {LOSSES.names()}")

    config = preset_config(PRESET)
    steps = args.steps or config.train.steps
    args.metric = default_metric(config)
    overrides = {"train.steps": args.steps} if args.steps else {}
    sweep_body = {"name": NAME, "preset": PRESET, "overrides": overrides, "axes": axes,
                  "search": "grid"}
    points = expand_points(SweepCreate.model_validate(sweep_body))
    # what POST /api/sweeps makes of each point, posted as a run
    run_bodies = [{"preset": PRESET, "name": f"{NAME} · {point_label(p)}"[:200],
                   "overrides": {**overrides, **p}} for p in points]
    if args.timeout is None:  # generous: 0.1 s a step on a loaded machine, plus start-ups
        args.timeout = 300 + len(points) * (steps * 0.1 + 10) / args.jobs

    print(f"bench_sweeps: {platform.node()}, {platform.platform()}, {os.cpu_count()} CPU cores; "
          f"python {platform.python_version()}, torch {version('torch')}, fastapi "
          f"{version('fastapi')}, uvicorn {version('uvicorn')}, httpx {version('httpx')}")
    print(f"  {PRESET}, {' x '.join(f'{a} {len(v)}' for a, v in axes.items())} = "
          f"{len(points)} runs of {steps} steps; GANSCOPE_MAX_JOBS {args.jobs}, "
          f"GANSCOPE_CPU_THREADS {args.threads}; {args.rounds} round(s), sides alternating; "
          f"a fresh server per side; {load()}", flush=True)
    follow_what = (f"GET /api/sweeps/{{id}} every {args.watch_table:g} s on the sweep side, "
                   f"GET /api/runs every {args.poll:g} s on the other" if args.watch_table
                   else f"GET /api/runs every {args.poll:g} s on both sides")
    print(f"  followed with {follow_what}", flush=True)

    results: dict[str, list[dict[str, Any]]] = {side: [] for side in SIDES}
    previous = signal.signal(signal.SIGTERM, _interrupt)
    server: Server | None = None
    try:
        with tempfile.TemporaryDirectory(prefix="bench_sweeps_",
                                         ignore_cleanup_errors=True) as tmp:
            for r in range(args.rounds):
                for side in SIDES if r % 2 == 0 else SIDES[::-1]:
                    server = Server(Path(tmp) / f"{side}-{r}", args.jobs, args.threads)
                    try:
                        got = run_side(side, server, args, sweep_body, run_bodies)
                    except BaseException:
                        print(f"--- the {side} server's log (end) ---\n{server.tail()}",
                              file=sys.stderr)
                        raise
                    finally:
                        server.stop()
                        server = None
                    results[side].append(got)
                    print(f"  round {r + 1} {side:10s}: {describe(got)}", flush=True)
                ratio = results["sweep"][-1]["wall_s"] / results["one-by-one"][-1]["wall_s"]
                print(f"  round {r + 1}: ratio sweep / one-by-one {ratio:.4f}", flush=True)
    except KeyboardInterrupt:
        print("\ninterrupted", file=sys.stderr)
        return 130
    except Exception as exc:
        print(f"\nerror: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    finally:
        signal.signal(signal.SIGTERM, previous)
        if server is not None:  # interrupted while it started or stopped
            server.stop()

    summary = report(results, args)
    print_table(results["sweep"][-1]["sweep"], points)
    print(f"\n{load()} (1, 5, 15 min; {os.cpu_count()} CPUs)")
    if args.json:
        for side in results.values():
            for got in side:
                got.pop("configs")
        args.json.write_text(json.dumps({
            "machine": {"node": platform.node(), "platform": platform.platform(),
                        "cpus": os.cpu_count(), "python": platform.python_version(),
                        "torch": version("torch")},
            "preset": PRESET, "axes": axes, "steps": steps, "jobs": args.jobs,
            "threads": args.threads, "rounds": args.rounds, "poll": args.poll,
            "watch_table": args.watch_table, "summary": summary,
            "results": results}, indent=1, default=str))
        print(f"figures written to {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

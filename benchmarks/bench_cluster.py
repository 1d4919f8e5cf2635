"""The Ray backend against the local one: event latency to a WebSocket client, and 8 runs' wall.

A real two-node Ray cluster on this machine (tests/server/ray_cluster.py: a head on
127.0.0.2, a second node on 127.0.0.3, one CPU each, no dashboard, no usage reports) stays up
for the whole benchmark, so both backends run beside the same idle cluster. Each round starts
a server on the local backend, measures, stops it, then a server on the cluster, and measures
the same; the order of the two sides alternates from round to round.

(1) Latency from a worker's emit to a WebSocket client's receipt: one synthetic run per side
    emits ``--rate`` Metrics events a second for ``--seconds`` on a fixed schedule, each
    carrying its ``time.time()``; on the local backend from a spawned worker process through
    its pipe, on Ray from an actor on the second node (custom resource ``node2``) through the
    actor channel (a long poll
    from the server). The same emitting code runs on both sides (``emit_schedule``). The client
    is this process. Target: Ray's p50 at most 5 ms above the local pipe's, p99 at most 20 ms.
(2) ``--runs`` tiny toy runs (ring8-gan, width 32, ``--steps`` steps, one thread each)
    submitted at once: on the local backend with 2 job slots, on the cluster (2 CPUs: one run
    per node at a time). The wall time from the first submit to the last run's end, the ratio
    Ray / local, and which nodes the Ray runs trained on.

It is a report, not a test: it exits 0 whatever the figures, 1 on an error.

    .venv/bin/python benchmarks/bench_cluster.py           # about 6 minutes on 2 CPU cores
    .venv/bin/python benchmarks/bench_cluster.py --quick   # a smoke check, about 2 minutes
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import platform
import queue
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from importlib.metadata import version
from pathlib import Path
from typing import Any

# Only the standard library at the top: Ray workers and spawned workers import this module.

ROOT = Path(__file__).resolve().parent.parent
HERE = Path(__file__).resolve().parent
TARGET_P50_MS, TARGET_P99_MS = 5.0, 20.0
TERMINAL = {"stopped", "completed", "diverged", "failed", "interrupted"}
SYNTHETIC_KEYS = ("loss_d", "loss_g", "d_real", "d_fake", "grad_norm_d", "grad_norm_g",
                  "step_time", "images_per_s")


# -- the synthetic training bodies (one schedule, two transports) ------------------------------

def emit_schedule(name: str, sink: Any, controls: Any, gone: Any) -> None:
    """Report ``paused`` and wait for ``resume`` (the client connects first), then emit
    ``rate`` Metrics events a second for ``seconds`` (both from the run's name,
    ``synthetic-<rate>-<seconds>``), event i due at start + i / rate; then ``completed``."""
    from gan_core.events import Metrics, StatusChanged

    _, rate_text, seconds_text = name.split("-")
    rate, seconds = float(rate_text), float(seconds_text)
    sink(StatusChanged(step=0, status="paused", message="waiting for the client"))
    command = None
    while command is None and not gone():
        with contextlib.suppress(queue.Empty):
            command = controls.get(timeout=0.5)
    if command is None or command.action == "stop":
        sink(StatusChanged(step=0, status="stopped", message="stopped before it started"))
        return
    sink(StatusChanged(step=0, status="running"))
    count, period = round(rate * seconds), 1.0 / rate
    start, worst_lag = time.perf_counter(), 0.0
    for i in range(count):
        lag = time.perf_counter() - (start + i * period)
        if lag < 0:
            time.sleep(-lag)
        worst_lag = max(worst_lag, lag)
        values = dict.fromkeys(SYNTHETIC_KEYS, 0.123456789)
        values["emit_time"] = time.time()
        sink(Metrics(step=i + 1, values=values))
        if gone():
            return
    sink(StatusChanged(step=count, status="completed", message="",
                       extra={"sent": count, "worst_lag_ms": worst_lag * 1e3}))


def _synthetic(spec: Any) -> str | None:
    name = json.loads(spec.config_json).get("name") or ""
    return name if name.startswith("synthetic-") else None


def local_synthetic(spec: Any, channel: Any, controls: Any) -> None:
    """The local backend's worker entry point: a synthetic run's events through the worker's
    pipe; any other run trains as usual."""
    from multiprocessing import parent_process

    from server.jobs.worker import ChannelSender, run_worker

    if _synthetic(spec) is None:
        run_worker(spec, channel, controls)
        return
    sender = ChannelSender(channel, spec.run_id)
    server = parent_process()
    try:
        emit_schedule(_synthetic(spec), sender, controls,
                      lambda: sender.broken or (server is not None and not server.is_alive()))
    finally:
        sender.close()
        channel.close()


def remote_synthetic(spec: Any, scratch: Path, sink: Any, controls: Any) -> None:
    """The Ray actor's training body: a synthetic run's events into the actor's buffer, polled
    by the server; any other run trains as usual."""
    from server.jobs.ray_worker import _train

    if _synthetic(spec) is None:
        _train(spec, scratch, sink, controls)
        return
    emit_schedule(_synthetic(spec), sink, controls, lambda: sink.lost_server)


# -- role: a server ------------------------------------------------------------------------------

def serve(data_dir: Path, port_file: Path, backend: str, address: str, node_ip: str) -> int:
    import logging
    import socket

    import uvicorn

    from server.app import create_app
    from server.cli import UVICORN_OPTIONS
    from server.settings import Settings

    logging.basicConfig(level=logging.WARNING)
    settings = Settings(data_dir=data_dir, max_jobs=2, cpu_threads=1, jobs_backend=backend,
                        ray_address=address, ray_node_ip=node_ip or None)
    app = create_app(settings, worker_target=local_synthetic,
                     remote_target="bench_cluster:remote_synthetic")
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.bind(("127.0.0.1", 0))
    tmp = port_file.with_suffix(".tmp")
    tmp.write_text(str(sock.getsockname()[1]))
    os.replace(tmp, port_file)
    config = uvicorn.Config(app, log_level="warning", access_log=False,
                            timeout_graceful_shutdown=10, **UVICORN_OPTIONS)
    uvicorn.Server(config).run(sockets=[sock])
    return 0


class Server:
    """This script's server role in a subprocess of its own session."""

    def __init__(self, data_dir: Path, backend: str, env: dict[str, str]) -> None:
        import httpx

        data_dir.mkdir(parents=True)
        port_file = data_dir / "port"
        self.log = data_dir / "server.log"
        args = ["--role", "server", "--data-dir", str(data_dir), "--port-file", str(port_file),
                "--backend", backend, "--address", env.get("GANSCOPE_RAY_ADDRESS", ""),
                "--node-ip", env.get("GANSCOPE_RAY_NODE_IP", "")]
        child_env = {**os.environ, **env,
                     "PYTHONPATH": os.pathsep.join([str(HERE), str(ROOT)])}
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen([sys.executable, __file__, *args], cwd=ROOT,
                                         env=child_env, stdout=out, stderr=out,
                                         start_new_session=True)
        deadline = time.monotonic() + 180
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"the {backend} server exited: {self.tail()}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"the {backend} server did not start: {self.tail()}")
            if port_file.exists():
                port = int(port_file.read_text())
                self.url, self.ws_url = f"http://127.0.0.1:{port}", f"ws://127.0.0.1:{port}"
                self.http = httpx.Client(base_url=self.url, timeout=60, trust_env=False)
                with contextlib.suppress(httpx.HTTPError):
                    if self.http.get("/api/health").status_code == 200:
                        return
            time.sleep(0.1)

    def tail(self) -> str:
        return self.log.read_text(errors="replace")[-3000:] if self.log.exists() else ""

    def create(self, name: str, overrides: dict[str, Any],
               resources: dict[str, float] | None = None) -> str:
        body = {"preset": "ring8-gan", "name": name, "overrides": overrides}
        if resources:
            body["resources"] = resources
        r = self.http.post("/api/runs", json=body)
        if r.status_code != 201:
            raise RuntimeError(f"POST /api/runs: {r.status_code} {r.text}")
        return r.json()["id"]

    def run(self, run_id: str) -> dict[str, Any]:
        return self.http.get(f"/api/runs/{run_id}").json()

    def wait(self, run_id: str, statuses: set[str], timeout: float) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            run = self.run(run_id)
            if run["status"] in statuses:
                return run
            if run["status"] in TERMINAL:
                raise RuntimeError(f"run {run_id} ended {run['status']}: {run['error']}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"run {run_id} is {run['status']} after {timeout:.0f} s")
            time.sleep(0.05)

    def stop(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(45)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()


# -- (1) latency ---------------------------------------------------------------------------------

async def _watch(url: str, started: asyncio.Event, timeout: float) -> list[float]:
    from websockets.asyncio.client import connect

    latencies: list[float] = []
    async with asyncio.timeout(timeout), connect(url, max_size=None, proxy=None) as ws:
        first = json.loads(await ws.recv())
        assert first["type"] == "history", first["type"]
        started.set()
        while True:
            raw = await ws.recv()
            received = time.time()
            data = json.loads(raw)
            for msg in data if isinstance(data, list) else [data]:
                if msg["type"] == "metrics" and "emit_time" in msg["values"]:
                    latencies.append((received - msg["values"]["emit_time"]) * 1e3)
                elif msg["type"] == "status" and msg["status"] in TERMINAL:
                    return latencies


def latency(server: Server, rate: float, seconds: float, ray: bool) -> dict[str, Any]:
    # on Ray, on the second node: the events leave a worker of another raylet
    run_id = server.create(f"synthetic-{rate:g}-{seconds:g}", {"train.num_threads": 1},
                           resources={"node2": 1} if ray else None)
    server.wait(run_id, {"paused"}, 120)

    async def scenario() -> list[float]:
        started = asyncio.Event()
        watcher = asyncio.create_task(_watch(f"{server.ws_url}/ws/runs/{run_id}", started,
                                             seconds + 120))
        await started.wait()
        await asyncio.to_thread(server.http.post, f"/api/runs/{run_id}/control",
                                json={"action": "resume"})
        return await watcher

    values = sorted(asyncio.run(scenario()))
    expected = round(rate * seconds)
    extra = next((e.get("extra") for e in reversed(server.http.get(
        f"/api/runs/{run_id}/events").json()) if e.get("status") == "completed"), {}) or {}
    return {"received": len(values), "expected": expected, "p50": pct(values, 50),
            "p99": pct(values, 99), "max": values[-1] if values else float("nan"),
            "worst_emit_lag_ms": extra.get("worst_lag_ms")}


# -- (2) many tiny runs -------------------------------------------------------------------------

def many_runs(server: Server, runs: int, steps: int) -> dict[str, Any]:
    overrides = {"model.width": 32, "model.depth": 2, "train.steps": steps,
                 "train.report_every": 50, "train.sample_every": steps,
                 "train.spectral_every": steps, "train.checkpoint_every": steps,
                 "train.num_threads": 1}
    start = time.monotonic()
    ids = [server.create(f"toy-{i}", overrides) for i in range(runs)]
    for run_id in ids:
        run = server.wait(run_id, {"completed"}, 900)
    wall = time.monotonic() - start
    # where the time goes: a run's start (submit -> training, for the first runs, which had
    # room at once), its training (first running -> end), and the handover (one run's end ->
    # the next run's first step on the freed slot)
    from datetime import datetime

    rows = [server.run(run_id) for run_id in ids]
    t = [{k: datetime.fromisoformat(r[k]).timestamp() for k in
          ("created_at", "started_at", "finished_at")} for r in rows]
    first = sorted(t, key=lambda x: x["started_at"])[:2]
    starts = [x["started_at"] - x["created_at"] for x in first]
    trains = [x["finished_at"] - x["started_at"] for x in t]
    ends = sorted(x["finished_at"] for x in t)
    later = sorted(x["started_at"] for x in t)[2:]
    handovers = [b - a for a, b in zip(ends, later, strict=False) if b > a]
    nodes: dict[str, int] = {}
    for run_id in ids:
        for event in server.http.get(f"/api/runs/{run_id}/events").json():
            message = event.get("message") or ""
            if event.get("status") == "starting" and message.startswith("on node "):
                nodes[message[8:]] = nodes.get(message[8:], 0) + 1
    del run
    return {"wall_s": wall, "nodes": nodes, "start_s": statistics.median(starts),
            "train_s": statistics.median(trains),
            "handover_s": statistics.median(handovers) if handovers else float("nan")}


# -- the orchestrator ---------------------------------------------------------------------------

def pct(ordered: list[float], q: float) -> float:
    if not ordered:
        return float("nan")
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * len(ordered) + 0.5) - 1))]


def spread(values: list[float]) -> str:
    if len(values) == 1:
        return f"{values[0]:.1f}"
    return f"{statistics.median(values):.1f} (min {min(values):.1f}, max {max(values):.1f})"


def side(name: str, tmp: Path, round_no: int, env: dict[str, str],
         args: argparse.Namespace) -> dict[str, Any]:
    server = Server(tmp / f"{name}-{round_no}", name, env)
    try:
        out: dict[str, Any] = {}
        if "1" in args.parts:
            out["latency"] = latency(server, args.rate, args.seconds, ray=name == "ray")
        if "2" in args.parts:
            out["runs"] = many_runs(server, args.runs, args.steps)
        return out
    except BaseException:
        print(f"--- the {name} server's log ---\n{server.tail()}", file=sys.stderr)
        raise
    finally:
        server.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=100.0, help="metrics events/s (1)")
    parser.add_argument("--seconds", type=float, default=20.0, help="how long (1) emits")
    parser.add_argument("--runs", type=int, default=8, help="tiny runs submitted at once (2)")
    parser.add_argument("--steps", type=int, default=1500, help="steps per tiny run (2)")
    parser.add_argument("--rounds", type=int, default=3, help="rounds of both sides")
    parser.add_argument("--parts", default="12", help="which figures: 1, 2 or 12")
    parser.add_argument("--quick", action="store_true",
                        help="a smoke check: 5 s of events, 4 runs of 300 steps, one round")
    parser.add_argument("--role", choices=("server",), help=argparse.SUPPRESS)
    parser.add_argument("--data-dir", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--port-file", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--backend", default="local", help=argparse.SUPPRESS)
    parser.add_argument("--address", default="", help=argparse.SUPPRESS)
    parser.add_argument("--node-ip", default="", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.role == "server":
        return serve(args.data_dir, args.port_file, args.backend, args.address, args.node_ip)
    if args.quick:
        args.seconds, args.runs, args.steps, args.rounds = 5.0, 4, 300, 1
    if min(args.rate, args.seconds, args.runs, args.steps, args.rounds) <= 0:
        parser.error("--rate, --seconds, --runs, --steps and --rounds must be positive")

    sys.path.insert(0, str(ROOT))
    from tests.server.ray_cluster import RayCluster, ray_available

    if not ray_available():
        print("bench_cluster: the ray package is not installed (pip install -e '.[dev]')",
              file=sys.stderr)
        return 1
    print(f"bench_cluster: {platform.node()}, {os.cpu_count()} CPU cores, python "
          f"{platform.python_version()}, ray {version('ray')}, torch {version('torch')}")
    print(f"  a 2-node Ray cluster on 127.0.0.2/127.0.0.3 (1 CPU each) vs the local backend "
          f"(2 slots of 1 thread); {args.rounds} round(s), sides alternating")
    cluster = RayCluster(pythonpath=[str(HERE)]).start()
    results: dict[str, list[dict[str, Any]]] = {"local": [], "ray": []}
    try:
        with tempfile.TemporaryDirectory(prefix="bench-cluster-") as tmp_name:
            tmp = Path(tmp_name)
            for r in range(args.rounds):
                order = ["local", "ray"] if r % 2 == 0 else ["ray", "local"]
                for name in order:
                    env = cluster.server_env() if name == "ray" else {
                        "RAY_USAGE_STATS_ENABLED": "0"}
                    got = side(name, tmp, r, env, args)
                    results[name].append(got)
                    print(f"  round {r + 1} {name:5s}: " + describe(got), flush=True)
    finally:
        cluster.stop()
    report(results, args)
    return 0


def describe(got: dict[str, Any]) -> str:
    parts = []
    if "latency" in got:
        lat = got["latency"]
        parts.append(f"latency p50 {lat['p50']:.2f} ms, p99 {lat['p99']:.2f} ms, max "
                     f"{lat['max']:.1f} ms ({lat['received']}/{lat['expected']} events)")
    if "runs" in got:
        runs = got["runs"]
        where = ", ".join(f"{k}: {v}" for k, v in sorted(runs["nodes"].items()))
        parts.append(f"runs wall {runs['wall_s']:.1f} s (a run's start {runs['start_s']:.2f} s, "
                     f"training {runs['train_s']:.2f} s, handover {runs['handover_s']:.2f} s)"
                     + (f" on {where}" if where else ""))
    return "; ".join(parts)


def report(results: dict[str, list[dict[str, Any]]], args: argparse.Namespace) -> None:
    print()
    if "1" in args.parts:
        print(f"(1) emit -> WebSocket client latency at {args.rate:g} events/s for "
              f"{args.seconds:g} s, median over rounds (min, max):")
        for q in ("p50", "p99"):
            local = [g["latency"][q] for g in results["local"]]
            ray = [g["latency"][q] for g in results["ray"]]
            over = [b - a for a, b in zip(local, ray, strict=True)]
            target = TARGET_P50_MS if q == "p50" else TARGET_P99_MS
            worst = max(over)
            print(f"  {q}: local pipe {spread(local)} ms, Ray {spread(ray)} ms; Ray's overhead "
                  f"{spread(over)} ms (target <= {target:g} ms: "
                  f"{'met' if worst <= target else 'NOT met'} in every round)"
                  if len(over) > 1 else
                  f"  {q}: local pipe {local[0]:.2f} ms, Ray {ray[0]:.2f} ms; Ray's overhead "
                  f"{over[0]:.2f} ms (target <= {target:g} ms: "
                  f"{'met' if worst <= target else 'NOT met'})")
        lost = sum(g["latency"]["expected"] - g["latency"]["received"]
                   for side_ in results.values() for g in side_)
        print(f"  events lost: {lost}")
    if "2" in args.parts:
        local = [g["runs"]["wall_s"] for g in results["local"]]
        ray = [g["runs"]["wall_s"] for g in results["ray"]]
        ratios = [b / a for a, b in zip(local, ray, strict=True)]
        nodes: dict[str, int] = {}
        for g in results["ray"]:
            for k, v in g["runs"]["nodes"].items():
                nodes[k] = nodes.get(k, 0) + v
        print(f"(2) {args.runs} runs of {args.steps} steps submitted at once: wall local "
              f"{spread(local)} s, Ray {spread(ray)} s; ratio Ray/local "
              + (f"{statistics.median(ratios):.2f} (min {min(ratios):.2f}, max "
                 f"{max(ratios):.2f})" if len(ratios) > 1 else f"{ratios[0]:.2f}"))
        for key, what in (("start_s", "a run's start (submit -> training)"),
                          ("train_s", "a run's training"),
                          ("handover_s", "handover (a run's end -> the next run training)")):
            print(f"  {what}: local {spread([g['runs'][key] for g in results['local']])} s, "
                  f"Ray {spread([g['runs'][key] for g in results['ray']])} s")
        used = ", ".join(f"{k}: {v} runs" for k, v in sorted(nodes.items()))
        print(f"  Ray placed them on {len(nodes)} node(s): {used}")


if __name__ == "__main__":
    sys.exit(main())

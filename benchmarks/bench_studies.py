"""Study judgments at survey scale: 100 simulated participants over HTTP, 50 judgments each.

    .venv/bin/python benchmarks/bench_studies.py                 # three phases, ~3 min
    .venv/bin/python benchmarks/bench_studies.py --participants 20 --trials 10 --pace 0.2
    .venv/bin/python benchmarks/bench_studies.py --phases saturated,ceiling \
        --client-cpu 0 --server-cpu 1            # capacity, and the HTTP stack's own ceiling
    .venv/bin/python benchmarks/bench_studies.py --database-url sqlite \
        --database-url postgresql+psycopg://user:pw@127.0.0.1/ganscope   # both, side by side

Each participant starts a session, then submits its judgments one after another, each waiting
for the acknowledgement before the next, as the browser does. Three phases, each on a study of
its own:

- ``paced``: the question a participant asks, "do I wait for the server?": every participant
  takes ``--pace`` seconds per trial (the study's 1 s exposure and a response; default 1.5 s,
  randomized +-50% so they do not march in step), all 100 at once. Judgment latency
  p50/p95/p99; target p99 <= 50 ms.
- ``saturated``: the server's capacity: no pause between trials, all at once. Judgments per
  second from the first judgment sent to the last acknowledged; target >= 1,000/s. (With 100
  clients that never pause, latency is 100 / throughput by Little's law: it measures the
  queue, not the server's speed, and is printed for completeness.)
- ``SIGKILL midway``: saturated, the server is killed with SIGKILL when half the judgments are
  acknowledged, then restarted; clients retry what failed (a judgment is idempotent). Every
  acknowledged judgment must be in the database afterwards, and none twice.
- ``ceiling`` (only when asked for with ``--phases``): what the same client gets from the same
  server for requests that store nothing, so that the saturated figure can be read against the
  HTTP stack's own cost: ``GET /api/health`` (a read transaction, run in the thread pool) and
  ``GET`` of an unknown path (routing and a 404: no endpoint), on the judgment server, and one
  ``async`` route returning a constant on a bare FastAPI app served by uvicorn with
  ``ganscope serve``'s options, pinned like the server.

The server runs on the SQLite file in its data folder (``sqlite``, the default) or on the
database ``--database-url`` names (PostgreSQL: a database its role may create tables in; the
server migrates it). What is stored is read back through the project's own database layer.
Given several ``--database-url``, the phases run on each and a table sets them side by side.
The client shares the machine's cores with the server; ``--client-cpu``/``--server-cpu`` pin
each to its own (taskset lists, e.g. 0 and 1) so that the client's work is not counted as the
server's.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
from sqlalchemy import select

from server.db import Database, safe_url
from server.models import Judgment, StudySession

ROOT = Path(__file__).resolve().parents[1]
IMAGE_RUN = {"preset": "digits-dcgan", "overrides": {
    "data.limit": 256, "model.z_dim": 16, "model.g_channels": 8, "model.d_channels": 8,
    "train.steps": 4, "train.batch_size": 16, "train.report_every": 2,
    "train.sample_every": 4, "train.checkpoint_every": 4, "train.num_threads": 1}}


def _server_class():
    """The test suite's `ganscope serve` subprocess wrapper (the repository's tests package)."""
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    from tests.server.conftest import Server

    return Server


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


async def participant(client: httpx.AsyncClient, study_id: str, name: str, trials: int,
                      acked: set[tuple[str, int]], latencies: list[float], pace: float,
                      times: list[float]) -> None:
    rng = random.Random(name)
    token = None
    while token is None:
        try:
            r = await client.post(f"/api/studies/{study_id}/sessions", json={"participant": name})
            r.raise_for_status()
            token = r.json()["token"]
        except httpx.HTTPError:
            await asyncio.sleep(0.2)
    for position in range(trials):
        if pace:
            await asyncio.sleep(pace * rng.uniform(0.5, 1.5))
        body = {"position": position, "response": position % 2, "exposures_ms": [1000.0, 1000.0],
                "response_ms": 500.0}
        while True:
            start = time.perf_counter()
            times.append(start)
            try:
                r = await client.post(f"/api/studies/{study_id}/sessions/{token}/judgments",
                                      json=body)
            except httpx.HTTPError:  # the server is down: try the same judgment again
                await asyncio.sleep(0.2)
                continue
            if r.status_code == 200 and r.json()["stored"]:
                end = time.perf_counter()
                times.append(end)
                latencies.append(end - start)
                acked.add((token, position))
                break
            raise RuntimeError(f"{name} trial {position}: {r.status_code} {r.text}")


def stored(server, study_id: str) -> tuple[int, int, set[tuple[str, int]]]:
    db = Database(server.database_url)
    try:
        with db.read() as session:
            rows = session.execute(
                select(StudySession.token, Judgment.position)
                .join(Judgment, Judgment.session_id == StudySession.id)
                .where(StudySession.study_id == study_id)).all()
    finally:
        db.dispose()
    keys = {(t, p) for t, p in rows}
    return len(rows), len(keys), keys


async def hammer(url: str, path: str, n: int, each: int) -> tuple[int, float]:
    """``n`` clients that GET ``path`` ``each`` times one after another: (requests, seconds)."""
    times: list[float] = []

    async def client_loop(client: httpx.AsyncClient) -> None:
        for _ in range(each):
            r = await client.get(path)
            if r.status_code not in (200, 404):
                raise RuntimeError(f"GET {path}: {r.status_code} {r.text}")
        times.append(time.perf_counter())

    async with clients(url, n) as each_client:
        await asyncio.gather(*(c.get(path) for c in each_client))  # connections open
        start = time.perf_counter()
        await asyncio.gather(*(client_loop(c) for c in each_client))
    return n * each, max(times) - start


CLIENT = "raw"


class RawResponse:
    def __init__(self, status_code: int, body: bytes) -> None:
        self.status_code = status_code
        self.text = body.decode()

    def json(self):
        return json.loads(self.text)

    def raise_for_status(self) -> None:
        if self.status_code >= 400:
            raise httpx.HTTPStatusError(f"{self.status_code} {self.text}", request=None,
                                        response=None)  # type: ignore[arg-type]


class RawClient:
    """One keep-alive HTTP/1.1 connection written and read by hand: a few tens of
    microseconds of client CPU a request where httpx spends several hundred, so that a
    single client core can ask more of the server than the server can answer. Errors on the
    connection surface as httpx.TransportError (the participant retries) and reconnect."""

    def __init__(self, url: str) -> None:
        self.host, port = url.removeprefix("http://").split(":")
        self.port = int(port)
        self.streams: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None

    async def request(self, method: str, path: str, body: bytes = b"") -> RawResponse:
        try:
            if self.streams is None:
                self.streams = await asyncio.open_connection(self.host, self.port)
            reader, writer = self.streams
            head = (f"{method} {path} HTTP/1.1\r\nhost: {self.host}\r\n"
                    f"content-type: application/json\r\ncontent-length: {len(body)}\r\n\r\n")
            writer.write(head.encode() + body)
            status_line, _, headers = (await reader.readuntil(b"\r\n\r\n")).partition(b"\r\n")
            length = 0
            for line in headers.split(b"\r\n"):
                name, _, value = line.partition(b":")
                if name.lower() == b"content-length":
                    length = int(value)
            return RawResponse(int(status_line.split()[1]), await reader.readexactly(length))
        except (OSError, asyncio.IncompleteReadError, ValueError) as exc:
            await self.aclose()
            raise httpx.TransportError(str(exc)) from exc

    async def get(self, path: str) -> RawResponse:
        return await self.request("GET", path)

    async def post(self, path: str, json: dict) -> RawResponse:
        return await self.request("POST", path, _json_bytes(json))

    async def aclose(self) -> None:
        if self.streams is not None:
            self.streams[1].close()
            self.streams = None


def _json_bytes(value: dict) -> bytes:
    return json.dumps(value, separators=(",", ":")).encode()


@contextlib.asynccontextmanager
async def clients(url: str, n: int) -> AsyncIterator[list[httpx.AsyncClient]]:
    """One HTTP client per participant, as each has a browser of their own (``--client raw``,
    the default: RawClient; ``httpx``: an httpx client each); or, with ``--client
    httpx-shared``, one client whose pool holds the n connections. httpx looks at every pooled
    connection for each request (is it expired? readable?), so a shared pool of 100 costs the
    client a few hundred microseconds a request: on one core, that caps the figure near the
    client's speed, not the server's."""
    async with contextlib.AsyncExitStack() as stack:
        if CLIENT == "raw":
            each = [RawClient(url) for _ in range(n)]
            for client in each:
                stack.push_async_callback(client.aclose)
            yield each
        elif CLIENT == "httpx-shared":
            limits = httpx.Limits(max_connections=n, max_keepalive_connections=n)
            shared = await stack.enter_async_context(
                httpx.AsyncClient(base_url=url, timeout=60, limits=limits))
            yield [shared] * n
        else:
            yield [await stack.enter_async_context(httpx.AsyncClient(base_url=url, timeout=60))
                   for _ in range(n)]


BARE_APP = """
import sys, uvicorn
from fastapi import FastAPI
from server.cli import UVICORN_OPTIONS
app = FastAPI()

@app.get("/ping")
async def ping() -> dict:
    return {"status": "ok"}

uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), log_level="warning",
            **UVICORN_OPTIONS)
"""


def ceiling(server, n: int, each: int) -> None:
    """Requests/s for requests that store nothing, with the judgments' client."""
    for path in ("/api/health", "/api/no-such-path"):
        count, wall = asyncio.run(hammer(server.url, path, n, each))
        print(f"  GET {path} on the judgment server: {count / wall:.0f} requests/s")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    bare = subprocess.Popen([sys.executable, "-c", BARE_APP, str(port)], cwd=ROOT)
    try:
        url = f"http://127.0.0.1:{port}"
        for _ in range(100):
            try:
                httpx.get(url + "/ping", timeout=1)
                break
            except httpx.HTTPError:
                time.sleep(0.1)
        if SERVER_CPUS is not None:
            subprocess.run(["taskset", "-a", "-p", "-c", SERVER_CPUS, str(bare.pid)],
                           check=True, capture_output=True)
        count, wall = asyncio.run(hammer(url, "/ping", n, each))
        print(f"  GET /ping (async, a constant) on a bare FastAPI app: {count / wall:.0f} "
              "requests/s")
    finally:
        bare.terminate()
        bare.wait()


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process, all its threads (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def phase(server, study_id: str, n: int, trials: int, kill_at: int | None,
                pace: float = 0.0) -> dict:
    acked: set[tuple[str, int]] = set()
    latencies: list[float] = []
    times: list[float] = []
    cpu_before = cpu_seconds(server.proc.pid)
    async with clients(server.url, n) as each_client:
        tasks = [asyncio.create_task(participant(client, study_id, f"B{i}", trials, acked,
                                                 latencies, pace, times))
                 for i, client in enumerate(each_client)]
        killed_after = None
        if kill_at is not None:
            while len(acked) < kill_at:
                await asyncio.sleep(0.01)
            server.kill()
            killed_after = len(acked)
            acked_at_kill = set(acked)
            await asyncio.to_thread(server.start)
            pin(server)
        await asyncio.gather(*tasks)
    server_cpu = None if kill_at is not None else cpu_seconds(server.proc.pid) - cpu_before
    rows, distinct, keys = stored(server, study_id)
    out = {"acked": len(acked), "stored": rows, "distinct": distinct,
           "missing_acked": len(acked - keys), "latencies": latencies,
           "wall": max(times) - min(times), "server_cpu": server_cpu}
    if kill_at is not None:
        out["killed_after"] = killed_after
        out["acked_before_kill_missing"] = len(acked_at_kill - keys)
    return out


SERVER_CPUS: str | None = None


def pin(server) -> None:
    """The server process and all its threads (and the workers it spawns) on SERVER_CPUS."""
    if SERVER_CPUS is not None:
        subprocess.run(["taskset", "-a", "-p", "-c", SERVER_CPUS, str(server.proc.pid)],
                       check=True, capture_output=True)


def make_study(api: httpx.Client, run_id: str, trials: int) -> str:
    r = api.post("/api/studies", json={"name": "bench", "practice_trials": 0,
                                       "main_trials": trials, "vigilance_rate": 0,
                                       "pool_size": 10,
                                       "conditions": [{"run_id": run_id, "label": "G"}]})
    r.raise_for_status()
    return r.json()["id"]


TARGETS = {"paced": "p99 <= 50 ms", "saturated": ">= 1,000 judgments/s",
           "SIGKILL midway": "none acknowledged lost"}
PHASES = {"paced": "paced", "saturated": "saturated", "sigkill": "SIGKILL midway"}


def report(name: str, result: dict, expected: int) -> bool:
    lat = [x * 1e3 for x in result["latencies"]]
    result.update(p50=statistics.median(lat), p95=percentile(lat, 95), p99=percentile(lat, 99),
                  rate=expected / result["wall"])
    ok = result["stored"] == result["distinct"] == expected and result["missing_acked"] == 0
    print(f"{name}: {result['acked']} acknowledged, {result['stored']} stored "
          f"({result['distinct']} distinct), acknowledged but missing: {result['missing_acked']}")
    if "killed_after" in result:
        print(f"  SIGKILL after {result['killed_after']} acknowledgements; of those, missing "
              f"afterwards: {result['acked_before_kill_missing']}")
    print(f"  judgment latency ms: p50 {result['p50']:.1f}  p95 {result['p95']:.1f}  p99 "
          f"{result['p99']:.1f}  max {max(lat):.1f}  (n={len(lat)}); {result['rate']:.0f} "
          f"judgments/s from the first sent to the last acknowledged")
    met = {"paced": result["p99"] <= 50, "saturated": result["rate"] >= 1000,
           "SIGKILL midway": result["missing_acked"] == 0}[name]
    # a figure that other work on the machine does not change; only where the server was busy
    # throughout (paced, it also counts the background work of the idle seconds between trials)
    if result["server_cpu"] and name == "saturated":
        per = result["server_cpu"] / expected
        print(f"  server CPU time: {per * 1e3:.3f} ms a judgment (its session's start "
              f"included): {1 / per:.0f} judgments/s on one core it had to itself")
    print(f"  target {TARGETS[name]}: {'met' if met else 'MISSED'}; "
          f"{'stored exactly once: OK' if ok else 'STORAGE FAILED'}")
    return ok


def run_on(url: str, args: argparse.Namespace) -> tuple[bool, dict[str, dict]]:
    """The phases on a fresh server over the database ``url`` ("sqlite": its file)."""
    names = [PHASES[p] for p in args.phases if p in PHASES]
    Server = _server_class()
    env = {} if url == "sqlite" else {"GANSCOPE_DATABASE_URL": url}
    results: dict[str, dict] = {}
    ok = True
    with tempfile.TemporaryDirectory() as tmp:
        server = Server(Path(tmp) / "data", **env).start()
        pin(server)
        print(f"\ndatabase: {safe_url(server.database_url)}")
        try:
            with httpx.Client(base_url=server.url, timeout=120) as api:
                run_id = api.post("/api/runs", json=IMAGE_RUN).json()["id"]
                while api.get(f"/api/runs/{run_id}").json()["status"] not in ("completed",
                                                                               "failed"):
                    time.sleep(0.2)
                studies = {name: make_study(api, run_id, args.trials) for name in names}
            expected = args.participants * args.trials
            plan = {"paced": (None, args.pace), "saturated": (None, 0.0),
                    "SIGKILL midway": (expected // 2, 0.0)}
            for name in names:
                kill_at, pace = plan[name]
                results[name] = asyncio.run(phase(server, studies[name], args.participants,
                                                  args.trials, kill_at, pace))
                ok &= report(name, results[name], expected)
            if "ceiling" in args.phases:
                print("ceiling: requests that store nothing, same client")
                ceiling(server, args.participants, args.trials)
        finally:
            server.stop()
    return ok, results


def main() -> int:
    global SERVER_CPUS, CLIENT
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--participants", type=int, default=100)
    parser.add_argument("--trials", type=int, default=50)
    parser.add_argument("--pace", type=float, default=1.5,
                        help="seconds per trial in the paced phase (default 1.5)")
    parser.add_argument("--database-url", action="append", dest="urls", metavar="URL",
                        help="the server's database: sqlite (its own file, the default) or a "
                        "SQLAlchemy URL; repeat to compare databases")
    parser.add_argument("--phases", default="paced,saturated,sigkill",
                        help="comma-separated, of paced, saturated, sigkill, ceiling (default "
                        "the first three)")
    parser.add_argument("--client", choices=("raw", "httpx", "httpx-shared"), default="raw",
                        help="the participants' HTTP client: raw (default: a hand-written "
                        "keep-alive client, cheap enough that one core outruns the server), "
                        "httpx (one each) or httpx-shared (one for all, with a pool of "
                        "--participants connections: the figures before issue 16's study; on "
                        "one client core, the client's own work, not the server, sets them)")
    parser.add_argument("--server-cpu", help="CPUs of the server, e.g. 1 (taskset list)")
    parser.add_argument("--client-cpu", help="CPUs of the simulated participants, e.g. 0")
    args = parser.parse_args()
    args.phases = [p.strip() for p in args.phases.split(",") if p.strip()]
    unknown = set(args.phases) - {*PHASES, "ceiling"}
    if unknown or not args.phases:
        parser.error(f"--phases: unknown {', '.join(sorted(unknown))}; choose from paced, "
                     "saturated, sigkill, ceiling")
    if min(args.participants, args.trials) < 1 or args.pace < 0:
        parser.error("--participants and --trials must be at least 1, --pace at least 0")
    SERVER_CPUS = args.server_cpu
    CLIENT = args.client
    if args.client_cpu:
        os.sched_setaffinity(0, {int(c) for c in args.client_cpu.split(",")})
    print(f"bench_studies: {os.cpu_count()} CPU cores; {args.participants} participants x "
          f"{args.trials} judgments per phase ({', '.join(args.phases)}); paced at {args.pace} s "
          f"per trial; server CPUs {args.server_cpu or 'all'}, client CPUs "
          f"{args.client_cpu or 'all'}; "
          f"{args.client} HTTP client")
    ok, table = True, {}
    for url in args.urls or ["sqlite"]:
        good, table[url] = run_on(url, args)
        ok &= good
    if len(table) > 1:
        print("\nside by side: judgment latency ms p50 / p99, judgments/s, acknowledged but "
              "missing")
        for url, results in table.items():
            name = safe_url(url) if url != "sqlite" else "sqlite (data folder)"
            cells = [f"{phase_name} {r['p50']:.1f} / {r['p99']:.1f} ms, {r['rate']:.0f}/s, "
                     f"{r['missing_acked']} missing" for phase_name, r in results.items()]
            print(f"  {name}\n    " + "\n    ".join(cells))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())

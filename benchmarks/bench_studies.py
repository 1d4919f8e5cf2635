"""Study judgments under load: 100 simulated participants over HTTP, 50 judgments each, at once.

    .venv/bin/python benchmarks/bench_studies.py                 # both phases, ~1-2 min
    .venv/bin/python benchmarks/bench_studies.py --participants 20 --trials 10   # quick
    .venv/bin/python benchmarks/bench_studies.py --database-url sqlite \
        --database-url postgresql+psycopg://user:pw@127.0.0.1/ganscope   # both, side by side

Phase 1: every participant starts a session and submits its 50 judgments one after another
(each waits for the acknowledgement, as the browser does), all participants at once. Reports
p50/p95/p99 latency of a judgment and checks that all 100 x 50 are stored exactly once.

Phase 2: the same, and the server is killed with SIGKILL when about half the judgments are
acknowledged, then restarted. Clients retry what failed (a judgment is idempotent) until the
server is back. Afterwards every acknowledged judgment must be in the database, and none twice.

The server runs on the SQLite file in its data folder (``sqlite``, the default) or on the
database ``--database-url`` names (PostgreSQL: a database its role may create tables in; the
server migrates it). What is stored is read back through the project's own database layer.
Given several ``--database-url``, both phases run on each and a table sets them side by side.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import statistics
import sys
import tempfile
import time
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
    """The test suite's `ganscope serve` subprocess wrapper, loaded by path."""
    spec = importlib.util.spec_from_file_location("studies_bench_conftest",
                                                  ROOT / "tests" / "server" / "conftest.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    return module.Server


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


async def participant(client: httpx.AsyncClient, study_id: str, name: str, trials: int,
                      acked: set[tuple[str, int]], latencies: list[float]) -> None:
    token = None
    while token is None:
        try:
            r = await client.post(f"/api/studies/{study_id}/sessions", json={"participant": name})
            r.raise_for_status()
            token = r.json()["token"]
        except httpx.HTTPError:
            await asyncio.sleep(0.2)
    for position in range(trials):
        body = {"position": position, "response": position % 2, "exposures_ms": [1000.0, 1000.0],
                "response_ms": 500.0}
        while True:
            start = time.perf_counter()
            try:
                r = await client.post(f"/api/studies/{study_id}/sessions/{token}/judgments",
                                      json=body)
            except httpx.HTTPError:  # the server is down: try the same judgment again
                await asyncio.sleep(0.2)
                continue
            if r.status_code == 200 and r.json()["stored"]:
                latencies.append(time.perf_counter() - start)
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


async def phase(server, study_id: str, n: int, trials: int, kill_at: int | None) -> dict:
    acked: set[tuple[str, int]] = set()
    latencies: list[float] = []
    limits = httpx.Limits(max_connections=n, max_keepalive_connections=n)
    async with httpx.AsyncClient(base_url=server.url, timeout=60, limits=limits) as client:
        tasks = [asyncio.create_task(participant(client, study_id, f"B{i}", trials, acked,
                                                 latencies)) for i in range(n)]
        killed_after = None
        if kill_at is not None:
            while len(acked) < kill_at:
                await asyncio.sleep(0.01)
            server.kill()
            killed_after = len(acked)
            acked_at_kill = set(acked)
            await asyncio.to_thread(server.start)
        start = time.perf_counter()
        await asyncio.gather(*tasks)
        wall = time.perf_counter() - start
    rows, distinct, keys = stored(server, study_id)
    out = {"acked": len(acked), "stored": rows, "distinct": distinct,
           "missing_acked": len(acked - keys), "latencies": latencies, "wall": wall}
    if kill_at is not None:
        out["killed_after"] = killed_after
        out["acked_before_kill_missing"] = len(acked_at_kill - keys)
    return out


def make_study(api: httpx.Client, run_id: str, trials: int) -> str:
    r = api.post("/api/studies", json={"name": "bench", "practice_trials": 0,
                                       "main_trials": trials, "vigilance_rate": 0,
                                       "pool_size": 10,
                                       "conditions": [{"run_id": run_id, "label": "G"}]})
    r.raise_for_status()
    return r.json()["id"]


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
    print(f"  judgment latency ms: p50 {statistics.median(lat):.1f}  p95 "
          f"{percentile(lat, 95):.1f}  p99 {percentile(lat, 99):.1f}  max {max(lat):.1f}  "
          f"(n={len(lat)}); {expected / result['wall']:.0f} judgments/s overall")
    print(f"  {'OK' if ok else 'FAILED'}")
    return ok


def run_on(url: str, args: argparse.Namespace) -> tuple[bool, dict[str, dict]]:
    """Both phases on a fresh server over the database ``url`` ("sqlite": its own file)."""
    Server = _server_class()
    env = {} if url == "sqlite" else {"GANSCOPE_DATABASE_URL": url}
    results: dict[str, dict] = {}
    with tempfile.TemporaryDirectory() as tmp:
        server = Server(Path(tmp) / "data", **env).start()
        print(f"\ndatabase: {safe_url(server.database_url)}")
        try:
            with httpx.Client(base_url=server.url, timeout=120) as api:
                run_id = api.post("/api/runs", json=IMAGE_RUN).json()["id"]
                while api.get(f"/api/runs/{run_id}").json()["status"] not in ("completed",
                                                                               "failed"):
                    time.sleep(0.2)
                first = make_study(api, run_id, args.trials)
                second = make_study(api, run_id, args.trials)
            expected = args.participants * args.trials
            results["concurrent"] = asyncio.run(phase(server, first, args.participants,
                                                      args.trials, None))
            ok = report("concurrent", results["concurrent"], expected)
            results["SIGKILL midway"] = asyncio.run(phase(
                server, second, args.participants, args.trials, expected // 2))
            ok &= report("SIGKILL midway", results["SIGKILL midway"], expected)
        finally:
            server.stop()
    return ok, results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--participants", type=int, default=100)
    parser.add_argument("--trials", type=int, default=50)
    parser.add_argument("--database-url", action="append", dest="urls", metavar="URL",
                        help="the server's database: sqlite (its own file, the default) or a "
                        "SQLAlchemy URL; repeat to compare databases")
    args = parser.parse_args()
    if min(args.participants, args.trials) < 1:
        parser.error("--participants and --trials must be at least 1")
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

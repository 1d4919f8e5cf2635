"""Study judgments under load: 100 simulated participants over HTTP, 50 judgments each, at once.

    .venv/bin/python benchmarks/bench_studies.py                 # both phases, ~1-2 min
    .venv/bin/python benchmarks/bench_studies.py --participants 20 --trials 10   # quick

Phase 1: every participant starts a session and submits its 50 judgments one after another
(each waits for the acknowledgement, as the browser does), all participants at once. Reports
p50/p95/p99 latency of a judgment and checks that all 100 x 50 are stored exactly once.

Phase 2: the same, and the server is killed with SIGKILL when about half the judgments are
acknowledged, then restarted. Clients retry what failed (a judgment is idempotent) until the
server is back. Afterwards every acknowledged judgment must be in the database, and none twice.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import sqlite3
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx

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
    with sqlite3.connect(server.data_dir / "ganscope.db") as db:
        rows = db.execute("SELECT s.token, j.position FROM study_judgments j JOIN study_sessions "
                          "s ON s.id = j.session_id WHERE s.study_id = ?", (study_id,)).fetchall()
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


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--participants", type=int, default=100)
    parser.add_argument("--trials", type=int, default=50)
    args = parser.parse_args()
    Server = _server_class()
    with tempfile.TemporaryDirectory() as tmp:
        server = Server(Path(tmp) / "data").start()
        try:
            with httpx.Client(base_url=server.url, timeout=120) as api:
                run_id = api.post("/api/runs", json=IMAGE_RUN).json()["id"]
                while api.get(f"/api/runs/{run_id}").json()["status"] not in ("completed",
                                                                               "failed"):
                    time.sleep(0.2)
                first = make_study(api, run_id, args.trials)
                second = make_study(api, run_id, args.trials)
            expected = args.participants * args.trials
            ok = report("concurrent", asyncio.run(phase(server, first, args.participants,
                                                        args.trials, None)), expected)
            ok &= report("SIGKILL midway", asyncio.run(phase(
                server, second, args.participants, args.trials, expected // 2)), expected)
        finally:
            server.stop()
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())

"""The latent explorer's slider round trip, through a real server and a real WebSocket client.

A real ``ganscope serve`` runs in a subprocess on a free loopback port. For each DCGAN size
(32x32 and 64x64, the model's default widths, the EMA generator) it trains a run for one step
so that it has a checkpoint, then drives ``/ws/explore/{id}`` the way a slider does:

- **moves**: ``--moves`` slider moves, each sent when the previous image arrived (a person
  dragging as fast as the images come back): round trip p50 / p99 / max, and the image
  service's own render time. Each move changes one latent dimension by a small step.
- **burst**: ``--burst`` moves in one second, sent every 1/burst s without waiting (a fast
  drag): how many were rendered (the rest superseded: latest wins), and the latency of the
  final move from its send to its image (what a person waits for once the drag stops).

Target (32x32 on CPU): p50 <= 25 ms, p99 <= 60 ms. It is a report: it exits 0 whatever the
figures, 1 on an error.

    python benchmarks/bench_explorer.py              # about 2 minutes on 2 CPU cores
    python benchmarks/bench_explorer.py --quick      # 50 moves per size
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

TARGET_P50_MS, TARGET_P99_MS = 25.0, 60.0
SIZES = (32, 64)


def make_run(api: Any, size: int) -> str:
    from tests.server.conftest import wait_status

    body = {"preset": "digits-dcgan", "name": f"bench-explorer-{size}", "overrides": {
        "data.image_size": size, "data.limit": 256, "model.g_channels": 64,
        "model.d_channels": 64, "train.steps": 1, "train.batch_size": 8,
        "train.checkpoint_every": 1, "train.sample_every": 1, "train.report_every": 1}}
    r = api.post("/api/runs", json=body)
    r.raise_for_status()
    run_id = r.json()["id"]
    status = wait_status(api, run_id, "completed", "failed", timeout=300)["status"]
    if status != "completed":
        raise RuntimeError(f"the {size}px run {status}")
    return run_id


def percentile(ordered: list[float], q: float) -> float:
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def moves(ws: Any, z: list[float], count: int) -> dict[str, list[float]]:
    """Closed loop: each move waits for the previous image."""
    trip, render, server = [], [], []
    for i in range(count):
        z[i % len(z)] += 0.05 if (i // len(z)) % 2 == 0 else -0.05
        start = time.perf_counter()
        ws.send(json.dumps({"id": i, "z": z}))
        answer = json.loads(ws.recv(60))
        trip.append((time.perf_counter() - start) * 1e3)
        if answer["type"] != "image":
            raise RuntimeError(f"move {i}: {answer}")
        render.append(answer["render_ms"])
        server.append(answer["server_ms"])
    return {"trip": trip, "render": render, "server": server}


def burst(ws: Any, z: list[float], count: int, seconds: float = 1.0) -> dict[str, Any]:
    """``count`` moves in ``seconds`` without waiting; then read until the last one's image."""
    import threading

    sent: dict[int, float] = {}
    answers: list[dict[str, Any]] = []
    received: dict[int, float] = {}

    def reader() -> None:
        while True:
            answer = json.loads(ws.recv(120))
            received[answer["id"]] = time.perf_counter()
            answers.append(answer)
            if answer["id"] == count - 1:
                return

    thread = threading.Thread(target=reader)
    thread.start()
    start = time.perf_counter()
    for i in range(count):
        target = start + i * seconds / count
        time.sleep(max(0.0, target - time.perf_counter()))
        z[i % len(z)] += 0.05
        sent[i] = time.perf_counter()
        ws.send(json.dumps({"id": i, "z": z}))
    thread.join(120)
    last = count - 1
    return {"rendered": len(answers), "superseded": sum(a["superseded"] for a in answers),
            "final_ms": (received[last] - sent[last]) * 1e3,
            "drag_ms": (received[last] - start) * 1e3}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--moves", type=int, default=500)
    parser.add_argument("--burst", type=int, default=100, help="moves in one second")
    parser.add_argument("--quick", action="store_true", help="50 moves per size")
    args = parser.parse_args(argv)
    if args.quick:
        args.moves = 50

    import httpx
    import torch
    from websockets.sync.client import connect

    from tests.server.conftest import Server

    print(f"GANscope explorer benchmark: {os.cpu_count()} CPUs, torch {torch.__version__}, "
          f"CUDA {'yes' if torch.cuda.is_available() else 'no'}; load average "
          f"{os.getloadavg()[0]:.2f}")
    print(f"  a real server (1 job slot), the image service in its own process; {args.moves} "
          f"closed-loop moves and a burst of {args.burst} moves in 1 s per size")
    with tempfile.TemporaryDirectory(prefix="bench_explorer_") as tmp:
        server = Server(Path(tmp), GANSCOPE_MAX_JOBS="1").start()
        try:
            with httpx.Client(base_url=server.url, timeout=300) as api:
                runs = {size: make_run(api, size) for size in SIZES}
                print(f"\n  {'DCGAN':<8}{'p50 ms':>8}{'p99 ms':>8}{'max ms':>8}"
                      f"{'render p50':>12}{'server p50':>12}   burst of {args.burst} in 1 s")
                for size, run_id in runs.items():
                    info = api.get(f"/api/runs/{run_id}/explore").json()  # loads G
                    z = [0.0] * info["z_dim"]
                    with connect(f"{server.ws_url}/ws/explore/{run_id}", max_size=1 << 24) as ws:
                        moves(ws, list(z), 20)  # warm-up: first forward passes, allocations
                        out = moves(ws, list(z), args.moves)
                        b = burst(ws, list(z), args.burst)
                    trip = sorted(out["trip"])
                    p50, p99 = percentile(trip, 0.5), percentile(trip, 0.99)
                    verdict = ""
                    if size == 32:
                        ok = p50 <= TARGET_P50_MS and p99 <= TARGET_P99_MS
                        verdict = (f"   target p50 <= {TARGET_P50_MS:.0f}, p99 <= "
                                   f"{TARGET_P99_MS:.0f}: {'ok' if ok else 'MISSED'}")
                    print(f"  {f'{size}x{size}':<8}{p50:>8.1f}{p99:>8.1f}{trip[-1]:>8.1f}"
                          f"{statistics.median(out['render']):>12.1f}"
                          f"{statistics.median(out['server']):>12.1f}   "
                          f"{b['rendered']} rendered, {b['superseded']} superseded, last move "
                          f"{b['final_ms']:.0f} ms to its image{verdict}")
        except Exception as exc:
            print(f"\nerror: {type(exc).__name__}: {exc}", file=sys.stderr)
            print(server.log.read_text()[-3000:], file=sys.stderr)
            return 1
        finally:
            server.stop()
    print(f"\nload average {os.getloadavg()[0]:.2f} (other work on the machine shows here)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

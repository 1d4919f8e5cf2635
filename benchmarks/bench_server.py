"""Time the server through its real stack: event latency, training throughput while watched, REST.

A real uvicorn serves ``create_app()`` in a subprocess on a free loopback port; runs train in
real spawned worker processes; the WebSocket clients (the ``websockets`` package) live in one
separate process, the REST readers (httpx) in this one. Three figures:

(1) Latency from a worker's emit to a client's receipt, with ``--clients`` WebSocket clients
    watching one run whose worker is synthetic (``synthetic_worker``, passed as
    ``create_app(worker_target=...)``): it emits ``--rate`` Metrics events a second on a fixed
    schedule for ``--seconds``, each carrying its ``time.time()`` as ``emit_time``. Also the
    messages each client got, and where the time goes: the stages an event passes through in
    the server (the hub's methods, timed in the server's process) and the client's socket.
(2) Training throughput of a real toy run (``ring8-gan``, metrics every step) with the clients
    watching / with none, in alternating order over rounds: the worker's own ``step_time``
    and steps/s from the run's own timestamps. The worker has a CPU to itself, the server, the
    clients and this process the others (``--worker-cpus``, ``--server-cpus``; ``--no-pin``:
    all share every CPU), so that the figure is what serving costs training, not what two
    programs on one core cost each other; how long the worker waited for its CPU shows what
    other work on the machine took from it.
(3) ``--readers`` concurrent REST readers of runs and metrics while a run trains.

It is a report, not a test: it exits 0 whatever the figures, 1 on an error.

    python benchmarks/bench_server.py            # about 6 minutes on 2 CPU cores
    python benchmarks/bench_server.py --quick    # a smoke check, under a minute
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import functools
import json
import os
import platform
import queue
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from importlib.metadata import version
from pathlib import Path
from typing import Any

from cpus import available, parse_cpus, pin

# Only the standard library at the top: the spawned synthetic worker re-imports this module.

ROOT = Path(__file__).resolve().parent.parent
PRESET = "ring8-gan"
TERMINAL = {"stopped", "completed", "diverged", "failed", "interrupted"}
# httpx's errors when the server closes a kept-alive connection under a request
CLOSED_UNDER_REQUEST = ("RemoteProtocolError: Server disconnected", "ReadError")
TARGET_P50_MS, TARGET_P99_MS, TARGET_RATIO = 5.0, 20.0, 0.97
LIVE_FLOAT = 0.123456789  # a typical metric value, so a synthetic frame is as long as a real one
# (1)'s stages, in order, and what each one adds (the clients' receipt comes last)
STAGES = {"pump": "the server's pump has it (worker's sender thread, pipe, pump thread)",
          "loop": "the event loop numbers it (call_soon_threadsafe)",
          "commit": "its row is committed (the writer thread), it is queued to each client",
          "send": "a client's sender takes it (the coalescing window, the event loop)"}
STAGES_FILE = "stages.json"
SYNTHETIC_KEYS = ("loss_d", "loss_g", "d_real", "d_fake", "grad_norm_d", "grad_norm_g",
                  "step_time", "images_per_s")


# -- the synthetic worker (runs in a spawned process: module level, so it pickles) ---------------

def synthetic_worker(spec: Any, channel: Any, controls: Any, *,
                     rate: float, seconds: float) -> None:
    """A worker entry point that emits ``rate`` Metrics events a second for ``seconds``.

    It first reports ``paused`` and waits for any control command (the benchmark sends
    ``resume`` once its clients are connected), then emits on a fixed schedule: event i is due
    at start + i / rate, so one late event does not shift the ones after it. Each carries its
    emit time (``time.time()``) in ``values["emit_time"]``. It ends with ``completed`` (or
    ``stopped`` on a stop command, or at once if the server goes away).
    """
    from multiprocessing import parent_process

    from gan_core.events import Metrics, StatusChanged
    from server.jobs.worker import ChannelSender

    sender = ChannelSender(channel, spec.run_id)
    server = parent_process()

    def server_gone() -> bool:
        return sender.broken or (server is not None and not server.is_alive())

    try:
        sender(StatusChanged(step=0, status="paused", message="waiting for the clients"))
        command = None
        while command is None and not server_gone():
            with contextlib.suppress(queue.Empty):
                command = controls.get(timeout=0.5)
        if command is None or command.action == "stop":
            sender(StatusChanged(step=0, status="stopped", message="stopped before it started"))
            return
        sender(StatusChanged(step=0, status="running"))
        count, period = round(rate * seconds), 1.0 / rate
        start, worst_lag = time.perf_counter(), 0.0
        for i in range(count):
            lag = time.perf_counter() - (start + i * period)
            if lag < 0:
                time.sleep(-lag)
            worst_lag = max(worst_lag, lag)
            values = dict.fromkeys(SYNTHETIC_KEYS, LIVE_FLOAT)
            values["emit_time"] = time.time()
            sender(Metrics(step=i + 1, values=values))
            if server_gone():
                return
            with contextlib.suppress(queue.Empty):
                if controls.get_nowait().action == "stop":
                    sender(StatusChanged(step=i + 1, status="stopped", message="stopped"))
                    return
        sender(StatusChanged(step=count, status="completed", message="",
                             extra={"sent": count, "worst_lag_ms": worst_lag * 1e3}))
    finally:
        sender.close()
        channel.close()


# -- role: the server subprocess ---------------------------------------------------------------

def serve(data_dir: Path, port_file: Path, rate: float | None, seconds: float,
          cpu_threads: int | None) -> int:
    """uvicorn on a free loopback port (written to ``port_file``), as ``ganscope serve`` runs it."""
    import logging
    import socket

    import uvicorn

    from server.app import create_app
    from server.settings import Settings

    logging.basicConfig(level=logging.WARNING,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    target = (functools.partial(synthetic_worker, rate=rate, seconds=seconds)
              if rate else None)
    stages = instrument_hub() if rate else None
    app = create_app(Settings(data_dir=data_dir, cpu_threads=cpu_threads), worker_target=target)
    # bound here and handed to uvicorn: no race for the port. IPPROTO_TCP, not socket()'s
    # default 0: asyncio sets TCP_NODELAY only on sockets that say they are TCP, and without
    # it Nagle's algorithm and delayed ACKs add 40 ms to each keep-alive response
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.bind(("127.0.0.1", 0))
    tmp = port_file.with_suffix(".tmp")
    tmp.write_text(str(sock.getsockname()[1]))
    os.replace(tmp, port_file)
    # ganscope serve's settings (server/cli.py), without the access log
    from server.cli import UVICORN_OPTIONS

    config = uvicorn.Config(app, log_level="warning", access_log=False,
                            timeout_graceful_shutdown=10, **UVICORN_OPTIONS)
    if stages is not None:
        # uvicorn re-raises the SIGTERM it stopped on once it has shut down, with the handler
        # it found: a handler that does nothing lets the stages below be written
        signal.signal(signal.SIGTERM, lambda signum, frame: None)
    uvicorn.Server(config).run(sockets=[sock])
    if stages is not None:
        tmp = data_dir / "stages.tmp"
        tmp.write_text(json.dumps(stages))
        os.replace(tmp, data_dir / STAGES_FILE)
    return 0


def instrument_hub() -> dict[str, list[float]]:
    """Where (1)'s latency goes: for each metrics event, ms from its emit to each stage the
    server passes it through, filled in as the hub's methods run (wrapped here, in the
    benchmark's server process only). Each client's sender "takes" a frame once: ``send``
    holds one entry per frame and client."""
    from server.runs import Hub, Subscriber

    stages: dict[str, list[float]] = {name: [] for name in STAGES}
    emitted: dict[int, float] = {}  # seq -> the worker's emit time
    committed_through = [0]
    publish, dispatch_message = Hub.publish, Hub.dispatch_message
    flushed, take = Hub._flushed, Subscriber.take

    def since(emit: float, now: float) -> float:
        return (now - emit) * 1e3

    def timed_publish(self: Any, run_id: str, events: list[Any], cursor: Any = None) -> None:
        now = time.time()
        for event in events:
            emit = getattr(event, "values", {}).get("emit_time")
            if emit is not None:
                stages["pump"].append(since(emit, now))
        publish(self, run_id, events, cursor)

    def timed_dispatch(self: Any, run_id: str, message: dict[str, Any],
                       cursor: Any = None) -> int:
        now = time.time()
        seq = dispatch_message(self, run_id, message, cursor)
        emit = message.get("values", {}).get("emit_time")
        if emit is not None and seq:
            emitted[seq] = emit
            stages["loop"].append(since(emit, now))
        return seq

    def timed_flushed(self: Any, done: dict[str, int], cursors: Any = None) -> None:
        now = time.time()
        for seq in range(committed_through[0] + 1, max(done.values(), default=0) + 1):
            if seq in emitted:
                stages["commit"].append(since(emitted[seq], now))
        committed_through[0] = max(committed_through[0], *done.values(), 0)
        flushed(self, done, cursors)

    def timed_take(self: Any) -> list[Any]:
        frames = take(self)
        now = time.time()
        for frame in frames:
            if frame.seq in emitted and frame.type == "metrics":
                stages["send"].append(since(emitted[frame.seq], now))
        return frames

    Hub.publish, Hub.dispatch_message = timed_publish, timed_dispatch
    Hub._flushed, Subscriber.take = timed_flushed, timed_take
    return stages


# -- role: the WebSocket clients' subprocess ---------------------------------------------------

def frame_type(raw: bytes) -> str:
    """The message's type without parsing it: every message starts with its "type"."""
    prefix = b'{"type": "'
    if raw.startswith(prefix):
        return raw[len(prefix): raw.index(b'"', len(prefix))].decode()
    return json.loads(raw)["type"]


async def watch_one(url: str, ready: asyncio.Queue, deadline: float,
                    deflate: bool) -> dict[str, Any]:
    """One client: the history, then every live frame until the run ends or the deadline."""
    from websockets.asyncio.client import connect

    out: dict[str, Any] = {"metrics": 0, "messages": 0, "latency_ms": [], "socket_ms": [],
                           "gap_frames": 0,
                           "dropped": 0,
                           "views": 0, "statuses": [], "error": None, "extra": None}
    said_ready = False
    try:
        async with connect(url, max_size=None, open_timeout=60, proxy=None,
                           create_connection=stamped_connection(),
                           compression="deflate" if deflate else None) as ws:
            history = json.loads(await ws.recv(decode=False))
            if history.get("type") != "history":
                raise RuntimeError(f"first message is {history.get('type')!r}, not history")
            await ready.put(None)
            said_ready = True
            while True:
                left = deadline - time.monotonic()
                if left <= 0:
                    out["error"] = "timed out before the run ended"
                    break
                async with asyncio.timeout(left):
                    raw = await ws.recv(decode=False)
                received, arrived = time.time(), ws.arrived
                out["messages"] += 1
                if raw.startswith(b"["):  # frames that waited together
                    frames = json.loads(raw)
                elif frame_type(raw) in ("view", "sample"):  # large and not needed: not parsed
                    out["views"] += 1
                    continue
                else:
                    frames = [json.loads(raw)]
                if _count_frames(frames, out, received, arrived):
                    break
    except Exception as exc:
        out["error"] = f"{type(exc).__name__}: {exc}"
        if not said_ready:
            await ready.put(None)
    return out


@functools.cache
def stamped_connection() -> type:
    """A client connection that notes when its socket last delivered bytes (``arrived``): the
    bytes of a message that ``recv()`` returns arrived then or before, however long the
    clients' one event loop took to get to it behind the other clients."""
    from websockets.asyncio.client import ClientConnection

    class StampedConnection(ClientConnection):
        arrived = 0.0

        def data_received(self, data: bytes) -> None:
            self.arrived = time.time()
            super().data_received(data)

    return StampedConnection


def _count_frames(frames: list[dict[str, Any]], out: dict[str, Any], received: float,
                  arrived: float) -> bool:
    """Tally one message's frames into ``out``; True once the run has ended."""
    for msg in frames:
        kind = msg["type"]
        if kind in ("view", "sample"):
            out["views"] += 1
        elif kind == "gap":
            out["gap_frames"] += 1
            out["dropped"] += msg["frames"]
        elif kind == "metrics":
            out["metrics"] += 1
            emitted = msg["values"].get("emit_time")
            if emitted is not None:
                out["latency_ms"].append((received - emitted) * 1e3)
                out["socket_ms"].append((arrived - emitted) * 1e3)
        elif kind == "status":
            out["statuses"].append(msg["status"])
            if msg["status"] in TERMINAL:
                out["extra"] = msg.get("extra")
                return True
    return False


async def watch(url: str, clients: int, timeout: float, deflate: bool) -> None:
    """``clients`` clients on one run; says "ready" once each has its history (or failed)."""
    ready: asyncio.Queue = asyncio.Queue()
    deadline = time.monotonic() + timeout
    tasks = [asyncio.create_task(watch_one(url, ready, deadline, deflate))
             for _ in range(clients)]
    for _ in range(clients):
        await ready.get()
    emit({"event": "ready"})
    results = await asyncio.gather(*tasks)
    emit({"event": "result", "clients": results})


async def ping(url: str, seconds: float, interval: float = 0.05) -> None:
    """WebSocket pings on ``url`` for ``seconds``: the server's event loop answers them itself,
    so their round trip shows how long that loop takes to get to a ready socket."""
    from websockets.asyncio.client import connect

    rtt: list[float] = []
    async with connect(url, max_size=None, open_timeout=60, proxy=None) as ws:
        await ws.recv()  # the runs list
        drain = asyncio.create_task(_drain(ws))  # unread messages would stop the pongs
        emit({"event": "ready"})
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            start = time.perf_counter()
            await (await ws.ping())
            rtt.append((time.perf_counter() - start) * 1e3)
            await asyncio.sleep(interval)
        drain.cancel()
    emit({"event": "result", "rtt_ms": rtt})


async def _drain(ws: Any) -> None:
    while True:
        await ws.recv()


def emit(message: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(message) + "\n")
    sys.stdout.flush()


def clients_role() -> int:
    """Serve commands from stdin, one JSON line each, until EOF."""
    for line in sys.stdin:
        command = json.loads(line)
        if "ping_seconds" in command:
            asyncio.run(ping(command["url"], command["ping_seconds"]))
        else:
            asyncio.run(watch(command["url"], command["clients"], command["timeout"],
                              command["deflate"]))
    return 0


# -- the orchestrator's helpers ----------------------------------------------------------------

class Child:
    """A subprocess of this script in its own session, so that Ctrl-C reaches only us and
    ``stop()`` can end its whole process group (its spawned workers included)."""

    def __init__(self, name: str, args: list[str], log: Path, *, pipes: bool = False) -> None:
        self.name, self.log = name, log
        with log.open("ab") as output:  # the child keeps its own descriptor
            self.proc = subprocess.Popen(
                [sys.executable, str(Path(__file__).resolve()), *args], cwd=ROOT,
                stdin=subprocess.PIPE if pipes else subprocess.DEVNULL,
                stdout=subprocess.PIPE if pipes else output,
                stderr=output, start_new_session=True, text=pipes,
            )
        self.lines: queue.Queue[str | None] = queue.Queue()
        self.reader = threading.Thread(target=self._read, daemon=True) if pipes else None
        if self.reader is not None:
            self.reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        with self.proc.stdout:
            for line in self.proc.stdout:
                self.lines.put(line)
        self.lines.put(None)

    def send(self, message: dict[str, Any]) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(json.dumps(message) + "\n")
        self.proc.stdin.flush()

    def receive(self, event: str, timeout: float) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            try:
                line = self.lines.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                raise RuntimeError(f"{self.name}: no {event!r} in {timeout:.0f} s") from None
            if line is None:
                raise RuntimeError(f"{self.name} exited: {self.tail()}")
            message = json.loads(line)
            if message.get("event") == event:
                return message

    def tail(self, chars: int = 3000) -> str:
        text = self.log.read_text(errors="replace") if self.log.exists() else ""
        return text[-chars:] or "(no output)"

    def stop(self, timeout: float = 45.0) -> None:
        """SIGTERM (uvicorn stops its workers with a checkpoint), then SIGKILL what is left."""
        if self.proc.stdin is not None:
            with contextlib.suppress(OSError):
                self.proc.stdin.close()  # the clients' process ends at EOF
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.proc.wait(5)
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                print(f"  {self.name} did not stop in {timeout:.0f} s; killing it",
                      file=sys.stderr)
        # its group: itself and whatever it spawned (workers, multiprocessing's tracker)
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait()
        if self.reader is not None:
            self.reader.join(5)  # it closes the pipe at EOF


class Server:
    """The app on a free port, in a ``Child``; ``rate``: with the synthetic worker."""

    def __init__(self, data_dir: Path, rate: float | None = None, seconds: float = 0.0,
                 cpu_threads: int | None = None) -> None:
        data_dir.mkdir(parents=True)
        self.port_file = port_file = data_dir / "port"
        args = ["--role", "server", "--data-dir", str(data_dir), "--port-file", str(port_file),
                "--seconds", str(seconds)]
        if rate:
            args += ["--synthetic", "--rate", str(rate)]
        if cpu_threads:
            args += ["--cpu-threads", str(cpu_threads)]
        self.child = Child("the server", args, data_dir / "server.log")
        try:
            self._start()
        except BaseException:
            self.child.stop()
            raise

    def _start(self) -> None:
        import httpx

        deadline = time.monotonic() + 120
        while not self.port_file.exists():
            self._check(deadline)
            time.sleep(0.05)
        port = int(self.port_file.read_text())
        self.url, self.ws_url = f"http://127.0.0.1:{port}", f"ws://127.0.0.1:{port}"
        self.http = httpx.Client(base_url=self.url, timeout=60, trust_env=False)
        while True:
            self._check(deadline)
            with contextlib.suppress(httpx.HTTPError):
                if self.http.get("/api/health").status_code == 200:
                    return
            time.sleep(0.1)

    def _check(self, deadline: float) -> None:
        if self.child.proc.poll() is not None:
            raise RuntimeError(f"the server exited: {self.child.tail()}")
        if time.monotonic() > deadline:
            raise RuntimeError(f"the server did not start: {self.child.tail()}")

    def create(self, name: str, overrides: dict[str, Any]) -> str:
        r = self.http.post("/api/runs", json={"preset": PRESET, "name": name,
                                              "overrides": overrides})
        if r.status_code != 201:
            raise RuntimeError(f"POST /api/runs: {r.status_code} {r.text}")
        return r.json()["id"]

    def run(self, run_id: str) -> dict[str, Any]:
        r = self.http.get(f"/api/runs/{run_id}")
        r.raise_for_status()
        return r.json()

    def wait(self, run_id: str, statuses: set[str], timeout: float, poll: float = 1.0,
             step: int = 0) -> dict[str, Any]:
        """Poll the run until its status is in ``statuses`` (and it reached ``step``)."""
        deadline = time.monotonic() + timeout
        while True:
            run = self.run(run_id)
            if run["status"] in statuses and run["step"] >= step:
                return run
            if run["status"] in TERMINAL - statuses:
                raise RuntimeError(f"run {run_id} ended {run['status']}: {run['error']}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"run {run_id} is {run['status']} at step {run['step']} "
                                   f"after {timeout:.0f} s")
            time.sleep(poll)

    def worker_pid(self, run_id: str, timeout: float = 60.0) -> int:
        """The process id of the worker that trains ``run_id``, once it has one."""
        deadline = time.monotonic() + timeout
        while True:
            workers = self.http.get("/api/health").json()["jobs"]["workers"]
            pid = next((w["pid"] for w in workers if w["run_id"] == run_id), None)
            if pid is not None:
                return pid
            if time.monotonic() > deadline:
                raise RuntimeError(f"run {run_id} has no worker after {timeout:.0f} s")
            time.sleep(0.02)

    def control(self, run_id: str, action: str) -> None:
        r = self.http.post(f"/api/runs/{run_id}/control", json={"action": action})
        if r.status_code != 202:
            raise RuntimeError(f"control {action}: {r.status_code} {r.text}")

    def stop(self) -> None:
        if hasattr(self, "http"):
            self.http.close()
        self.child.stop()


class Scheduling(threading.Thread):
    """A process's time on a CPU and waiting for one (its live threads together, from Linux's
    schedstat), sampled every ``interval`` seconds while it lives. Waiting means that it was
    ready to run and something else held its CPU."""

    def __init__(self, pid: int, interval: float = 0.05) -> None:
        super().__init__(name=f"schedstat-{pid}", daemon=True)
        self.pid, self.interval = pid, interval
        self.samples: list[tuple[float, float, float]] = []  # (time.time(), ran s, waited s)
        self.done = threading.Event()
        self.start()

    def run(self) -> None:
        while not self.done.is_set():
            try:
                ran = waited = 0
                for tid in os.listdir(f"/proc/{self.pid}/task"):
                    with contextlib.suppress(FileNotFoundError):  # a thread that just ended
                        on_cpu, on_queue = Path(f"/proc/{self.pid}/task/{tid}/schedstat"
                                                ).read_text().split()[:2]
                        ran, waited = ran + int(on_cpu), waited + int(on_queue)
            except (FileNotFoundError, ProcessLookupError, ValueError):
                return  # it has exited
            self.samples.append((time.time(), ran / 1e9, waited / 1e9))
            self.done.wait(self.interval)

    def between(self, start: float, end: float) -> dict[str, float]:
        """Seconds on a CPU and waiting for one from ``start`` to ``end`` (``time.time()``),
        to the nearest sample before each."""
        self.done.set()
        self.join()
        if not self.samples:
            return {"ran": 0.0, "waited": 0.0}
        first = max((s for s in self.samples if s[0] <= start), default=self.samples[0])
        last = max((s for s in self.samples if s[0] <= end), default=self.samples[0])
        return {"ran": last[1] - first[1], "waited": last[2] - first[2]}


class CpuShare:
    """CPU used by processes since construction, in % of one core (Linux /proc; else None)."""

    def __init__(self, **pids: int) -> None:
        self.pids = pids
        self.start = {name: cpu_seconds(pid) for name, pid in pids.items()}
        self.t0 = time.monotonic()

    def read(self) -> dict[str, float | None]:
        took = time.monotonic() - self.t0
        now = {name: cpu_seconds(pid) for name, pid in self.pids.items()}
        return {name: None if now[name] is None or self.start[name] is None
                else (now[name] - self.start[name]) / took * 100 for name in self.pids}


def cpu_seconds(pid: int) -> float | None:
    """User + system CPU seconds of a live process (its threads included)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return None


def share(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.0f}%"


def percentile(ordered: list[float], q: float) -> float:
    """Nearest-rank percentile of an ascending list."""
    if not ordered:
        return float("nan")
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * len(ordered) + 0.5) - 1))]


def elapsed(run: dict[str, Any]) -> float:
    """Seconds from the run's first ``running`` to its end, as the server stored them."""
    return epoch(run["finished_at"]) - epoch(run["started_at"])


def epoch(stamp: str) -> float:
    """An API time stamp as ``time.time()`` would give it (one without a zone is UTC)."""
    when = datetime.fromisoformat(stamp)
    return (when if when.tzinfo else when.replace(tzinfo=UTC)).timestamp()


# -- (1) latency -------------------------------------------------------------------------------

def bench_latency(args: argparse.Namespace, tmp: Path, clients: Child,
                  children: list[Child]) -> dict[str, Any]:
    server = Server(tmp / "synthetic", rate=args.rate, seconds=args.seconds)
    children.append(server.child)
    try:
        run_id = server.create("bench-latency", {})
        clients.send({"url": f"{server.ws_url}/ws/runs/{run_id}", "clients": args.clients,
                      "timeout": args.seconds + 120, "deflate": args.deflate})
        clients.receive("ready", 120)
        server.wait(run_id, {"paused"}, 120, poll=0.1)
        cpu = CpuShare(server=server.child.proc.pid, clients=clients.proc.pid)
        server.control(run_id, "resume")  # the synthetic worker starts emitting
        result = clients.receive("result", args.seconds + 150)["clients"]
        used = cpu.read()
        run = server.wait(run_id, TERMINAL, 30, poll=0.2)
    finally:
        server.stop()  # it stays in ``children``: its log is printed on an error
    stages_file = tmp / "synthetic" / STAGES_FILE  # written as the server exits
    stages = json.loads(stages_file.read_text()) if stages_file.exists() else None
    return {"clients": result, "run": run, "cpu": used, "stages": stages}


def report_latency(args: argparse.Namespace, out: dict[str, Any]) -> None:
    results, run = out["clients"], out["run"]
    sent = round(args.rate * args.seconds)
    latencies = sorted(ms for c in results for ms in c["latency_ms"])
    received = [c["metrics"] for c in results]
    gaps, dropped = sum(c["gap_frames"] for c in results), sum(c["dropped"] for c in results)
    lost = sum(sent - c["metrics"] - c["dropped"] for c in results)
    errors = [c["error"] for c in results if c["error"]]
    extra = next((c["extra"] for c in results if c["extra"]), None) or {}
    p50, p99 = percentile(latencies, 50), percentile(latencies, 99)
    print(f"\n(1) event latency, worker emit -> client receipt: {args.clients} clients, "
          f"{args.rate:g} metrics events/s for {args.seconds:g} s")
    print(f"  run {run['id']} ended {run['status']}; the worker sent {extra.get('sent', '?')} "
          f"metrics events, at worst {extra.get('worst_lag_ms', float('nan')):.1f} ms behind "
          "its schedule")
    print(f"  {'figure':<34}{'measured':>14}{'target':>14}")
    print(f"  {'latency p50':<34}{p50:>11.1f} ms{f'<= {TARGET_P50_MS:g} ms':>14}"
          f"  {'ok' if p50 <= TARGET_P50_MS else 'MISSED'}")
    print(f"  {'latency p99':<34}{p99:>11.1f} ms{f'<= {TARGET_P99_MS:g} ms':>14}"
          f"  {'ok' if p99 <= TARGET_P99_MS else 'MISSED'}")
    print(f"  {'latency max':<34}{latencies[-1] if latencies else float('nan'):>11.1f} ms")
    print(f"  {'metrics frames received, all':<34}{sum(received):>14}{args.clients * sent:>14}"
          "  (sent x clients)")
    print(f"  {'per client: min / median / max':<34}"
          f"{f'{min(received)} / {statistics.median(received):g} / {max(received)}':>14}"
          f"{sent:>14}")
    print(f"  {'gap frames (frames they dropped)':<34}{f'{gaps} ({dropped})':>14}{'0':>14}")
    print(f"  {'lost without a gap notice':<34}{lost:>14}{'0':>14}")
    messages = [c["messages"] for c in results]
    print(f"  {'messages per client: min/med/max':<34}"
          f"{f'{min(messages)} / {statistics.median(messages):g} / {max(messages)}':>14}"
          f"{'':>14}  ({statistics.median(messages) / args.seconds:.0f}/s, "
          f"{sum(received) / max(1, sum(messages)):.2f} frames per message)")
    if errors:
        print(f"  {len(errors)} client(s) failed: {errors[0]}")
    print(f"  CPU meanwhile, in % of one core: the server's process {share(out['cpu']['server'])}, "
          f"the clients' process {share(out['cpu']['clients'])}")
    if out["stages"]:
        report_stages(out["stages"], [ms for c in results for ms in c["socket_ms"]], latencies)


def report_stages(stages: dict[str, list[float]], socket: list[float],
                  received: list[float]) -> None:
    """Where the time goes: ms from the worker's emit to each stage, p50 / p99."""
    print(f"  {'where the time goes, ms from emit':<34}{'p50':>7}{'p99':>7}   until")
    rows = [(stages[name], what) for name, what in STAGES.items()]
    rows.append((socket, "the client's socket has it (the WebSocket send, the network)"))
    rows.append((received, "the client's code has it (the clients' one event loop, behind the "
                           "other clients)"))
    for times, what in rows:
        ordered = sorted(times)
        print(f"  {'':<34}{percentile(ordered, 50):>7.1f}{percentile(ordered, 99):>7.1f}   "
              f"{what}")


# -- (2) throughput watched / alone ------------------------------------------------------------

def bench_throughput(args: argparse.Namespace, server: Server,
                     clients: Child) -> list[dict[str, dict[str, Any]]]:
    overrides = {"train.steps": args.steps, "train.report_every": 1}
    timeout = args.steps * 0.2 + 120  # generous: a loaded machine runs toy steps many times slower
    rounds: list[dict[str, dict[str, Any]]] = []
    first = args.rounds + 1 if args.warmup else args.rounds
    for r in range(first):
        sides: dict[str, dict[str, Any]] = {}
        order = ("alone", "watched") if r % 2 == 0 else ("watched", "alone")
        for side in order:
            cpu = CpuShare(server=server.child.proc.pid, clients=clients.proc.pid)
            run_id = server.create(f"bench-{side}-{r}", overrides)
            worker = server.worker_pid(run_id)
            if args.worker_cpus:  # it inherited the server's CPUs: its own core, before it trains
                pin(worker, args.worker_cpus)
            scheduling = Scheduling(worker)
            watchers = None
            if side == "watched":
                clients.send({"url": f"{server.ws_url}/ws/runs/{run_id}",
                              "clients": args.clients, "timeout": timeout,
                              "deflate": args.deflate})
                clients.receive("ready", 120)
            run = server.wait(run_id, {"completed"}, timeout)  # the same polling on both sides
            used = cpu.read()
            sched = scheduling.between(*(epoch(run[k]) for k in ("started_at", "finished_at")))
            if side == "watched":
                watchers = clients.receive("result", 120)["clients"]
            step_time = server.http.get(f"/api/runs/{run_id}/metrics",
                                        params={"keys": "step_time"}).json()
            times = step_time["series"]["step_time"]["value"]
            sides[side] = {"run": run, "wall": run["step"] / elapsed(run),
                           "compute": 1.0 / statistics.fmean(times),
                           "step_ms": 1e3 * statistics.median(times), "rows": step_time["rows"],
                           "clients": watchers, "cpu": used, "sched": sched}
        rounds.append(sides)
        print_round(r, sides, warmup=args.warmup and r == 0)
    return rounds


def print_round(r: int, sides: dict[str, dict[str, Any]], *, warmup: bool) -> None:
    if r == 0:
        print(f"\n  {'':<12}{'step_time ms (median)':>25}{'':>5}{'CPU ms per step':>24}"
              f"{'':>4}{'waited for CPU %':>17}{'steps/s':>20}")
        print(f"  {'round':<12}{'alone':>9}{'watched':>9}{'speed':>7}{'':>3}"
              f"{'alone':>9}{'watched':>9}{'ratio':>7}{'':>3}{'alone':>9}{'watched':>9}"
              f"{'alone':>9}{'watched':>9}{'ratio':>7}   what the clients got")
    alone, watched = sides["alone"], sides["watched"]
    results = watched["clients"]
    metrics = [c["metrics"] for c in results]
    live = sum("running" in c["statuses"] for c in results)
    gaps, dropped = sum(c["gap_frames"] for c in results), sum(c["dropped"] for c in results)
    errors = sum(bool(c["error"]) for c in results)
    messages = statistics.median(c["messages"] for c in results)
    got = (f"{min(metrics)}-{max(metrics)} of {watched['rows']} metrics frames "
           f"in {messages:.0f} messages (median), "
           f"{results[0]['views']} views, {gaps} gaps ({dropped} dropped), "
           f"{live}/{len(results)} saw it start" + (f", {errors} failed" if errors else ""))
    label = "0 (warm-up)" if warmup else str(r)
    print(f"  {label:<12}{alone['step_ms']:>9.3f}{watched['step_ms']:>9.3f}"
          f"{alone['step_ms'] / watched['step_ms']:>7.3f}{'':>3}"
          f"{cpu_per_step(alone):>9.3f}{cpu_per_step(watched):>9.3f}"
          f"{cpu_per_step(alone) / cpu_per_step(watched):>7.3f}{'':>3}"
          f"{waited(alone):>9.1f}{waited(watched):>9.1f}"
          f"{alone['wall']:>9.1f}{watched['wall']:>9.1f}{watched['wall'] / alone['wall']:>7.3f}"
          f"   {got}")


def cpu_per_step(side: dict[str, Any]) -> float:
    """The worker's CPU time per step while it trained (all its threads: its sender too), ms."""
    return 1e3 * side["sched"]["ran"] / max(1, side["run"]["step"])


def waited(side: dict[str, Any]) -> float:
    """How long the worker waited for its CPU while it trained, in % of that time: other
    processes held the CPU it was pinned to."""
    sched = side["sched"]
    return 100 * sched["waited"] / max(1e-9, sched["ran"] + sched["waited"])


def report_throughput(args: argparse.Namespace, rounds: list[dict[str, dict[str, Any]]]) -> None:
    """The figure that answers "does the server slow training": the worker's own step time
    (``step_time``: its training steps, not its start-up nor its reporting), watched vs alone.
    Pinned, the server and the clients do not share the worker's CPU; the worker's CPU time
    per step and its wait for its CPU tell what serving costs the worker itself (its sender
    thread, the pipe) from what other work on the machine took from it."""
    counted = rounds[1:] if args.warmup else rounds

    def spread(ratios: list[float]) -> str:
        return f"{statistics.median(ratios):.3f} ({min(ratios):.3f}-{max(ratios):.3f})"

    def sides(figure: Callable[[dict[str, Any]], float], digits: int = 3) -> str:
        alone, watched = (statistics.median(figure(s[side]) for s in counted)
                          for side in ("alone", "watched"))
        return f"{alone:.{digits}f} / {watched:.{digits}f}"

    speed = [s["alone"]["step_ms"] / s["watched"]["step_ms"] for s in counted]
    ratio = statistics.median(speed)
    print(f"\n  {'figure, median over the rounds (min-max)':<54}{'measured':>22}{'target':>10}")
    print(f"  {'the worker step_time (its median), ms, alone / watched':<54}"
          f"{sides(lambda side: side['step_ms']):>22}")
    print(f"  {'watched/alone speed from it':<54}{spread(speed):>22}{f'>= {TARGET_RATIO}':>10}"
          f"  {'ok' if ratio >= TARGET_RATIO else 'MISSED'}")
    mean = [s["watched"]["compute"] / s["alone"]["compute"] for s in counted]
    print(f"  {'the same from the mean step_time':<54}{spread(mean):>22}")
    cpu = [cpu_per_step(s["alone"]) / cpu_per_step(s["watched"]) for s in counted]
    print(f"  {'the worker CPU time per step, ms, alone / watched':<54}{sides(cpu_per_step):>22}"
          f"  (while training; all its threads)")
    print(f"  {'alone/watched CPU time per step':<54}{spread(cpu):>22}")
    print(f"  {'its wait for its CPU, %, alone / watched':<54}{sides(waited, 1):>22}"
          f"  (other processes on its CPU)")
    wall = [s["watched"]["wall"] / s["alone"]["wall"] for s in counted]
    print(f"  {'steps/s, alone / watched (start to end)':<54}"
          f"{sides(lambda side: side['wall'], 1):>22}")
    print(f"  {'watched/alone steps/s':<54}{spread(wall):>22}")
    cpu_share = {side: [s[side]["cpu"] for s in counted] for side in ("alone", "watched")}

    def median_share(side: str, name: str) -> str:
        values = [c[name] for c in cpu_share[side] if c[name] is not None]
        return share(statistics.median(values) if values else None)

    print(f"  CPU over each run's life (start-up included), median, in % of one core: the server's "
          f"process {median_share('alone', 'server')} alone, {median_share('watched', 'server')} "
          f"watched; the clients' process {median_share('watched', 'clients')}")
    if max(speed) - min(speed) > 1 - TARGET_RATIO:
        print("  noisy: the rounds' ratios spread wider than the target's margin; other work was "
              "sharing the machine: run again, or with more --rounds")


# -- (3) REST readers --------------------------------------------------------------------------

async def read_api(url: str, run_id: str, readers: int, seconds: float) -> dict[str, Any]:
    """``readers`` closed-loop readers (each sends its next request when its last returns)."""
    import httpx

    paths = {"GET /api/runs": "/api/runs",
             "GET /api/runs/{id}": f"/api/runs/{run_id}",
             "GET /api/runs/{id}/metrics?max_points=500":
                 f"/api/runs/{run_id}/metrics?max_points=500"}
    names = list(paths)
    latency: dict[str, list[float]] = {name: [] for name in names}
    errors: dict[str, list[str]] = {name: [] for name in names}
    limits = httpx.Limits(max_connections=readers, max_keepalive_connections=readers)
    async with httpx.AsyncClient(base_url=url, timeout=60, limits=limits,
                                 trust_env=False) as http:
        deadline = time.monotonic() + seconds

        async def reader(i: int) -> None:
            while time.monotonic() < deadline:
                name = names[i % len(names)]
                i += 1
                start = time.perf_counter()
                try:
                    r = await http.get(paths[name])
                    await r.aread()
                    if r.status_code != 200:
                        errors[name].append(f"{r.status_code} {r.text[:200]}")
                        continue
                except httpx.HTTPError as exc:
                    errors[name].append(f"{type(exc).__name__}: {exc}")
                    continue
                latency[name].append((time.perf_counter() - start) * 1e3)

        started = time.monotonic()
        await asyncio.gather(*(reader(i) for i in range(readers)))
        took = time.monotonic() - started
    return {"latency": latency, "errors": errors, "seconds": took}


def bench_readers(args: argparse.Namespace, server: Server, clients: Child) -> dict[str, Any]:
    run_id = server.create("bench-readers", {"train.steps": 1_000_000, "train.report_every": 1})
    pings = f"{server.ws_url}/ws/runs"  # the runs list: a quiet stream, for the pings
    try:
        server.wait(run_id, {"running"}, 120, poll=0.2, step=300)  # some history first
        quiet = min(3.0, args.seconds)
        clients.send({"url": pings, "ping_seconds": quiet})
        clients.receive("ready", 60)
        rtt_before = clients.receive("result", quiet + 60)["rtt_ms"]
        single = asyncio.run(read_api(server.url, run_id, 1, quiet))  # the cost of one request
        clients.send({"url": pings, "ping_seconds": args.seconds})
        clients.receive("ready", 60)
        before, t0 = server.run(run_id), time.monotonic()
        cpu = CpuShare(server=server.child.proc.pid, readers=os.getpid())
        out = asyncio.run(read_api(server.url, run_id, args.readers, args.seconds))
        out["cpu"] = cpu.read()
        after, t1 = server.run(run_id), time.monotonic()
        out["rtt_ms"] = {"training only, before the reads": rtt_before,
                         "during the reads": clients.receive("result", 60)["rtt_ms"]}
        out["steps_per_s"] = (after["step"] - before["step"]) / (t1 - t0)
        out["single"] = single
        out["single_after"] = asyncio.run(read_api(server.url, run_id, 1, quiet))
        out["rows"] = server.http.get(f"/api/runs/{run_id}/metrics",
                                      params={"keys": "loss_d"}).json()["rows"]
    finally:
        with contextlib.suppress(Exception):
            server.control(run_id, "stop")
            server.wait(run_id, TERMINAL, 60, poll=0.2)
    return out


def report_readers(args: argparse.Namespace, out: dict[str, Any], alone: float | None) -> None:
    print(f"\n(3) {args.readers} concurrent REST readers for {out['seconds']:.1f} s while a "
          f"{PRESET} run trains (its metrics table had {out['rows']} rows at the end)")
    print(f"  {'request':<44}{'done':>7}{'req/s':>7}{'p50 ms':>9}{'p99 ms':>9}{'max ms':>9}"
          f"{'errors':>8}{'1 reader: p50 ms before, after':>32}")
    every: list[float] = []
    single, later = out["single"], out["single_after"]
    alone_errors = sum(len(e) for o in (single, later) for e in o["errors"].values())
    for name, times in out["latency"].items():
        ordered = sorted(times)
        every += ordered
        print(f"  {name:<44}{len(ordered):>7}{len(ordered) / out['seconds']:>7.0f}"
              f"{percentile(ordered, 50):>9.1f}{percentile(ordered, 99):>9.1f}"
              f"{(ordered[-1] if ordered else float('nan')):>9.1f}"
              f"{len(out['errors'][name]):>8}"
              f"{percentile(sorted(single['latency'][name]), 50):>24.1f}"
              f"{percentile(sorted(later['latency'][name]), 50):>8.1f}")
    every.sort()
    errors = [e for es in out["errors"].values() for e in es]
    one = sorted(ms for times in single["latency"].values() for ms in times)
    one_later = sorted(ms for times in later["latency"].values() for ms in times)
    print(f"  {'all':<44}{len(every):>7}{len(every) / out['seconds']:>7.0f}"
          f"{percentile(every, 50):>9.1f}{percentile(every, 99):>9.1f}"
          f"{(every[-1] if every else float('nan')):>9.1f}{len(errors):>8}"
          f"{percentile(one, 50):>24.1f}{percentile(one_later, 50):>8.1f}")
    print(f"  (1 reader: the same requests one at a time for {single['seconds']:.0f} s before "
          f"and after the {args.readers}: {len(one) / single['seconds']:.0f} and "
          f"{len(one_later) / later['seconds']:.0f} req/s, {alone_errors} errors)")
    print(f"  {'figure':<44}{'measured':>22}{'target':>10}")
    print(f"  {'errors':<44}{len(errors):>22}{'0':>10}  {'ok' if not errors else 'MISSED'}")
    for kind, count in Counter(e[:100] for e in errors).most_common():
        print(f"  {count:>5} x {kind}")
    if any(e.startswith(CLOSED_UNDER_REQUEST) for e in errors):
        print("  (the server closed a connection as a request went out on it: most likely "
              "uvicorn's keep-alive timeout, which closes a connection idle for 5 s, racing "
              "a request that the pool sent on it; httpx does not retry these, browsers do)")
    print(f"  CPU meanwhile, in % of one core: the server's process {share(out['cpu']['server'])}, "
          f"the readers' (this) process {share(out['cpu']['readers'])}")
    print(f"  {'server event loop: WebSocket ping round trip':<44}"
          f"{'p50 / p99 / max ms':>22}  (/ws/runs, every 50 ms, from the clients' process)")
    for label, rtt in out["rtt_ms"].items():
        ordered = sorted(rtt)
        figures = (f"{percentile(ordered, 50):.1f} / {percentile(ordered, 99):.1f} / "
                   f"{ordered[-1] if ordered else float('nan'):.1f}")
        print(f"    {label:<42}{figures:>22}  ({len(ordered)} pings)")
    meanwhile = f"{out['steps_per_s']:.1f} steps/s"
    if alone:
        meanwhile += f" ({out['steps_per_s'] / alone:.2f} x the median alone of (2))"
    print(f"  {'training meanwhile':<44}{meanwhile:>22}")


# -- main --------------------------------------------------------------------------------------

def describe(args: argparse.Namespace) -> None:
    from server.jobs.manager import default_gpus
    from server.settings import Settings

    settings, gpus = Settings(data_dir=Path(tempfile.gettempdir())), default_gpus()
    slots = settings.resolved_max_jobs(gpus)
    print(f"GANscope server benchmark: {os.cpu_count()} CPUs ({platform.machine()}), {gpus} GPUs, "
          f"Python {platform.python_version()}, torch {version('torch')}, "
          f"uvicorn {version('uvicorn')}, websockets {version('websockets')}, "
          f"httpx {version('httpx')}; {load()}")
    print(f"  server   create_app(Settings(data_dir=<temp dir>)) under uvicorn in a subprocess on "
          f"127.0.0.1 (SQLite, {slots} job slot(s), {settings.resolved_cpu_threads(slots)} "
          f"CPU threads per worker, client queue {settings.client_queue} frames, "
          f"clients {'offer' if args.deflate else 'do not offer'} permessage-deflate; the server "
          "declines it)")
    print(f"  clients  {args.clients} WebSocket clients in one separate process (one asyncio "
          "loop); REST readers (httpx) and the polling in this process; all share the CPUs")
    print(f"  (1) a synthetic worker: {args.rate:g} metrics events/s for {args.seconds:g} s "
          f"({round(args.rate * args.seconds)} events), {args.clients} clients watching")
    warmup = " after a warm-up round" if args.warmup else ""
    print(f"  (2) {PRESET} (train.steps {args.steps}, report_every 1, the preset's 2D views "
          f"every 100 steps): {args.rounds} round(s){warmup}, {args.clients} clients "
          "watching vs none; the worker's own step_time, and steps/s from the run's "
          "started_at..finished_at")
    if args.worker_cpus:
        print(f"      pinned: the worker on CPU {cpu_list(args.worker_cpus)} "
              f"({len(args.worker_cpus)} CPU thread(s)); the server, the clients and this "
              f"process on CPU {cpu_list(args.server_cpus)}")
    else:
        print("      not pinned: the worker, the server and the clients share every CPU")
    print(f"  (3) {args.readers} REST readers for {args.seconds:g} s while a {PRESET} run "
          "(report_every 1) trains")


def resolve_cpus(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """(2)'s pinning: the worker on its own CPUs, everything else on the others; by default
    the first CPU for the worker, the rest for the others (none on a machine with one CPU)."""
    cpus = sorted(available())
    if not args.pin or not hasattr(os, "sched_setaffinity") or (
            len(cpus) < 2 and not (args.worker_cpus or args.server_cpus)):
        args.worker_cpus = args.server_cpus = None
        return
    args.worker_cpus = args.worker_cpus or (set(cpus) - args.server_cpus if args.server_cpus
                                            else {cpus[0]})
    args.server_cpus = args.server_cpus or set(cpus) - args.worker_cpus
    if args.worker_cpus & args.server_cpus:
        parser.error("--worker-cpus and --server-cpus must not share a CPU")
    if not args.worker_cpus or not args.server_cpus or not (
            args.worker_cpus | args.server_cpus) <= set(cpus):
        parser.error(f"--worker-cpus and --server-cpus: each needs at least one of the CPUs "
                     f"this process may use ({','.join(map(str, cpus))})")


def cpu_option(text: str) -> set[int]:
    try:
        return parse_cpus(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def cpu_list(cpus: set[int]) -> str:
    return ",".join(map(str, sorted(cpus)))


def load() -> str:
    """The load averages: other work on the machine shows here."""
    try:
        return "load average {:.2f} {:.2f} {:.2f}".format(*os.getloadavg())
    except OSError:
        return "load average n/a"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=50, help="WebSocket clients (1, 2)")
    parser.add_argument("--rate", type=float, default=100.0, help="metrics events/s (1)")
    parser.add_argument("--seconds", type=float, default=20.0,
                        help="how long (1) emits and (3) reads")
    parser.add_argument("--readers", type=int, default=200, help="concurrent REST readers (3)")
    parser.add_argument("--steps", type=int, default=1500, help="steps per run (2)")
    parser.add_argument("--rounds", type=int, default=5, help="counted rounds (2)")
    parser.add_argument("--no-deflate", dest="deflate", action="store_false",
                        help="clients without permessage-deflate (browsers offer it)")
    parser.add_argument("--worker-cpus", type=cpu_option, metavar="LIST",
                        help="(2) the training worker's CPUs, e.g. 0 (default: the first)")
    parser.add_argument("--server-cpus", type=cpu_option, metavar="LIST",
                        help="(2) the server's, the clients' and this process's CPUs, e.g. 1 "
                        "(default: the others)")
    parser.add_argument("--no-pin", dest="pin", action="store_false",
                        help="(2) every process on every CPU: what the clients cost training "
                        "when they share its cores")
    parser.add_argument("--parts", default="123",
                        help="which figures to measure, e.g. 2 or 13 (default: all three)")
    parser.add_argument("--quick", action="store_true",
                        help="a smoke check: 3 s of events and reads, 1 round of 300 steps")
    parser.add_argument("--role", choices=("server", "clients"), help=argparse.SUPPRESS)
    parser.add_argument("--data-dir", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--port-file", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--synthetic", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--cpu-threads", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.role is not None:
        exit_with_parent()
        if args.role == "server":
            return serve(args.data_dir, args.port_file,
                         args.rate if args.synthetic else None, args.seconds, args.cpu_threads)
        return clients_role()
    args.warmup = not args.quick
    if args.quick:
        args.seconds, args.steps, args.rounds = 3.0, 300, 1
    if min(args.clients, args.readers, args.steps, args.rounds) < 1 or min(
            args.rate, args.seconds) <= 0:
        parser.error("every option must be positive")
    resolve_cpus(parser, args)

    describe(args)
    previous = signal.signal(signal.SIGTERM, _interrupt)
    try:
        with tempfile.TemporaryDirectory(prefix="bench_server_",
                                         ignore_cleanup_errors=True) as name:
            return run_all(args, Path(name))
    except KeyboardInterrupt:
        print("\ninterrupted", file=sys.stderr)
        return 130
    finally:
        signal.signal(signal.SIGTERM, previous)


def run_all(args: argparse.Namespace, tmp: Path) -> int:
    """The three figures; every process started here is stopped before this returns."""
    children: list[Child] = []
    try:
        clients = Child("the clients", ["--role", "clients"], tmp / "clients.log", pipes=True)
        children.append(clients)
        if "1" in args.parts:
            report_latency(args, bench_latency(args, tmp, clients, children))
        if "2" in args.parts or "3" in args.parts:
            server = Server(tmp / "training",
                            cpu_threads=len(args.worker_cpus) if args.worker_cpus else None)
            children.append(server.child)
            alone = None
            if "2" in args.parts:
                print(f"\n(2) training throughput of {PRESET} with {args.clients} clients "
                      "watching vs none")
                with pinned(args.server_cpus, os.getpid(), server.child.proc.pid,
                            clients.proc.pid):
                    rounds = bench_throughput(args, server, clients)
                report_throughput(args, rounds)
                counted = rounds[1:] if args.warmup else rounds
                alone = statistics.median(s["alone"]["wall"] for s in counted)
            if "3" in args.parts:
                report_readers(args, bench_readers(args, server, clients), alone)
            server.http.close()
        print(f"\n{load()} (1, 5, 15 min; {os.cpu_count()} CPUs)")
    except Exception as exc:
        print(f"\nerror: {type(exc).__name__}: {exc}", file=sys.stderr)
        for child in children:
            print(f"--- {child.name}'s log (end) ---\n{child.tail()}", file=sys.stderr)
        return 1
    finally:
        for child in reversed(children):
            with contextlib.suppress(Exception):
                child.stop()
    return 0


@contextlib.contextmanager
def pinned(cpus: set[int] | None, *pids: int) -> Iterator[None]:
    """``pids`` (and all their threads) on ``cpus`` meanwhile, then on every CPU again."""
    if not cpus:
        yield
        return
    everywhere = available()
    for pid in pids:
        pin(pid, cpus)
    try:
        yield
    finally:
        for pid in pids:
            with contextlib.suppress(OSError):
                pin(pid, everywhere)


def exit_with_parent() -> None:
    """In a child role: stop (as on SIGTERM) when the orchestrator dies without stopping us."""
    parent = os.getppid()

    def check() -> None:
        while os.getppid() == parent:
            time.sleep(1.0)
        os.kill(os.getpid(), signal.SIGTERM)

    threading.Thread(target=check, name="exit-with-parent", daemon=True).start()


def _interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt


if __name__ == "__main__":
    sys.exit(main())

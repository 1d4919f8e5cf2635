"""The hub: events from workers -> batched database writes and WebSocket subscribers.

Everything enters through :meth:`Hub.dispatch` on the event loop (the job pump calls
:meth:`Hub.publish` from its thread). Each event becomes one JSON-ready message with the
run's next ``seq``, is encoded once, and is then

(a) queued for the writer thread, which commits whatever has accumulated in one transaction
    (a burst of events costs one commit, an idle run's event is written at once), and
(b) once the writer has committed it, appended to each subscriber's own bounded queue (so
    whatever a client hears of is already readable over REST). Nothing a client does can slow
    training or other clients: when a client falls behind, its older metric frames are dropped
    (it is told with a ``gap`` frame and can fetch them over REST), older grids and 2D views are
    replaced by newer ones, and status, hyper-parameter, checkpoint and start frames are
    always kept. A client that falls hopelessly behind is disconnected; on reconnect it asks
    for everything after the last ``seq`` it saw. A client's sender takes what waits as one
    message (:meth:`Subscriber.next_frames`): at once when the client is idle, every
    ``COALESCE_S`` while frames pile up.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import queue
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import delete, insert, select, update

from gan_core.run_dir import RunDir
from gan_core.status import TERMINAL, WITH_ERROR, RunStatus
from server.batches import take_batch
from server.db import Database
from server.models import CheckpointRow, MetricPoint, Run, RunEvent, SampleRow

__all__ = ["Hub", "Subscriber", "event_to_message"]

log = logging.getLogger(__name__)

REPLACEABLE = {"sample", "view"}
WRITE_BATCH = 500
PROGRESS_INTERVAL_S = 0.5
# A client's messages follow Nagle's rule with an idle fast path. While frames come BURST_S or
# more apart on average (over about the last 1/PACE_WEIGHT of them), each goes out at once: a
# run that reports up to 1/BURST_S times a second reaches its watchers without delay, and two
# reports that a hiccup upstream bunched together do not change that. When they come faster,
# they pile up: they wait together until COALESCE_S after the client's last message, so a run
# that reports every step costs each watcher 1/COALESCE_S messages a second, not hundreds (the
# per-message work of the server, the network and the browser).
BURST_S = 0.005
COALESCE_S = 0.02
PACE_WEIGHT = 0.1


def _finite(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _rounded(values: Any) -> Any:
    """Plot data to 5 significant digits: the JSON of a 2D view shrinks by more than half,
    and every watcher of a run receives it."""
    if isinstance(values, float):
        return float(f"{values:.5g}") if math.isfinite(values) else None
    return [_rounded(v) for v in values]


def event_to_message(run_id: str, event: Any) -> dict[str, Any]:
    """A gan_core event as the JSON message the API sends (without ``seq``)."""
    kind = event.kind
    base = f"/api/runs/{run_id}"
    if kind == "metrics":
        values = {k: _finite(v) for k, v in event.values.items()}
        return {"type": "metrics", "step": event.step, "values": values, "steps": event.steps}
    if kind == "sample":
        return {"type": "sample", "step": event.step, "nrow": event.nrow,
                "count": event.count, "url": f"{base}/samples/{event.step}.png"}
    if kind == "view":
        data = event.to_dict()
        del data["kind"], data["step"]
        for key in ("real", "fake", "grad_field", "d_grid", "mode_centers"):
            if data.get(key) is not None:
                data[key] = _rounded(data[key])
        return {"type": "view", "step": event.step, "url": f"{base}/views/{event.step}",
                "data": data}
    if kind == "checkpoint":
        name = Path(event.path).name
        return {"type": "checkpoint", "step": event.step, "file": f"checkpoints/{name}",
                "url": f"{base}/checkpoints/{event.step}"}
    if kind == "hyperparams":
        return {"type": "hyperparams", "step": event.step, "changes": dict(event.changes)}
    if kind == "status":
        msg = {"type": "status", "step": event.step, "status": event.status,
               "message": event.message}
        if event.extra:
            msg["extra"] = dict(event.extra)
        return msg
    if kind == "started":
        return {"type": "started", "step": event.step, "device": event.device,
                "resumed": event.resumed}
    raise ValueError(f"unknown event kind {kind!r}")


@dataclass
class Frame:
    type: str
    seq: int
    text: str


@dataclass(eq=False)
class Subscriber:
    """One WebSocket client's queue. ``cut`` is the run's seq when it subscribed."""

    run_id: str | None  # None: the runs list
    limit: int
    cut: int = 0
    pending: deque[Frame] = field(default_factory=deque)
    wakeup: asyncio.Event = field(default_factory=asyncio.Event)
    gap: list[int] | None = None  # [first seq, last seq, frames] dropped since the last send
    overflowed: bool = False
    burst: float = BURST_S
    window: float = COALESCE_S
    last_message: float = -math.inf  # time.monotonic() when the last message was taken
    last_push: float | None = None
    pace: float | None = None  # the moving average of the time between frames, s

    def push(self, frame: Frame) -> None:
        now = time.monotonic()
        if self.last_push is not None:  # an idle spell counts as one slow frame, no more
            gap = min(now - self.last_push, self.window)
            self.pace = gap if self.pace is None else self.pace + PACE_WEIGHT * (gap - self.pace)
        self.last_push = now
        if frame.type in REPLACEABLE:
            for old in self.pending:
                if old.type == frame.type:
                    self.pending.remove(old)  # a newer grid/view supersedes the waiting one
                    break
        elif frame.type == "metrics" and len(self.pending) >= self.limit:
            for old in self.pending:
                if old.type == "metrics":
                    self.pending.remove(old)
                    self._note_gap(old.seq)
                    break
        self.pending.append(frame)
        if len(self.pending) > 4 * self.limit:
            self.overflowed = True  # only essential frames left and still too many
        self.wakeup.set()

    def _note_gap(self, seq: int) -> None:
        if self.gap is None:
            self.gap = [seq, seq, 0]
        self.gap[0] = min(self.gap[0], seq)
        self.gap[1] = max(self.gap[1], seq)
        self.gap[2] += 1

    def drop_through(self, seq: int) -> None:
        """Forget frames the client already has (they were in its history)."""
        self.pending = deque(f for f in self.pending if f.seq > seq)

    @property
    def piling_up(self) -> bool:
        """Whether frames come faster than ``burst`` apart (see ``COALESCE_S``)."""
        return self.pace is not None and self.pace < self.burst

    async def next_frames(self) -> list[Frame]:
        """Wait for the frames of the client's next message (a gap notice first when frames
        were dropped): at once, or while frames pile up, ``window`` after the last message
        (see ``COALESCE_S``). Empty: the client is too far behind and must be disconnected."""
        while True:
            await self.wakeup.wait()
            if self.piling_up:
                await asyncio.sleep(self.last_message + self.window - time.monotonic())
            self.wakeup.clear()
            if self.overflowed:
                return []
            frames = self.take()
            if frames:
                self.last_message = time.monotonic()
                return frames

    def take(self) -> list[Frame]:
        """The frames to send now, a gap notice first when frames were dropped."""
        out = []
        if self.gap is not None:
            first, last, count = self.gap
            out.append(Frame("gap", first, json.dumps(
                {"type": "gap", "from_seq": first, "to_seq": last, "frames": count})))
            self.gap = None
        out.extend(self.pending)
        self.pending.clear()
        return out


class Hub:
    def __init__(self, db: Database, *, runs_dir: Path | None = None,
                 client_queue: int = 256) -> None:
        self.db = db
        self.runs_dir = runs_dir
        self.client_queue = client_queue
        self.loop: asyncio.AbstractEventLoop | None = None
        self.seq: dict[str, int] = {}
        self.step: dict[str, int] = {}
        self.flushed: dict[str, int] = {}
        # per run, the backend's number of the last event committed (see ``publish``)
        self.cursor: dict[str, int] = {}
        self.deleted: set[str] = set()
        # called on the loop with (run_id, message) for every message before it is stored;
        # an observer may add to a status message (the sweeps' stopping rule names its reason)
        self.observers: list[Callable[[str, dict[str, Any]], None]] = []
        self.subscribers: dict[str, set[Subscriber]] = {}
        self.list_subscribers: set[Subscriber] = set()
        self._last_progress: dict[str, float] = {}
        self._unsent: dict[str, deque[Frame]] = {}  # dispatched, not yet committed
        self._writes: queue.SimpleQueue[tuple[str, dict[str, Any], int | None] | None] = (
            queue.SimpleQueue())
        self._writer = threading.Thread(target=self._write_loop, name="hub-writer", daemon=True)
        self.write_errors = 0

    # -- life cycle ------------------------------------------------------------------------------

    def start(self) -> None:
        self.loop = asyncio.get_running_loop()
        self._writer.start()

    def stop(self) -> None:
        """Write everything still queued, then end the writer thread."""
        self._writes.put(None)
        self._writer.join(30)

    # -- input -----------------------------------------------------------------------------------

    def publish(self, run_id: str, events: list[Any], cursor: int | None = None) -> None:
        """From any thread: dispatch ``events`` on the event loop.

        ``cursor`` is the sender's own number of the last of ``events`` (a remote worker
        numbers what it sends). It is committed in the same transaction as their rows, as the
        run's ``event_cursor``, and :meth:`committed_cursor` reports it once it is: a stream
        that re-attaches after a crash resumes exactly after what was stored.
        """
        assert self.loop is not None, "Hub.start() first"
        self.loop.call_soon_threadsafe(self.dispatch, run_id, events, cursor)

    def dispatch(self, run_id: str, events: Iterable[Any], cursor: int | None = None) -> int:
        """On the loop: number, persist and fan out ``events``; return the last seq."""
        if not self._known(run_id):
            return 0
        messages = [event_to_message(run_id, event) for event in events]
        for i, message in enumerate(messages):
            self.dispatch_message(run_id, message,
                                  cursor=cursor if i == len(messages) - 1 else None)
        return self.seq[run_id]

    def committed_cursor(self, run_id: str) -> int | None:
        """The last sender cursor committed for ``run_id`` (None: none since this start)."""
        return self.cursor.get(run_id)

    def _known(self, run_id: str) -> bool:
        """Whether the run exists (one imported by the CLI is looked up on first use)."""
        if run_id in self.deleted:
            return False
        if run_id not in self.seq:
            with self.db.read() as session:
                row = session.execute(select(Run.seq, Run.step).where(Run.id == run_id)).first()
            if row is None:
                return False
            self.seq[run_id] = self.flushed[run_id] = row.seq
            self.step[run_id] = row.step
        return True

    def dispatch_message(self, run_id: str, message: dict[str, Any],
                         cursor: int | None = None) -> int:
        """Number, persist and fan out one message; return its seq (0: no such run)."""
        if not self._known(run_id):
            return 0
        seq = self.seq[run_id] + 1
        self.seq[run_id] = seq
        message["seq"] = seq
        if message["step"] < 0:  # a server-side status: at the run's current step
            message["step"] = self.step.get(run_id, 0)
        if message["type"] == "metrics":
            self.step[run_id] = max(self.step.get(run_id, 0), message["step"])
        elif message["type"] == "started":
            self.step[run_id] = message["step"]
        elif message["type"] == "checkpoint" and self.runs_dir is not None:
            path = self.runs_dir / run_id / message["file"]
            message["size_bytes"] = path.stat().st_size if path.is_file() else 0
        for observe in self.observers:
            try:
                observe(run_id, message)
            except Exception:  # an observer's bug must not lose the event
                log.exception("hub observer failed on a %s message of run %s",
                              message["type"], run_id)
        self._writes.put((run_id, message, cursor))
        # sent once the writer has committed it: a client that hears of a checkpoint, a grid
        # or the end of a run can read it over REST at once
        self._unsent.setdefault(run_id, deque()).append(Frame(message["type"], seq,
                                                              json.dumps(message)))
        self._update_list(run_id, message)
        return seq

    def _update_list(self, run_id: str, message: dict[str, Any]) -> None:
        if not self.list_subscribers:
            return
        kind = message["type"]
        if kind == "status":
            summary = {"type": "status", "id": run_id, "status": message["status"],
                       "step": message["step"], "message": message["message"]}
        elif kind == "metrics":
            now = time.monotonic()
            if now - self._last_progress.get(run_id, 0.0) < PROGRESS_INTERVAL_S:
                return
            self._last_progress[run_id] = now
            values = message["values"]
            summary = {"type": "progress", "id": run_id, "step": message["step"],
                       "loss_d": values.get("loss_d"), "loss_g": values.get("loss_g")}
        else:
            return
        self.notify_list(summary)

    def notify_list(self, summary: dict[str, Any]) -> None:
        """Tell runs-list clients about a run: created, deleted, status, progress."""
        frame = Frame(summary["type"], 0, json.dumps(summary))
        for sub in list(self.list_subscribers):
            sub.push(frame)

    def forget(self, run_id: str) -> None:
        """A deleted run: no more events are written or sent for it."""
        self.deleted.add(run_id)
        self._unsent.pop(run_id, None)
        frame = Frame("deleted", self.seq.get(run_id, 0) + 1, json.dumps({"type": "deleted"}))
        for sub in self.subscribers.pop(run_id, set()):
            sub.push(frame)
        self.notify_list({"type": "deleted", "id": run_id})

    # -- subscribers -----------------------------------------------------------------------------

    def subscribe(self, run_id: str | None) -> Subscriber:
        sub = Subscriber(run_id, self.client_queue)
        if run_id is None:
            self.list_subscribers.add(sub)
        else:
            self._known(run_id)
            sub.cut = self.seq.get(run_id, 0)
            self.subscribers.setdefault(run_id, set()).add(sub)
        return sub

    def unsubscribe(self, sub: Subscriber) -> None:
        if sub.run_id is None:
            self.list_subscribers.discard(sub)
        else:
            subs = self.subscribers.get(sub.run_id)
            if subs is not None:
                subs.discard(sub)
                if not subs:
                    del self.subscribers[sub.run_id]

    async def wait_flushed(self, run_id: str, seq: int, timeout: float = 10.0) -> None:
        """Until the writer has committed ``run_id``'s events up to ``seq``."""
        deadline = time.monotonic() + timeout
        while self.flushed.get(run_id, 0) < seq and run_id not in self.deleted:
            if time.monotonic() > deadline:
                log.warning("run %s: writer is %d events behind", run_id,
                            seq - self.flushed.get(run_id, 0))
                return
            await asyncio.sleep(0.005)

    # -- the writer thread -----------------------------------------------------------------------

    def _write_loop(self) -> None:
        stopping = False
        while not stopping:
            batch, stopping = take_batch(self._writes, WRITE_BATCH)
            if batch:
                self._write_batch(batch)

    def _write_batch(self, batch: list[tuple[str, dict[str, Any], int | None]]) -> None:
        batch = [item for item in batch if item[0] not in self.deleted]
        try:
            with self.db.write() as session:
                for run_id, message, cursor in batch:
                    apply_message(session, run_id, message, cursor)
        except Exception:
            # one bad row must not lose the batch: write the rest one by one
            log.exception("batch write failed; retrying %d events one by one", len(batch))
            for run_id, message, cursor in batch:
                try:
                    with self.db.write() as session:
                        apply_message(session, run_id, message, cursor)
                except Exception:
                    self.write_errors += 1
                    log.exception("run %s: could not store %s", run_id, message.get("type"))
        done: dict[str, int] = {}
        cursors: dict[str, int] = {}
        for run_id, message, cursor in batch:
            done[run_id] = max(done.get(run_id, 0), message["seq"])
            if cursor is not None:
                cursors[run_id] = cursor
        if self.loop is not None and not self.loop.is_closed():
            try:
                self.loop.call_soon_threadsafe(self._flushed, done, cursors)
            except RuntimeError:  # the loop closed meanwhile
                self._flushed(done, cursors)
        else:
            self._flushed(done, cursors)

    def _flushed(self, done: dict[str, int], cursors: dict[str, int] | None = None) -> None:
        """On the loop: rows up to these seqs are committed; send their frames, in order."""
        self.cursor.update(cursors or {})
        for run_id, seq in done.items():
            self.flushed[run_id] = max(self.flushed.get(run_id, 0), seq)
            unsent = self._unsent.get(run_id)
            subs = list(self.subscribers.get(run_id, ()))
            while unsent and unsent[0].seq <= self.flushed[run_id]:
                frame = unsent.popleft()
                for sub in subs:
                    sub.push(frame)
            if unsent is not None and not unsent:
                del self._unsent[run_id]


def apply_message(session: Any, run_id: str, message: dict[str, Any],
                  cursor: int | None = None) -> None:
    """Store one message: its row, and what it changes in the run's row."""
    kind, seq, step = message["type"], message["seq"], message["step"]
    changes: dict[str, Any] = {"seq": seq}
    if cursor is not None:
        changes["event_cursor"] = cursor
    if kind == "metrics":
        # every report of every run, on the way from a worker to its watchers: Core statements,
        # in half the time of the ORM's unit of work (nothing here needs the session's objects)
        connection = session.connection()
        connection.execute(insert(MetricPoint.__table__), {
            "run_id": run_id, "seq": seq, "step": step, "values": message["values"]})
        changes.update(step=step, last_metrics=message["values"])
        connection.execute(update(Run.__table__).where(Run.__table__.c.id == run_id), changes)
        return
    if kind in ("sample", "view"):
        file = RunDir.file_name(kind, step)
        session.add(SampleRow(run_id=run_id, seq=seq, step=step, kind=kind, file=file,
                              nrow=message.get("nrow"), count=message.get("count")))
    elif kind == "checkpoint":
        size = message.get("size_bytes", 0)
        session.add(CheckpointRow(run_id=run_id, seq=seq, step=step, file=message["file"],
                                  size_bytes=size))
    elif kind in ("status", "hyperparams"):
        data = {k: v for k, v in message.items() if k not in ("type", "seq", "step")}
        session.add(RunEvent(run_id=run_id, seq=seq, step=step, kind=kind, data=data))
        if kind == "status":
            status = message["status"]
            changes["status"] = status
            changes["status_message"] = message.get("message") or None
            now = datetime.now(UTC)
            if status in TERMINAL:
                changes["finished_at"] = now
            if status in WITH_ERROR:
                changes["error"] = message.get("message") or None
            elif status in (RunStatus.QUEUED, RunStatus.RUNNING):
                changes["error"] = None
                if status == RunStatus.QUEUED:
                    changes["finished_at"] = None
            if status == RunStatus.RUNNING:
                run = session.get(Run, run_id)
                if run is not None and run.started_at is None:
                    changes["started_at"] = now
    elif kind == "started":
        changes.update(device=message["device"], step=step)
        if message["resumed"]:
            # a resume from a checkpoint at `step`: what came after it is replayed
            for table in (MetricPoint, SampleRow, CheckpointRow):
                session.execute(delete(table).where(table.run_id == run_id, table.step > step))
            changes["rewound_seq"] = seq
    session.execute(update(Run).where(Run.id == run_id).values(**changes))

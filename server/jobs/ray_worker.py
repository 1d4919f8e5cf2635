"""The Ray side of a run: an actor that trains one run on whichever node Ray placed it.

The node may share nothing with the server but the network. So the actor keeps its own
scratch folder for checkpoints, and every event waits in an :class:`EventBuffer`, numbered,
until the server has *stored* it: the server long-polls ``poll(after, ack)``, gets the events
numbered above ``after``, and with ``ack`` says which ones are committed in its database, so
those can go. Grids travel with their PNG bytes and checkpoints with their file's bytes: the
server writes them into its own run folder before it stores or forwards the event.

Training never waits for the server: the trainer's thread only appends to the buffer. A server
that stops polling for ``detach_timeout_s`` is taken as lost: the run stops with a checkpoint
(status ``interrupted``) and the actor waits up to ``linger_s`` for a server to collect what
is left, then exits. A server that comes back within the timeout re-attaches by name and
carries on where its database left off.

Only the standard library at the top: this module is imported on every node of the cluster.
"""

from __future__ import annotations

import dataclasses
import importlib
import logging
import os
import queue
import shutil
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from gan_core.run_dir import RunDir
from gan_core.status import RunStatus
from server.jobs.worker import WorkerSpec, report_failure, train_run

__all__ = ["EventBuffer", "RunActor", "load_target"]

log = logging.getLogger(__name__)

POLL_BATCH = 512  # events per poll answer at most (a backlog after a restart comes in pieces)
POLL_BYTES = 64 << 20  # and about this many bytes of grids and checkpoints


def load_target(path: str) -> Any:
    """``"package.module:function"`` -> the function (the training body the actor runs)."""
    module, _, name = path.partition(":")
    if not module or not name:
        raise ValueError(f"{path!r}: give a training target as 'package.module:function'")
    return getattr(importlib.import_module(module), name)


class EventBuffer:
    """The trainer's sink on a remote node: events numbered from ``start + 1``, kept until
    acknowledged. Any thread may call it; ``poll`` is the server's side."""

    def __init__(self, start: int = 0) -> None:
        self._cond = threading.Condition()
        self._entries: list[tuple[int, Any, bytes | None]] = []  # (number, event, file bytes)
        self._next = start + 1
        self.finished = False
        self.last_poll = time.monotonic()
        self.lost_server = False

    def __call__(self, event: Any) -> None:
        blob = None
        if event.kind == "checkpoint":
            blob = Path(event.path).read_bytes()  # the server cannot read this node's disk
            event = dataclasses.replace(event, path=Path(event.path).name)
        elif event.kind == "status" and self.lost_server and event.status == RunStatus.STOPPED:
            event = dataclasses.replace(
                event, status=RunStatus.INTERRUPTED.value,
                message="the run lost contact with the server and stopped with a checkpoint; "
                        "resume it to continue")
        with self._cond:
            self._entries.append((self._next, event, blob))
            self._next += 1
            self._cond.notify_all()

    def finish(self) -> None:
        with self._cond:
            self.finished = True
            self._cond.notify_all()

    def poll(self, after: int, ack: int, timeout: float) -> dict[str, Any]:
        """Drop what is acknowledged (<= ``ack``); wait up to ``timeout`` s for events numbered
        above ``after``; return them with ``done`` once training ended and all was sent."""
        deadline = time.monotonic() + timeout
        with self._cond:
            self.last_poll = time.monotonic()
            self._entries = [e for e in self._entries if e[0] > ack]
            while True:
                fresh = [e for e in self._entries if e[0] > after]
                left = deadline - time.monotonic()
                if fresh or self.finished or left <= 0:
                    break
                self._cond.wait(left)
            out, size = [], 0
            for entry in fresh:
                out.append(entry)
                size += len(entry[2] or b"") + len(getattr(entry[1], "png", b"") or b"")
                if len(out) >= POLL_BATCH or size >= POLL_BYTES:
                    break
            done = self.finished and len(out) == len(fresh)
            self.last_poll = time.monotonic()
            return {"events": out, "done": done}

    def unacknowledged(self) -> int:
        with self._cond:
            return len(self._entries)


class _Controls:
    """The trainer's control source: commands the server sent, and a stop once it is lost."""

    def __init__(self) -> None:
        self.commands: queue.Queue[Any] = queue.Queue()

    def get(self, block: bool = True, timeout: float | None = None) -> Any:
        return self.commands.get(block, timeout)

    def get_nowait(self) -> Any:
        return self.commands.get_nowait()


class RunActor:
    """One run as a Ray actor (the manager wraps it with ``ray.remote`` and its resources).

    ``run()`` trains (it occupies one of the actor's threads for the run's life); ``poll``,
    ``control`` and ``info`` are served on the others.
    """

    def __init__(self, spec: WorkerSpec, checkpoint: bytes | None, *,
                 detach_timeout_s: float, linger_s: float, target: str | None = None) -> None:
        self.spec = spec
        self.detach_timeout_s = detach_timeout_s
        self.linger_s = linger_s
        self.target = target
        self.scratch = Path(tempfile.mkdtemp(prefix=f"ganscope-{spec.run_id}-"))
        if checkpoint is not None:  # resume on any node: the server sent the file itself
            name = Path(spec.resume_from or "ckpt.safetensors").name
            path = RunDir(self.scratch).checkpoints / name
            path.parent.mkdir(parents=True)
            path.write_bytes(checkpoint)
            self.spec = dataclasses.replace(spec, resume_from=str(path))
        self.buffer = EventBuffer(spec.cursor)
        self.controls = _Controls()
        self.started = time.time()
        threading.Thread(target=self._watch_server, name="server-watch", daemon=True).start()

    # -- the server's calls -----------------------------------------------------------------------

    def poll(self, after: int, ack: int, timeout: float = 0.5) -> dict[str, Any]:
        return self.buffer.poll(after, ack, timeout)

    def control(self, command: Any) -> bool:
        self.controls.commands.put(command)
        return True

    def info(self) -> dict[str, Any]:
        import ray

        ctx = ray.get_runtime_context()
        return {"pid": os.getpid(), "node_id": ctx.get_node_id(),
                "node": ray.util.get_node_ip_address(), "gpus": ray.get_gpu_ids(),
                "started": self.started}

    # -- training ---------------------------------------------------------------------------------

    def run(self) -> str:
        """Train the run, then wait for the server to collect every event; then exit."""
        try:
            body = load_target(self.target) if self.target else _train
            body(self.spec, self.scratch, self.buffer, self.controls)
        except BaseException as exc:
            report_failure(self.spec.run_id, exc, self.buffer)
        finally:
            self.buffer.finish()
        deadline = time.monotonic() + self.linger_s
        while self.buffer.unacknowledged() and time.monotonic() < deadline:
            time.sleep(0.2)
        shutil.rmtree(self.scratch, ignore_errors=True)
        import ray

        ray.actor.exit_actor()  # frees the run's CPUs/GPU for the next run
        return "done"

    def _watch_server(self) -> None:
        """No poll for ``detach_timeout_s``: the server is gone; stop with a checkpoint."""
        while not self.buffer.finished:
            time.sleep(min(1.0, self.detach_timeout_s / 4))
            silent = time.monotonic() - self.buffer.last_poll
            if silent > self.detach_timeout_s and not self.buffer.lost_server:
                from gan_core.train import Command

                log.warning("run %s: no word from the server for %.0f s; stopping",
                            self.spec.run_id, silent)
                self.buffer.lost_server = True
                self.controls.commands.put(Command("stop"))


def _train(spec: WorkerSpec, scratch: Path, sink: EventBuffer, controls: _Controls) -> None:
    """The real training body: gan_core's Trainer, checkpoints in the node's scratch folder."""
    train_run(spec, scratch, [sink], controls)

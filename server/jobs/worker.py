"""The worker process: runs one gan_core Trainer and sends its events to the server.

It is started with the ``spawn`` method, so this module imports nothing heavy at the top:
the GPU pinning (``CUDA_VISIBLE_DEVICES``) and thread budget must be in place before torch
is imported. Events go to the run's folder first (RunDirSink) and then over the worker's one
channel, from a background thread, so a slow server never blocks a training step. If the
server goes away (the pipe breaks), the worker stops its run with a checkpoint and exits.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import queue
import threading
import time
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

__all__ = ["ChannelSender", "WorkerSpec", "run_worker", "train_run"]

log = logging.getLogger(__name__)

LOCK_WAIT_S = 60.0


@dataclass(frozen=True)
class WorkerSpec:
    """What a worker needs to know; plain data so that it pickles across ``spawn``."""

    run_id: str
    run_dir: str
    config_json: str  # the run's config (for a resume: the checkpoint's, with the new total)
    resume_from: str | None = None  # a checkpoint file: continue (or fork) from it
    gpu: int | None = None
    threads: int = 1
    # the Ray backend: custom resources the run asks for, and where its event numbers start
    # (the run's stored cursor, so that numbers keep rising across resumes)
    resources: dict[str, float] | None = None
    cursor: int = 0


class ChannelSender:
    """A sink that forwards events over ``channel`` from a background thread.

    Sample grids travel without their PNG bytes (the RunDirSink has written the file; the
    server serves it from there). ``broken`` turns true when the server is gone.
    """

    def __init__(self, channel: Connection, run_id: str) -> None:
        self.channel = channel
        self.run_id = run_id
        self.broken = False
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._send_loop, name="channel-sender", daemon=True)
        self._thread.start()

    def __call__(self, event: Any) -> None:
        if hasattr(event, "png"):
            event = dataclasses.replace(event, png=b"")
        self._queue.put(event)

    def _send_loop(self) -> None:
        while True:
            event = self._queue.get()
            if event is None:
                return
            batch = [event]
            # whatever else is waiting goes in the same message: one pickle, one write
            while len(batch) < 256:
                try:
                    nxt = self._queue.get_nowait()
                except queue.Empty:
                    break
                if nxt is None:
                    self._send(batch)
                    return
                batch.append(nxt)
            self._send(batch)

    def _send(self, batch: list[Any]) -> None:
        if self.broken:
            return
        try:
            self.channel.send((self.run_id, batch))
        except (BrokenPipeError, ConnectionError, OSError):
            self.broken = True

    def close(self, timeout: float = 30.0) -> None:
        """Send what is queued, then stop the thread."""
        self._queue.put(None)
        self._thread.join(timeout)


class _Controls:
    """The server's control queue, plus a stop when the server has gone away."""

    def __init__(self, source: Any, sender: ChannelSender) -> None:
        self.source = source
        self.sender = sender

    def get(self, block: bool = True, timeout: float | None = None) -> Any:
        if self.sender.broken:
            return self._stop()
        return self.source.get(block, timeout)

    def get_nowait(self) -> Any:
        if self.sender.broken:
            return self._stop()
        return self.source.get_nowait()

    @staticmethod
    def _stop() -> Any:
        from gan_core.train import Command

        return Command("stop")


def _lock_run_dir(run_dir: Path) -> Any:
    """Hold an exclusive lock on the run folder for the worker's life, so that a worker
    orphaned by a crashed server finishes its checkpoint before a resumed one starts."""
    try:
        import fcntl
    except ImportError:  # Windows: no advisory locks; the server's bookkeeping must do
        return None
    handle = open(run_dir / ".lock", "a")  # noqa: SIM115 (held until the process exits)
    deadline = time.monotonic() + LOCK_WAIT_S
    while True:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return handle
        except BlockingIOError:
            if time.monotonic() > deadline:
                raise RuntimeError(
                    f"{run_dir} is still used by another training process; try again later"
                ) from None
            time.sleep(0.2)


def run_worker(spec: WorkerSpec, channel: Connection, controls: Any) -> None:
    """Process entry point: train ``spec``'s run; exit code 1 when it could not run."""
    if spec.gpu is not None:
        os.environ["CUDA_VISIBLE_DEVICES"] = str(spec.gpu)
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[var] = str(spec.threads)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s worker %(message)s")

    sender = ChannelSender(channel, spec.run_id)
    code = 0
    try:
        _train_in_run_dir(spec, sender, _Controls(controls, sender))
    except BaseException as exc:
        report_failure(spec.run_id, exc, sender)
        code = 1
    finally:
        sender.close()
        channel.close()
    if code:
        raise SystemExit(code)


def report_failure(run_id: str, exc: BaseException, sink: Any) -> None:
    """A run that could not train: ``failed`` with a message a user can act on."""
    from gan_core.events import StatusChanged
    from gan_core.status import RunStatus

    message = str(exc) or type(exc).__name__
    if not isinstance(exc, ValueError | RuntimeError | OSError):
        message = f"{type(exc).__name__}: {message}"
    log.exception("run %s failed", run_id)
    sink(StatusChanged(step=0, status=RunStatus.FAILED.value, message=message))


def _train_in_run_dir(spec: WorkerSpec, sender: ChannelSender, controls: _Controls) -> None:
    """The local worker: the run folder is the server's, written here as the run goes."""
    from gan_core.checkpoint import load_checkpoint
    from gan_core.sinks import RunDirSink

    run_dir = Path(spec.run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    lock = _lock_run_dir(run_dir)
    resume_step = load_checkpoint(spec.resume_from).step if spec.resume_from else None
    sink = RunDirSink(run_dir, resume_step=resume_step)
    try:
        train_run(spec, run_dir, [sink, sender], controls)
    finally:
        sink.close()
        if lock is not None:
            lock.close()


def train_run(spec: WorkerSpec, out_dir: Path, sinks: list[Any], controls: Any) -> None:
    """Build the Trainer of ``spec`` (fresh, or from ``spec.resume_from``) and fit it.

    Checkpoints go to ``out_dir/checkpoints``; events go to ``sinks``. Shared by the local
    worker process and the Ray actor.
    """
    import torch

    from gan_core.config import RunConfig
    from gan_core.train import Trainer

    torch.set_num_threads(spec.threads)
    config = RunConfig.from_json(spec.config_json)
    if config.train.num_threads and config.train.num_threads > spec.threads:
        # the server's budget wins: two jobs must not fight over the cores
        config = config.model_copy(
            update={"train": config.train.model_copy(update={"num_threads": spec.threads})}
        )
    if spec.resume_from is not None:
        from gan_core.checkpoint import load_checkpoint

        ckpt = load_checkpoint(spec.resume_from)
        trainer = Trainer.from_checkpoint(
            ckpt, config=config, out_dir=out_dir, sinks=sinks, controls=controls
        )
    else:
        trainer = Trainer(config, out_dir=out_dir, sinks=sinks, controls=controls)
    trainer.fit()

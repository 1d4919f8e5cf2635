"""The job manager: a queue of runs, a few slots, one spawned worker process per running run.

One pump thread waits on every worker's channel and process sentinel at once
(``multiprocessing.connection.wait``): events go to ``publish`` as they arrive, and a worker
that dies (SIGKILL, segfault, out of memory) is noticed at once and reported as ``failed``
with its signal or exit code. Nothing here blocks the event loop: the routes only queue.
"""

from __future__ import annotations

import logging
import multiprocessing as mp
import os
import signal
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from multiprocessing.connection import Connection, wait
from multiprocessing.process import BaseProcess
from typing import Any

from gan_core.status import TERMINAL, RunStatus
from server.jobs.base import ActiveRun, Publish, status_event
from server.jobs.worker import WorkerSpec, run_worker

__all__ = ["JobManager", "default_gpus", "describe_exit"]

log = logging.getLogger(__name__)


def describe_exit(code: int | None) -> str:
    if code is None:
        return "the worker did not exit"
    if code < 0:
        try:
            name = signal.Signals(-code).name
        except ValueError:
            name = f"signal {-code}"
        hint = " (killed: out of memory, or by a user)" if -code == signal.SIGKILL else ""
        return f"the worker process died of {name}{hint}"
    return f"the worker process exited with code {code} without finishing the run"


@dataclass
class Job:
    spec: WorkerSpec
    process: BaseProcess
    channel: Connection | None
    controls: Any
    gpu: int | None
    final_status: str | None = None
    interrupting: bool = False
    done: threading.Event = field(default_factory=threading.Event)


class JobManager:
    """Runs at most ``slots`` workers on this machine; more runs wait in a FIFO queue."""

    name = "local"

    def __init__(
        self,
        publish: Publish,
        *,
        slots: int,
        gpus: int = 0,
        threads_per_job: int = 1,
        worker_target: Callable[..., None] = run_worker,
    ) -> None:
        self.publish = publish
        self.slots = slots
        self.gpus = gpus
        self.threads_per_job = threads_per_job
        self.worker_target = worker_target
        self._ctx = mp.get_context("spawn")
        self._free_gpus = list(range(gpus))
        self._queue: deque[WorkerSpec] = deque()
        self._jobs: dict[str, Job] = {}
        self._lock = threading.RLock()
        self._wake_r, self._wake_w = self._ctx.Pipe(duplex=False)
        self._closing = False
        self._pump = threading.Thread(target=self._pump_loop, name="job-pump", daemon=True)

    # -- public interface (any thread) ----------------------------------------------------------

    def start(self) -> None:
        self._pump.start()

    def submit(self, spec: WorkerSpec) -> None:
        """Queue a run; it starts as soon as a slot is free."""
        with self._lock:
            if self._closing:
                raise RuntimeError("the server is shutting down")
            self._queue.append(spec)
            self._schedule()

    def queued(self) -> list[str]:
        with self._lock:
            return [spec.run_id for spec in self._queue]

    def is_running(self, run_id: str) -> bool:
        with self._lock:
            return run_id in self._jobs

    def running(self) -> list[str]:
        with self._lock:
            return list(self._jobs)

    def workers(self) -> list[dict[str, Any]]:
        """The live worker processes: run id, pid, GPU."""
        with self._lock:
            return [{"run_id": run_id, "pid": job.process.pid, "gpu": job.gpu}
                    for run_id, job in self._jobs.items()]

    def recover(self, active: list[ActiveRun]) -> set[str]:
        """Local workers die with the server: nothing survives a restart to re-attach to."""
        return set()

    def describe(self) -> dict[str, Any]:
        cpus = os.cpu_count() or 1
        return {"backend": self.name, "slots": self.slots, "workers": self.workers(),
                "queued": self.queued(), "threads_per_job": self.threads_per_job,
                "gpus": self.gpus,
                "cluster": {"nodes": [{"address": "127.0.0.1", "alive": True, "local": True,
                                       "cpus": cpus, "gpus": self.gpus,
                                       "runs": len(self.running())}],
                            "cpus": {"total": cpus}, "gpus": {"total": self.gpus,
                                                             "free": len(self._free_gpus)}}}

    def cancel_queued(self, run_id: str) -> bool:
        with self._lock:
            for spec in list(self._queue):
                if spec.run_id == run_id:
                    self._queue.remove(spec)
                    return True
        return False

    def send(self, run_id: str, command: Any) -> bool:
        """Hand a control command to a running worker; False when the run is not running."""
        with self._lock:
            job = self._jobs.get(run_id)
        if job is None:
            return False
        job.controls.put(command)
        return True

    def kill(self, run_id: str, timeout: float = 10.0) -> None:
        """End a run's worker now (for a delete) and wait until it is gone."""
        self.cancel_queued(run_id)
        with self._lock:
            job = self._jobs.get(run_id)
        if job is None:
            return
        job.process.kill()
        job.done.wait(timeout)

    def shutdown(self, timeout: float = 20.0) -> None:
        """Stop every worker with a checkpoint (their runs become ``interrupted``), then join."""
        from gan_core.train import Command

        with self._lock:
            self._closing = True
            self._queue.clear()
            jobs = list(self._jobs.values())
        for job in jobs:
            job.interrupting = True
            job.controls.put(Command("stop"))
        for job in jobs:
            if not job.done.wait(timeout):
                log.warning("run %s: worker did not stop in %.0f s; killing it",
                            job.spec.run_id, timeout)
                job.process.kill()
                job.done.wait(5)
        self._wake_w.send(b"")
        self._pump.join(5)

    # -- scheduling ------------------------------------------------------------------------------

    def _schedule(self) -> None:
        with self._lock:
            while len(self._jobs) < self.slots and not self._closing:
                # a run whose previous worker is still exiting waits for it
                spec = next((s for s in self._queue if s.run_id not in self._jobs), None)
                if spec is None:
                    return
                self._queue.remove(spec)
                self._start(spec)

    def _start(self, spec: WorkerSpec) -> None:
        gpu = self._free_gpus.pop(0) if self._free_gpus else None
        spec = WorkerSpec(**{**spec.__dict__, "gpu": gpu, "threads": self.threads_per_job})
        receiver, sender = self._ctx.Pipe(duplex=False)
        controls = self._ctx.Queue()
        process = self._ctx.Process(
            target=self.worker_target,
            args=(spec, sender, controls),
            name=f"ganscope-run-{spec.run_id}",
            daemon=False,
        )
        self.publish(spec.run_id, [status_event(RunStatus.STARTING, -1, "")])  # at the run's step
        process.start()
        sender.close()  # the child holds the write end; EOF reaches us when it exits
        self._jobs[spec.run_id] = Job(spec, process, receiver, controls, gpu)
        log.info("run %s: worker pid %s started (gpu %s)", spec.run_id, process.pid, gpu)
        self._wake_w.send(b"")

    # -- the pump --------------------------------------------------------------------------------

    def _pump_loop(self) -> None:
        while True:
            with self._lock:
                if self._closing and not self._jobs:
                    return
                jobs = list(self._jobs.values())
            by_channel = {job.channel: job for job in jobs if job.channel is not None}
            by_sentinel = {job.process.sentinel: job for job in jobs}
            ready = wait([self._wake_r, *by_channel, *by_sentinel], timeout=1.0)
            for obj in ready:
                if obj is self._wake_r:
                    while self._wake_r.poll():
                        self._wake_r.recv_bytes()
                elif obj in by_channel:
                    self._drain(by_channel[obj])
            for obj in ready:
                if obj in by_sentinel:
                    self._finish(by_sentinel[obj])

    def _drain(self, job: Job) -> None:
        channel = job.channel
        try:
            while channel is not None and channel.poll():
                run_id, events = channel.recv()
                self.publish(run_id, [self._note_status(job, event) for event in events])
        except (EOFError, OSError):
            job.channel = None
            channel.close()

    def _note_status(self, job: Job, event: Any) -> Any:
        status = getattr(event, "status", None)
        if status in TERMINAL:
            if job.interrupting and status == RunStatus.STOPPED:
                event = status_event(RunStatus.INTERRUPTED, event.step,
                                "the server shut down; resume the run to continue")
            job.final_status = event.status
        return event

    def _finish(self, job: Job) -> None:
        self._drain(job)  # what it sent before it exited
        job.process.join(5)
        code = job.process.exitcode
        run_id = job.spec.run_id
        if job.final_status is None:
            message = describe_exit(code)
            status = RunStatus.INTERRUPTED if job.interrupting else RunStatus.FAILED
            log.warning("run %s: %s", run_id, message)
            self.publish(run_id, [status_event(status, -1, message, exit_code=code)])
        if job.channel is not None:
            job.channel.close()
        job.controls.close()
        job.controls.join_thread()
        with self._lock:
            self._jobs.pop(run_id, None)
            if job.gpu is not None:
                self._free_gpus.append(job.gpu)
                self._free_gpus.sort()
        job.done.set()
        self._schedule()


def default_gpus() -> int:
    """GPUs visible to the server (CUDA_VISIBLE_DEVICES respected), 0 without CUDA."""
    if os.environ.get("CUDA_VISIBLE_DEVICES", None) == "":
        return 0
    try:
        import torch

        return torch.cuda.device_count() if torch.cuda.is_available() else 0
    except Exception:
        return 0

"""The job manager alone, with stand-in workers: GPU assignment, queueing, crash reports."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from server.jobs.manager import JobManager
from server.jobs.worker import WorkerSpec
from tests.polling import wait_until
from tests.server import fake_workers


class Collector:
    def __init__(self) -> None:
        self.events: list[tuple[str, Any]] = []
        self.lock = threading.Lock()

    def __call__(self, run_id: str, events: list[Any]) -> None:
        with self.lock:
            self.events.extend((run_id, e) for e in events)

    def final(self, run_id: str, timeout: float = 60) -> Any:
        def ends(events: list[tuple[str, Any]]) -> list[Any]:
            return [e for r, e in events if r == run_id
                    and getattr(e, "status", None) in ("completed", "failed")]

        def events() -> list[tuple[str, Any]]:
            with self.lock:
                return list(self.events)

        seen = wait_until(events, ready=ends, timeout=timeout, interval=0.05,
                          what=f"{run_id} to finish")
        return ends(seen)[-1]


def spec(run_id: str) -> WorkerSpec:
    return WorkerSpec(run_id=run_id, run_dir="/nonexistent", config_json="{}")


@pytest.fixture()
def manager_factory():
    managers: list[JobManager] = []

    def make(target: Any, **kwargs: Any) -> tuple[JobManager, Collector]:
        collector = Collector()
        manager = JobManager(collector, worker_target=target, **kwargs)
        manager.start()
        managers.append(manager)
        return manager, collector

    yield make
    for manager in managers:
        manager.shutdown(timeout=10)


def test_one_job_per_gpu_and_the_rest_queue(manager_factory) -> None:
    manager, events = manager_factory(fake_workers.report_gpu, slots=2, gpus=2,
                                      threads_per_job=3)
    for run_id in ("a", "b", "c"):
        manager.submit(spec(run_id))
    assert manager.queued() == ["c"]
    gpus = {run_id: events.final(run_id).extra["gpu"] for run_id in ("a", "b", "c")}
    assert {gpus["a"], gpus["b"]} == {0, 1}
    assert gpus["c"] in (0, 1)  # it got the GPU that the first finished job gave back
    assert events.final("a").extra["threads"] == 3
    starting = [r for r, e in events.events if getattr(e, "status", None) == "starting"]
    assert starting[:2] == ["a", "b"] and starting[2] == "c"


def test_a_segfault_is_reported_with_its_signal(manager_factory) -> None:
    manager, events = manager_factory(fake_workers.segfault, slots=1)
    manager.submit(spec("x"))
    final = events.final("x")
    assert final.status == "failed" and "SIGSEGV" in final.message
    assert final.extra["exit_code"] < 0


def test_an_exit_without_a_final_status_is_a_failure(manager_factory) -> None:
    manager, events = manager_factory(fake_workers.exit_quietly, slots=1)
    manager.submit(spec("y"))
    final = events.final("y")
    assert final.status == "failed" and "code 7" in final.message

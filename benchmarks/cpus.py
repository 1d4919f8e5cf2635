"""Which CPUs a benchmark's processes may run on (Linux), so that a measured process has its
cores to itself: e.g. a training worker on one core, the server and its simulated clients on
the other, and the figure shows what the server costs training rather than what two programs
sharing a core cost each other."""

from __future__ import annotations

import contextlib
import os

__all__ = ["available", "parse_cpus", "pin"]


def available() -> set[int]:
    """The CPUs this process may run on (where there is no affinity API: all of them)."""
    if hasattr(os, "sched_getaffinity"):
        return set(os.sched_getaffinity(0))
    return set(range(os.cpu_count() or 1))


def parse_cpus(text: str) -> set[int]:
    """A taskset-style list, e.g. ``1``, ``0,2`` or ``0-3``, as a set of CPU numbers."""
    cpus: set[int] = set()
    for part in text.split(","):
        first, _, last = part.strip().partition("-")
        try:
            cpus.update(range(int(first), int(last or first) + 1))
        except ValueError:
            raise ValueError(f"{text!r} is not a CPU list such as 1, 0,2 or 0-3") from None
    if not cpus:
        raise ValueError(f"{text!r} names no CPU")
    return cpus


def pin(pid: int, cpus: set[int]) -> None:
    """Run process ``pid`` and each of its threads on ``cpus`` only (as ``taskset -a``).
    Threads and processes it starts afterwards inherit it from the thread that starts them."""
    for tid in os.listdir(f"/proc/{pid}/task"):
        with contextlib.suppress(ProcessLookupError):  # a thread that has just ended
            os.sched_setaffinity(int(tid), cpus)

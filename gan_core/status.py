"""A run's status, its sets, and the actions each status allows: the one place they are spelled.

The values are the strings stored in the database and the run folder and sent by the API, so
they never change. The server enforces these rules and serves them (``GET /api/registry``,
``statuses``) so that the web UI takes its rules from here too.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

__all__ = [
    "ACTIONS",
    "ACTIVE",
    "LIVE",
    "RESUMABLE",
    "STATUSES",
    "TERMINAL",
    "TONES",
    "WITH_ERROR",
    "WITH_NOTE",
    "RunStatus",
    "allowed_actions",
    "controls",
    "describe_statuses",
]


class RunStatus(StrEnum):
    QUEUED = "queued"            # waiting for a job slot (or a cluster's resources)
    STARTING = "starting"        # a worker is building the trainer
    RUNNING = "running"
    PAUSED = "paused"            # the trainer waits between steps
    STOPPED = "stopped"          # stopped on request (by a user, a sweep, or before it started)
    COMPLETED = "completed"      # reached its step total
    DIVERGED = "diverged"        # a loss or the weights went non-finite
    FAILED = "failed"            # the trainer raised, or the worker died
    INTERRUPTED = "interrupted"  # the server stopped (or lost the worker) while it trained


STATUSES: tuple[str, ...] = tuple(s.value for s in RunStatus)

# the server is responsible for it: a job slot holds it or it waits for one
ACTIVE = frozenset({RunStatus.QUEUED, RunStatus.STARTING, RunStatus.RUNNING, RunStatus.PAUSED})
# a trainer process holds it, so controls reach it
LIVE = frozenset({RunStatus.STARTING, RunStatus.RUNNING, RunStatus.PAUSED})
# it will not change unless someone resumes it
TERMINAL = frozenset(RunStatus) - ACTIVE
# 'resume' starts it again from its last checkpoint (a completed one only towards more steps)
RESUMABLE = TERMINAL
# its status message is the run's error
WITH_ERROR = frozenset({RunStatus.FAILED, RunStatus.DIVERGED, RunStatus.INTERRUPTED})
# its status message says why it waits, where it starts, or who stopped it and why
WITH_NOTE = frozenset({RunStatus.QUEUED, RunStatus.STARTING, RunStatus.STOPPED})

TONES: dict[RunStatus, str] = {
    RunStatus.QUEUED: "waiting", RunStatus.STARTING: "working", RunStatus.RUNNING: "working",
    RunStatus.PAUSED: "waiting", RunStatus.STOPPED: "neutral", RunStatus.COMPLETED: "done",
    RunStatus.DIVERGED: "bad", RunStatus.FAILED: "bad", RunStatus.INTERRUPTED: "neutral",
}
"""How a status is shown: the badge's colour, and a ``bad`` run's message reads as an error
(an interrupted run was not at fault: the server stopped)."""

ACTIONS = ("pause", "resume", "step", "stop", "set", "checkpoint", "continue", "delete", "fork")
"""What a client can ask of a run. ``continue`` is a resume with a larger step total
(``{"action": "resume", "steps": n}``); ``fork`` a new run from one of its checkpoints."""


def allowed_actions(status: RunStatus | str) -> tuple[str, ...]:
    """The actions the server accepts for a run in ``status``, in :data:`ACTIONS` order."""
    status = RunStatus(status)
    allowed = {"delete", "fork"}  # a running run is killed first; any checkpoint can be forked
    if status is RunStatus.QUEUED:
        allowed.add("stop")  # it leaves the queue
    if status in LIVE:
        # a resume of a trainer that is not paused does nothing, but is accepted
        allowed |= {"pause", "resume", "stop", "set", "checkpoint"}
    if status is RunStatus.PAUSED:
        allowed.add("step")
    if status in RESUMABLE:
        allowed.add("continue")
        if status is not RunStatus.COMPLETED:  # a completed run is at its total already
            allowed.add("resume")
    return tuple(a for a in ACTIONS if a in allowed)


def controls(status: RunStatus | str) -> tuple[str, ...]:
    """The allowed actions that would change something now: the run page's enabled buttons.
    (The server also accepts a pause of a paused run or a resume of a running one, as no-ops.)"""
    status = RunStatus(status)
    useful = set(allowed_actions(status))
    if status is RunStatus.PAUSED:
        useful.discard("pause")
    elif status in LIVE:
        useful.discard("resume")
    return tuple(a for a in ACTIONS if a in useful)


def describe_statuses() -> list[dict[str, Any]]:
    """Every status with its sets and allowed actions, as ``/api/registry`` serves them."""
    return [{"name": s.value, "active": s in ACTIVE, "live": s in LIVE,
             "terminal": s in TERMINAL, "resumable": s in RESUMABLE,
             "with_error": s in WITH_ERROR, "with_note": s in WITH_NOTE, "tone": TONES[s],
             "actions": list(allowed_actions(s)), "controls": list(controls(s))}
            for s in RunStatus]

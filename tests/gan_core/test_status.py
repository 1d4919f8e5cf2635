"""Run statuses: every status is active or terminal (never both), and the actions each allows
are the server's rules (tests/server/test_inprocess_statuses.py holds the server to them)."""

from __future__ import annotations

from gan_core.status import (
    ACTIONS,
    ACTIVE,
    LIVE,
    RESUMABLE,
    STATUSES,
    TERMINAL,
    TONES,
    WITH_ERROR,
    WITH_NOTE,
    RunStatus,
    allowed_actions,
    controls,
    describe_statuses,
)


def test_values_are_the_stored_strings() -> None:
    # the database, the run folders and the API hold these strings: they never change
    assert STATUSES == ("queued", "starting", "running", "paused", "stopped", "completed",
                        "diverged", "failed", "interrupted")
    assert RunStatus("paused") is RunStatus.PAUSED and RunStatus.PAUSED == "paused"
    assert f"{RunStatus.FAILED}" == "failed"


def test_every_status_is_active_or_terminal_never_both() -> None:
    assert set(RunStatus) == ACTIVE | TERMINAL
    assert not ACTIVE & TERMINAL
    assert LIVE < ACTIVE and {RunStatus.QUEUED} == ACTIVE - LIVE
    assert RESUMABLE <= TERMINAL
    assert WITH_ERROR <= TERMINAL


def test_actions_follow_the_sets() -> None:
    for status in RunStatus:
        allowed = set(allowed_actions(status))
        assert allowed <= set(ACTIONS)
        assert {"delete", "fork"} <= allowed
        assert ("pause" in allowed) == (status in LIVE)
        assert ("stop" in allowed) == (status in ACTIVE)
        assert ("step" in allowed) == (status is RunStatus.PAUSED)
        assert ("continue" in allowed) == (status in RESUMABLE)
    # a completed run is at its step total: a resume must give a larger one
    assert "resume" not in allowed_actions("completed")
    assert "resume" in allowed_actions("interrupted") and "resume" in allowed_actions("paused")
    assert "resume" not in allowed_actions("queued")


def test_the_description_lists_every_status_once() -> None:
    described = describe_statuses()
    assert [d["name"] for d in described] == list(STATUSES)
    paused = next(d for d in described if d["name"] == "paused")
    assert paused["active"] and paused["live"] and not paused["terminal"]
    assert paused["actions"] == ["pause", "resume", "step", "stop", "set", "checkpoint",
                                 "delete", "fork"]


def test_controls_are_the_allowed_actions_that_change_something() -> None:
    for status in RunStatus:
        assert set(controls(status)) <= set(allowed_actions(status))
    assert controls("running") == ("pause", "stop", "set", "checkpoint", "delete", "fork")
    assert controls("paused") == ("resume", "step", "stop", "set", "checkpoint", "delete", "fork")
    assert controls("completed") == ("continue", "delete", "fork")


def test_every_status_has_a_tone_and_only_faults_read_as_errors() -> None:
    assert set(TONES) == set(RunStatus)
    assert {s for s, tone in TONES.items() if tone == "bad"} <= WITH_ERROR
    assert TONES[RunStatus.INTERRUPTED] != "bad"  # the server stopped, not the run
    assert not WITH_NOTE & WITH_ERROR
    described = {d["name"]: d for d in describe_statuses()}
    assert described["stopped"]["with_note"] and described["failed"]["tone"] == "bad"
    assert described["paused"]["controls"] == list(controls("paused"))

"""tests/polling.py: the one helper that tests wait with."""

from __future__ import annotations

import time

import pytest

from tests.polling import WaitTimeout, wait_until


def counter(answers: list[object]):
    """A probe that gives ``answers`` in turn (the last one ever after) and counts its calls."""
    calls: list[int] = []

    def probe() -> object:
        calls.append(1)
        return answers[min(len(calls), len(answers)) - 1]

    return probe, calls


def test_it_returns_the_first_truthy_value_and_probes_no_more() -> None:
    probe, calls = counter([None, 0, {"status": "done"}, "later"])
    assert wait_until(probe, timeout=5, interval=0.001, what="x") == {"status": "done"}
    assert len(calls) == 3


def test_ready_decides_and_the_probed_value_is_returned() -> None:
    probe, calls = counter([{"step": 1}, {"step": 5}, {"step": 9}])
    run = wait_until(probe, ready=lambda r: r["step"] >= 5, timeout=5, interval=0.001,
                     what="step 5")
    assert run == {"step": 5} and len(calls) == 2


def test_a_timeout_names_what_was_awaited_and_the_last_value() -> None:
    probe, calls = counter([{"status": "queued"}])
    started = time.monotonic()
    with pytest.raises(WaitTimeout, match=r"waited 0.05 s for the run to start; the last "
                                          r"probe returned \{'status': 'queued'\}"):
        wait_until(probe, ready=lambda r: r["status"] == "running", timeout=0.05,
                   interval=0.01, what="the run to start")
    assert 0.05 <= time.monotonic() - started < 1.0
    assert len(calls) >= 2  # at once, then again until the deadline
    assert issubclass(WaitTimeout, AssertionError)  # a test failure, like a failed assert


def test_ignored_exceptions_mean_not_yet_and_others_go_through() -> None:
    attempts: list[int] = []

    def flaky() -> str:
        attempts.append(1)
        if len(attempts) < 3:
            raise ConnectionError("refused")
        return "up"

    assert wait_until(flaky, ignore=(ConnectionError,), timeout=5, interval=0.001,
                      what="x") == "up"

    def down() -> str:
        raise ConnectionError("refused")

    with pytest.raises(WaitTimeout, match=r"the last probe raised ConnectionError\('refused'\)"):
        wait_until(down, ignore=(ConnectionError,), timeout=0.02, interval=0.005, what="x")
    with pytest.raises(KeyError):
        wait_until(lambda: {}["missing"], ignore=(ConnectionError,), timeout=5, what="x")

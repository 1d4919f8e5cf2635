"""One way for a test to wait for something: poll for it, with a deadline, instead of
sleeping for a guessed while. A fixed ``time.sleep`` is left only where a test proves that
something does *not* happen within a window, and says so where it sleeps."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


class WaitTimeout(AssertionError):
    """What :func:`wait_until` awaited did not come in time (a test failure, as an assert)."""


def wait_until(probe: Callable[[], T], *, timeout: float, what: str, interval: float = 0.1,
               ready: Callable[[T], object] = bool,
               ignore: tuple[type[Exception], ...] = ()) -> T:
    """Call ``probe()`` every ``interval`` seconds until ``ready(value)`` is true (by default,
    until the value is truthy) and return that value.

    ``probe`` runs at least once, and once more at the deadline. After ``timeout`` seconds
    (``time.monotonic``) raises :class:`WaitTimeout`, saying that ``what`` was awaited, for
    how long, and what the last probe returned. An exception of a type in ``ignore`` counts
    as "not yet" (the message then names the last one); any other goes straight through.
    """
    deadline = time.monotonic() + timeout
    while True:
        try:
            value = probe()
        except ignore as exc:
            last = f"raised {exc!r}"
        else:
            if ready(value):
                return value
            last = f"returned {value!r}"
        left = deadline - time.monotonic()
        if left <= 0:
            raise WaitTimeout(f"waited {timeout:g} s for {what}; the last probe {last}")
        time.sleep(min(interval, left))

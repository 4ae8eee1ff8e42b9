"""Waiting on conditions instead of sleeping: poll, and fail saying what never happened."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")

#: How long a test waits for something that normally takes milliseconds. Generous on
#: purpose: the machines are shared, and a wait that succeeds returns at once.
WAIT_TIMEOUT = 30.0


class WaitTimeout(AssertionError):
    """A condition did not become true within its timeout."""


def wait_for(
    predicate: Callable[[], T],
    timeout: float = WAIT_TIMEOUT,
    what: str | Callable[[], str] = "the condition",
) -> T:
    """Poll ``predicate`` until it returns something truthy, and return that.

    Fails with ``WaitTimeout`` (an AssertionError) naming ``what`` was awaited; ``what``
    may be a callable, evaluated only then, to show the state at the time of failure.
    The timeout is a bound on the wait, never a statement about how fast anything is.
    """
    deadline = time.monotonic() + timeout
    pause = 0.005
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            detail = what() if callable(what) else what
            raise WaitTimeout(f"gave up after {timeout:g} s waiting for {detail}")
        time.sleep(pause)  # polling interval, not a synchronisation delay
        pause = min(pause * 2, 0.1)

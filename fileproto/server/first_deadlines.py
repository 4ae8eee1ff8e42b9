"""The event loop's first deadlines: one timer for every connection that has sent
nothing, not one each (docs/architecture.md, "The server session and the dispatch
modes")."""

from __future__ import annotations

import asyncio
import time
from collections import deque
from typing import Protocol

from fileproto.session import Limits, first_deadline


class NewConnection(Protocol):
    """What the timer needs of a connection: when it was accepted, whether it has still
    sent nothing, and its deadline's callback."""

    accepted_at: float

    @property
    def fresh(self) -> bool: ...

    def deadline(self) -> None: ...


class FirstDeadlines:
    """One timer for the first deadlines of every connection that has sent nothing, not
    one each: they come in the order the connections were accepted. A connection whose
    session began meanwhile has a timer of its own, and is passed over here."""

    def __init__(self, limits: Limits) -> None:
        self.limits = limits
        self._queue: deque[NewConnection] = deque()
        self._timer: asyncio.TimerHandle | None = None

    def add(self, protocol: NewConnection) -> None:
        self._queue.append(protocol)
        if self._timer is None:
            self._arm()

    def _arm(self) -> None:
        self._timer = None
        if self._queue:
            when = first_deadline(self.limits, self._queue[0].accepted_at)
            delay = max(0.0, when - time.monotonic())
            self._timer = asyncio.get_running_loop().call_later(delay, self._fire)

    def _fire(self) -> None:
        now = time.monotonic()
        queue = self._queue
        while queue and first_deadline(self.limits, queue[0].accepted_at) <= now:
            protocol = queue.popleft()
            if protocol.fresh:
                protocol.deadline()
        self._arm()

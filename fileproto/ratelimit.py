"""A token bucket: how a client on a slower link is imitated on loopback.

A client with ``rate`` bytes/s takes tokens for every byte it sends or receives and
sleeps when the bucket is empty, so its traffic has the average rate of a real link of
that speed and bursts of at most ``burst`` bytes.
"""

from __future__ import annotations

import time
from collections.abc import Callable


class TokenBucket:
    __slots__ = ("_clock", "_sleep", "_stamp", "_tokens", "burst", "rate")

    def __init__(
        self,
        rate: float,
        burst: int | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if not rate > 0:
            raise ValueError(f"a rate must be positive, got {rate}")
        self.rate = float(rate)
        # A tenth of a second's worth, at least one TCP segment: smooth, not chatty.
        self.burst = burst if burst is not None else max(1460, int(rate / 10))
        self._tokens = float(self.burst)
        self._clock = clock
        self._sleep = sleep
        self._stamp = clock()

    @property
    def step(self) -> int:
        """The largest piece to send or receive at once."""
        return self.burst

    def take(self, amount: int) -> None:
        """Account for ``amount`` bytes, sleeping as long as the link would have taken."""
        now = self._clock()
        self._tokens = min(self.burst, self._tokens + (now - self._stamp) * self.rate)
        self._stamp = now
        self._tokens -= amount
        if self._tokens < 0:
            self._sleep(-self._tokens / self.rate)

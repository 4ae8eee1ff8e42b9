"""Request deadlines as data: what a connection may still take, and when it is over.

Modelled on Apache's mod_reqtimeout: the header must be complete ``header_timeout``
seconds after it began, extended by a second for every ``min_rate`` bytes that arrive,
up to twice that; a request body must keep an average of ``min_rate`` bytes/s over
every window of ``header_timeout`` seconds; a connection idle between requests is
closed after ``keepalive_timeout``; a response the client takes nothing of for
``send_timeout`` ends the connection. The first request's header clock starts at
accept, so a connection that waits for a worker is timed all the same.
"""

from __future__ import annotations

from dataclasses import dataclass

from fileproto.session.actions import State
from fileproto.trace import Deadline
from fileproto.wire.request_parser import DEFAULT_MAX_HEADER


@dataclass(frozen=True)
class Limits:
    header_timeout: float = 20.0
    min_rate: float = 500.0
    keepalive_timeout: float = 30.0
    #: A send that makes no progress for this long ends the connection (a client that
    #: stops reading a GET response).
    send_timeout: float = 30.0
    max_header: int = DEFAULT_MAX_HEADER
    max_file_size: int | None = None
    #: Raw bytes per base64 chunk of a GET response (a multiple of 3).
    read_chunk: int = 3 << 18
    #: Requests served on one connection before it is closed (every loop is bounded).
    max_requests: int = 100_000

    def __post_init__(self) -> None:
        for field in ("header_timeout", "min_rate", "keepalive_timeout", "send_timeout"):
            if not getattr(self, field) > 0:
                raise ValueError(f"{field} must be positive")
        if self.read_chunk % 3 or self.read_chunk <= 0:
            raise ValueError("read_chunk must be a positive multiple of 3")


def first_deadline(limits: Limits, accepted_at: float) -> float:
    """When a connection that has sent nothing is over: its first header's clock runs
    from accept. A driver may hold such a connection with no session until its first
    byte, its end of stream or this deadline, whichever comes first, and only then make
    the session that decides (an idle connection then costs no session)."""
    return accepted_at + limits.header_timeout


@dataclass(frozen=True, slots=True)
class Expired:
    """A deadline fired. ``message`` is the ERROR answer, or None to close silently."""

    deadline: Deadline
    message: str | None


class Deadlines:
    """The clock of the state a connection is in; the session tells it each change."""

    __slots__ = ("_bytes", "_first", "_start", "_state", "limits")

    def __init__(self, limits: Limits, accepted_at: float) -> None:
        self.limits = limits
        self._first = True  # the first request's header clock runs from accept
        self._state = State.AWAITING_REQUEST
        self._start = accepted_at
        self._bytes = 0

    def received(self, size: int) -> None:
        self._bytes += size

    def enter(self, state: State, now: float) -> None:
        """The connection is now in ``state``; a change restarts the matching clock."""
        previous = self._state
        if state is previous:
            return
        self._state = state
        if state is State.RECEIVING_HEADER:
            # The first request's header clock runs from accept; any later header's
            # (after keep-alive, or after a bad request was skipped) from its first byte.
            if previous is not State.AWAITING_REQUEST:
                self._start, self._bytes = now, 0
            elif not self._first:
                self._start = now  # the bytes counted since the answer are this header's
        elif state is State.RECEIVING_BODY:
            if previous in (State.AWAITING_REQUEST, State.RECEIVING_HEADER):
                self._start, self._bytes = now, 0
        elif state is State.SENDING_RESPONSE:
            self._start = now  # the send-stall clock: restarted by every byte taken
        elif state is State.AWAITING_REQUEST:
            # A response is out: the keep-alive clock starts now.
            self._first = False
            self._start, self._bytes = now, 0

    def progress(self, now: float) -> None:
        """The client took bytes of a response: the send-stall clock starts again."""
        if self._state is State.SENDING_RESPONSE:
            self._start = now

    @property
    def deadline(self) -> float:
        limits = self.limits
        state = self._state
        if state is State.AWAITING_REQUEST:
            if self._first:
                return first_deadline(limits, self._start)
            return self._start + limits.keepalive_timeout
        if state is State.RECEIVING_HEADER:
            extended = limits.header_timeout + self._bytes / limits.min_rate
            return self._start + min(extended, 2 * limits.header_timeout)
        if state is State.SENDING_RESPONSE:
            return self._start + limits.send_timeout
        return self._start + limits.header_timeout  # the end of this body window

    def check(self, now: float) -> Expired | None:
        """None while in time; an Expired once the current deadline has passed."""
        if now < self.deadline:
            return None
        limits = self.limits
        state = self._state
        if state is State.RECEIVING_BODY:
            window = limits.header_timeout
            if self._bytes >= limits.min_rate * window:
                self._start, self._bytes = now, 0  # fast enough: a new window
                return None
            return Expired(
                Deadline.BODY,
                f"request timeout: the request body arrived slower than "
                f"{limits.min_rate:.0f} bytes/s over {window:g} s",
            )
        if state is State.SENDING_RESPONSE:
            return Expired(Deadline.SEND, None)  # mid-response: the framing cannot carry an error
        if state is State.AWAITING_REQUEST and not self._first:
            return Expired(Deadline.KEEP_ALIVE, None)
        allowed = round(self.deadline - self._start, 1)
        return Expired(Deadline.HEADER, f"request timeout: header not complete after {allowed:g} s")

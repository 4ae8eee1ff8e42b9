"""What a ServerSession asks its driver to do next, and the one state it is in."""

from __future__ import annotations

import enum
from dataclasses import dataclass

from fileproto.trace import CloseKind, Deadline

#: Seconds a refused connection (or one closed after an error answer) is half-closed and
#: read from, discarding what arrives, before it is closed: a close with unread bytes
#: is a reset, and a reset can destroy the answer before the client has read it.
LINGER = 2.0


class State(enum.Enum):
    """Where a connection stands (h11's ``our_state``): the one public description.

    A driver needs it to know what a waiting connection waits for: bytes of a request
    (``AWAITING_REQUEST``, ``RECEIVING_HEADER``, ``RECEIVING_BODY``) or room to send
    (``SENDING_RESPONSE``).
    """

    #: Before the first byte of a request: the first one, or the next on keep-alive.
    AWAITING_REQUEST = "awaiting request"
    #: A request has begun; its command and name are still arriving.
    RECEIVING_HEADER = "receiving header"
    #: The payload of an upload is arriving (or the rest of a refused request is being
    #: discarded).
    RECEIVING_BODY = "receiving body"
    #: A response is being handed out.
    SENDING_RESPONSE = "sending response"
    CLOSED = "closed"


@dataclass(frozen=True, slots=True)
class Send:
    """Send what you can of ``data``, report it with ``session.sent(count, now)``, and
    ask again: the rest of a piece that did not fit is asked for again."""

    data: bytes | memoryview


@dataclass(frozen=True, slots=True)
class Receive:
    """Feed the session what arrives (``session.receive_data``) and ask again. Waiting
    ends at ``deadline`` (monotonic seconds): take what already arrived, then ask
    ``session.timed_out(now)``, which decides."""

    deadline: float


@dataclass(frozen=True, slots=True)
class Close:
    """Close the connection. ``reason`` is for the log and the trace; ``deadline``
    names the deadline that closed it, if one did. With ``linger`` > 0, half-close
    first and discard what still arrives for that many seconds (an answer was sent
    that a reset could destroy)."""

    reason: str
    kind: CloseKind = CloseKind.PEER
    deadline: Deadline | None = None
    linger: float = 0.0


@dataclass(frozen=True, slots=True)
class Work:
    """From ``poll``: a worker should take over (a request has arrived, an answer is
    due). Polling never does store or disk work."""


Action = Send | Receive | Close
Polled = Work | Receive | Close

"""What a ServerSession asks its driver to do next."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from fileproto.wire.request_parser import Phase

#: Why a session waits: ``idle`` before a request's first byte, ``header`` while the
#: request line or envelope arrives, ``payload``/``skip`` while a request body arrives.
Waiting = Phase


@dataclass(frozen=True, slots=True)
class Send:
    """Send all of ``data``, then ask again. ``last`` marks the end of a response."""

    data: bytes
    last: bool = False


@dataclass(frozen=True, slots=True)
class Receive:
    """Feed the session what arrives before ``deadline`` (monotonic seconds), then ask
    again; at the deadline, ask again without data and the session decides.

    ``phase`` tells a readiness driver whether the connection may be parked: between
    requests (``idle``) and while a header arrives (``header``: a pipelined request cut
    short) it waits in a selector, not in a worker. (A worker in another process can
    park only ``idle`` connections: the parser's state stays with it.)
    """

    deadline: float
    phase: Waiting

    @property
    def parkable(self) -> bool:
        return self.phase in ("idle", "header")


@dataclass(frozen=True, slots=True)
class Close:
    """Close the connection. ``reason`` is for the log (``-v``)."""

    reason: str
    kind: Literal["peer", "deadline", "error", "limit"] = "peer"


Action = Send | Receive | Close

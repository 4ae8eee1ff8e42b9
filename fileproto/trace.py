"""The trace's vocabulary, defined once: what a server's trace says of each connection
(docs/trace.md), and the event as the reports read it back.

The servers write these names, the session emits some of them itself (a request's
``header`` and ``response``, a worker's ``waited``), the results record keeps them and the
reports read them back. The names are ``StrEnum`` members: each is its own string, so the JSON lines
read and write exactly as before and a name read from a file compares equal to its
member. This module imports nothing else of fileproto: every layer may import it.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


class Ev(enum.StrEnum):
    """The ``ev`` of a server trace line: what happened to a connection."""

    #: The server accepted the connection (``peer``: the client's "host:port").
    ACCEPTED = "accepted"
    #: Accepted and refused at the connection cap (its ``conn`` is "refused-PID-N").
    REFUSED = "refused"
    #: A request's header is complete (``cmd``: LIST, GET, UPLOAD, DELETE or null).
    HEADER = "header"
    #: A worker took the connection (``worker``); after ``given_back``, a resume.
    TAKEN = "taken"
    #: The worker gave the connection back to the dispatcher (``why``: Why; ``waited_s``:
    #: how long it had waited on the client just before; ``preempted``: a Preemption when
    #: its quantum was over and another connection was to run first).
    GIVEN_BACK = "given_back"
    #: A worker that kept the connection, or an event loop, waited on the client until
    #: now (``why``, ``waited_s``); waits under a millisecond are not written.
    WAITED = "waited"
    #: A response just completed with ``bytes`` of it still in the server's send buffers.
    BUFFERED = "buffered"
    #: A connection given back mid-request or mid-response can move again (bytes came,
    #: or room to send: ``writing``); from here it waits for a worker.
    READY = "ready"
    #: A response was completely sent (``cmd``, ``status``).
    RESPONSE = "response"
    #: The connection was closed (``reason``; ``deadline``: the Deadline that closed it).
    CLOSED = "closed"


class Why(enum.StrEnum):
    """What a connection waits for: why a worker gave it back (``given_back``'s ``why``),
    or what a worker or loop waited on (``waited``'s)."""

    #: Between requests: nothing received, nothing to send.
    IDLE = "idle"
    #: Mid-request: the rest of a header or body has not arrived.
    READ = "read"
    #: Mid-response: the client has not taken what was sent.
    WRITE = "write"


class Preemption(enum.StrEnum):
    """Why a worker gave a connection back while its bytes still moved, after a quantum
    (``given_back``'s ``preempted``; docs/architecture.md, "Scheduling")."""

    #: A connection with less service waits: a new request, or one that has had less
    #: than a quantum of worker time (the mlfq schedule).
    SHORTER = "shorter"
    #: A long transfer that came first waits: long transfers go on in arrival order
    #: (mlfq).
    EARLIER = "earlier"
    #: Any other connection waits (round robin, the rr schedule).
    TURN = "turn"


class Deadline(enum.StrEnum):
    """Which deadline closed a connection (``closed``'s ``deadline``; docs/architecture.md,
    Deadlines)."""

    HEADER = "header"
    BODY = "body"
    KEEP_ALIVE = "keep-alive"
    SEND = "send"


class CloseKind(enum.StrEnum):
    """What ended a connection, as a driver needs to know it (for the log: a peer that
    left between requests is not news)."""

    PEER = "peer"
    DEADLINE = "deadline"
    ERROR = "error"
    LIMIT = "limit"
    REFUSED = "refused"


class Closing(enum.StrEnum):
    """The fixed ``reason`` texts of ``closed`` (the others quote an error or a deadline)."""

    PEER_CLOSED = "peer closed"
    SERVER_STOPPING = "server stopping"
    SERVING_FAILED = "serving failed"
    NOT_SENT = "answer not sent: the client takes nothing"
    WORKER_DIED = "the worker serving it died"
    REQUEST_LIMIT = "request limit of this connection reached"


def lenient_number(value: Any) -> float | None:
    """A number read from a record, or None when it is not one (a damaged file)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


@dataclass(frozen=True)
class ServerEvent:
    """One server trace event, ``at`` seconds from the case's start."""

    at: float
    conn: str
    ev: str
    worker: str | None = None
    peer: str | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)

    @property
    def preempted(self) -> str | None:
        """Why a worker let go of the connection while its bytes still moved (a
        ``given_back`` with ``preempted``), else None."""
        why = self.extra.get("preempted") if self.ev == Ev.GIVEN_BACK else None
        return str(why) if why else None

    @property
    def peer_port(self) -> int | None:
        if not self.peer:
            return None
        _, _, port = self.peer.rpartition(":")
        return int(port) if port.isdigit() else None

    @classmethod
    def of(cls, raw: Any) -> ServerEvent | None:
        if not isinstance(raw, Mapping):
            return None
        at = lenient_number(raw.get("at"))
        ev, conn = raw.get("ev"), raw.get("conn")
        if at is None or not isinstance(ev, str) or conn is None:
            return None
        worker, peer = raw.get("worker"), raw.get("peer")
        known = {"at", "mono", "t", "conn", "ev", "worker", "peer"}
        return cls(
            at,
            str(conn),
            ev,
            worker if isinstance(worker, str) else None,
            peer if isinstance(peer, str) else None,
            {k: v for k, v in raw.items() if k not in known},
        )

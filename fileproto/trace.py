"""The trace's vocabulary, defined once: what a server's trace says of each connection,
and what a case's timeline says of each client request (docs/trace.md).

The servers write these names, the session emits two of them itself (a request's
``header`` and its ``response``), the results record keeps them and the reports read
them back. The names are ``StrEnum`` members: each is its own string, so the JSON lines
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
    #: The worker gave the connection back to the dispatcher (``why``: GiveBackWhy).
    GIVEN_BACK = "given_back"
    #: A connection given back mid-request or mid-response can move again (bytes came,
    #: or room to send: ``writing``); from here it waits for a worker.
    READY = "ready"
    #: A response was completely sent (``cmd``, ``status``).
    RESPONSE = "response"
    #: The connection was closed (``reason``; ``deadline``: the Deadline that closed it).
    CLOSED = "closed"


class GiveBackWhy(enum.StrEnum):
    """Why a worker gave a connection back (``given_back``'s ``why``)."""

    #: Between requests: nothing received, nothing to send.
    IDLE = "idle"
    #: Mid-request: the rest of a header or body has not arrived.
    READ = "read"
    #: Mid-response: the client has not taken what was sent.
    WRITE = "write"


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


#: The phases of a client request as the client's own marks split it, in order:
#: connect -> connected -> sent -> first_byte -> done.
CLIENT_PHASES = ("connecting", "sending", "waiting for first byte", "receiving")


def lenient_number(value: Any) -> float | None:
    """A number read from a record, or None when it is not one (a damaged file)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def _port(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


@dataclass(frozen=True)
class ClientSpan:
    """One measured client's request. ``connect`` is when it began connecting (for a
    connection kept from an earlier request, when the request began); a later phase is
    None when the request never got there. ``done`` is when the client stopped: the
    answer's end, or the error (``ok`` says which)."""

    client: int
    op: str
    port: int | None
    ok: bool
    error: str | None
    connect: float
    connected: float | None = None
    sent: float | None = None
    first_byte: float | None = None
    done: float | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "client": self.client,
            "op": self.op,
            "port": self.port,
            "ok": self.ok,
            "error": self.error,
            "connect": self.connect,
            "connected": self.connected,
            "sent": self.sent,
            "first_byte": self.first_byte,
            "done": self.done,
        }


@dataclass(frozen=True)
class Request(ClientSpan):
    """One client request's phases, seconds from the case's start (None: not reached):
    the record's ``ClientSpan``, read leniently (a report shows what it can of a damaged
    file), with what the report needs of it."""

    @property
    def end(self) -> float:
        """The last moment known of this request."""
        marks = (self.done, self.first_byte, self.sent, self.connected)
        return next((m for m in marks if m is not None), self.connect)

    def client_phases(self) -> list[tuple[str, float, float]]:
        """(phase, start, end) of the phases the request reached."""
        marks = [self.connect, self.connected, self.sent, self.first_byte, self.done]
        out = []
        for phase, start, end in zip(CLIENT_PHASES, marks, marks[1:], strict=False):
            if start is None or end is None:
                break
            out.append((phase, start, max(start, end)))
        return out

    @classmethod
    def of(cls, raw: Any) -> Request | None:
        if not isinstance(raw, Mapping):
            return None
        connect = lenient_number(raw.get("connect"))
        client = raw.get("client")
        if connect is None or not isinstance(client, int) or isinstance(client, bool):
            return None
        error = raw.get("error")
        return cls(
            client=client,
            op=str(raw.get("op") or ""),
            port=_port(raw.get("port")),
            ok=raw.get("ok") is True,
            error=error if isinstance(error, str) else None,
            connect=connect,
            connected=lenient_number(raw.get("connected")),
            sent=lenient_number(raw.get("sent")),
            first_byte=lenient_number(raw.get("first_byte")),
            done=lenient_number(raw.get("done")),
        )


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

"""The server's trace: what happened to each connection, as JSON lines (docs/trace.md),
in the names of ``fileproto.trace``.

Every process of a server appends to one file (``fileproto serve --trace FILE``): one
``os.write`` of one whole line per event on an O_APPEND descriptor, so lines of
different processes never interleave. Off by default; when off, nothing is formatted.
"""

from __future__ import annotations

import itertools
import json
import os
import socket
import threading
import time
from typing import Any

from fileproto import tcpinfo
from fileproto.server.policy import HOLD
from fileproto.server.sockets import peer_of
from fileproto.session import Close, ServerSession, Trace
from fileproto.trace import Ev, Why

#: A wait on the client shorter than this is not traced: it counts as served. The
#: readiness dispatch's hold, the shortest wait after which a worker gives a connection
#: back, so both dispatches resolve waits alike.
WAIT_TRACED = HOLD

_FLAGS = os.O_WRONLY | os.O_APPEND | os.O_CREAT | getattr(os, "O_CLOEXEC", 0)


class Tracer:
    def __init__(self, path: str) -> None:
        self.path = path
        self._fd = os.open(path, _FLAGS, 0o644)

    def event(self, conn: object, ev: Ev, **fields: Any) -> None:
        record = {"mono": time.monotonic(), "t": time.time(), "conn": str(conn), "ev": ev}
        record.update(fields)
        line = json.dumps(record, separators=(",", ":")) + "\n"
        os.write(self._fd, line.encode())

    def closed(self, conn: object, close: Close, sock: socket.socket | None = None) -> None:
        """The one way a connection's end is written: its reason, the deadline that
        closed it if one did, and, where the kernel tells it, how long before the server
        had last sent data on it (when the client had taken the last of its answer into
        its own buffers, docs/trace.md)."""
        fields: dict[str, Any] = {"reason": close.reason, "deadline": close.deadline}
        last = None if sock is None else tcpinfo.since_sent(sock)
        if last is not None:
            fields["last_sent_s"] = last
        self.event(conn, Ev.CLOSED, **fields)

    def for_conn(self, conn: object) -> Trace:
        """The session's hook for one connection."""

        def trace(ev: Ev, fields: dict[str, Any]) -> None:
            self.event(conn, ev, **fields)

        return trace

    def close(self) -> None:
        os.close(self._fd)


def open_tracer(path: str | None) -> Tracer | None:
    return None if path is None else Tracer(path)


def accepted_fields(sock: socket.socket) -> dict[str, Any]:
    """The ``accepted`` (or ``refused``) event's own keys for a socket just accepted,
    read before anything is sent on it: the client's address and, where the kernel
    tells it, how long the connection had waited in the listen queue (docs/trace.md)."""
    fields: dict[str, Any] = {"peer": peer_of(sock)}
    waited = tcpinfo.accept_wait(sock)
    if waited is not None:
        fields["accept_wait_s"] = waited
    return fields


_refusals = itertools.count()


def refusal_id() -> str:
    """The trace's id of a connection refused at the cap (never counted in, so it has
    no connection id of its own)."""
    return f"refused-{os.getpid()}-{next(_refusals)}"


def worker_name() -> str:
    """Who serves, as the trace names it: ``thread:N`` in a thread, else
    ``process:PID`` (the event loops say ``loop:PID`` themselves)."""
    thread = threading.current_thread()
    if thread is threading.main_thread():
        return f"process:{os.getpid()}"
    return f"thread:{thread.name.rpartition('_')[2]}"


def wait_why(session: ServerSession, writing: bool) -> Why:
    """What a connection waits for: room to send (its client reads its answer), the rest
    of a request, or a request."""
    if writing:
        return Why.WRITE
    return Why.IDLE if session.idle else Why.READ


def trace_wait(session: ServerSession, why: Why, began: float, now: float) -> None:
    """A wait on the client, from ``began`` to ``now``, as a ``waited`` event (when
    traced and at least :data:`WAIT_TRACED` long)."""
    if session.trace is not None and now - began >= WAIT_TRACED:
        session.trace(Ev.WAITED, {"why": why, "waited_s": round(now - began, 6)})


def trace_buffered(session: ServerSession, unsent: int | None) -> None:
    """A response just completed with ``unsent`` of its bytes still in the server's
    send buffers (the client has yet to take them): a ``buffered`` event, when any are."""
    if session.trace is not None and unsent:
        session.trace(Ev.BUFFERED, {"bytes": unsent})

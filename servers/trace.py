"""The server's trace: what happened to each connection, as JSON lines (docs/trace.md).

Every process of a server appends to one file (``fileproto serve --trace FILE``): one
``os.write`` of one whole line per event on an O_APPEND descriptor, so lines of
different processes never interleave. Off by default; when off, nothing is formatted.
"""

from __future__ import annotations

import itertools
import json
import os
import threading
import time
from typing import Any

from fileproto.session import ServerSession, Trace

#: A wait on the client shorter than this is not traced: it counts as served. The
#: readiness dispatch's hold (``servers/connection.py``), the shortest wait after which
#: a worker gives a connection back, so both dispatches resolve waits alike.
WAIT_TRACED = 0.001

_FLAGS = os.O_WRONLY | os.O_APPEND | os.O_CREAT | getattr(os, "O_CLOEXEC", 0)


class Tracer:
    def __init__(self, path: str) -> None:
        self.path = path
        self._fd = os.open(path, _FLAGS, 0o644)

    def event(self, conn: object, ev: str, **fields: Any) -> None:
        record = {"mono": time.monotonic(), "t": time.time(), "conn": str(conn), "ev": ev}
        record.update(fields)
        line = json.dumps(record, separators=(",", ":")) + "\n"
        os.write(self._fd, line.encode())

    def for_conn(self, conn: object) -> Trace:
        """The session's hook for one connection."""

        def trace(ev: str, fields: dict[str, Any]) -> None:
            self.event(conn, ev, **fields)

        return trace

    def close(self) -> None:
        os.close(self._fd)


def open_tracer(path: str | None) -> Tracer | None:
    return None if path is None else Tracer(path)


_refusals = itertools.count()


def refusal_id() -> str:
    """The trace's id of a connection refused at the cap (never counted in, so it has
    no connection id of its own)."""
    return f"refused-{os.getpid()}-{next(_refusals)}"


def worker_name() -> str:
    """Who serves, as the trace names it: ``thread:N`` in a pool of threads, else
    ``process:PID`` (the event loops say ``loop:PID`` themselves)."""
    thread = threading.current_thread()
    if thread is threading.main_thread():
        return f"process:{os.getpid()}"
    return f"thread:{thread.name.rpartition('_')[2]}"


def wait_reason(session: ServerSession, writing: bool) -> str:
    """What a connection waits for, as the trace says it: "write" (room to send: the
    client reads its answer), "read" (the rest of a request), "idle" (a request)."""
    if writing:
        return "write"
    return "idle" if session.idle else "read"


def trace_wait(session: ServerSession, why: str, began: float, now: float) -> None:
    """A wait on the client, from ``began`` to ``now``, as a ``waited`` event (when
    traced and at least :data:`WAIT_TRACED` long)."""
    if session.trace is not None and now - began >= WAIT_TRACED:
        session.trace("waited", {"why": why, "waited_s": round(now - began, 6)})


def trace_buffered(session: ServerSession, unsent: int | None) -> None:
    """A response just completed with ``unsent`` of its bytes still in the server's
    send buffers (the client has yet to take them): a ``buffered`` event, when any are."""
    if session.trace is not None and unsent:
        session.trace("buffered", {"bytes": unsent})

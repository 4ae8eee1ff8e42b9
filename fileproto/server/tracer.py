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
import threading
import time
from typing import Any

from fileproto.session import Close, Trace
from fileproto.trace import Ev

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

    def closed(self, conn: object, close: Close) -> None:
        """The one way a connection's end is written: its reason, and the deadline that
        closed it if one did."""
        self.event(conn, Ev.CLOSED, reason=close.reason, deadline=close.deadline)

    def for_conn(self, conn: object) -> Trace:
        """The session's hook for one connection."""

        def trace(ev: Ev, fields: dict[str, Any]) -> None:
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
    """Who serves, as the trace names it: ``thread:N`` in a thread, else
    ``process:PID`` (the event loops say ``loop:PID`` themselves)."""
    thread = threading.current_thread()
    if thread is threading.main_thread():
        return f"process:{os.getpid()}"
    return f"thread:{thread.name.rpartition('_')[2]}"

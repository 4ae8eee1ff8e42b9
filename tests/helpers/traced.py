"""A server the test starts with its trace (``--trace``, docs/trace.md), and what the
trace says of a connection: when its client's end is known to the server, and when (and
why) the connection was given back to the dispatcher without a worker."""

from __future__ import annotations

import contextlib
import json
import os
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from fileproto.pytest.servers import RunningServer, ServerPool
from tests.helpers.servers import skip_if_target
from tests.helpers.waiting import WAIT_TIMEOUT, wait_for


@contextlib.contextmanager
def traced(
    pool: ServerPool, kind: str, workers: int, *args: str
) -> Iterator[tuple[RunningServer, Path]]:
    """A server of its own, stopped on the way out, and the path of its trace."""
    skip_if_target(pool)
    # The plugin traces its servers unless told not to; then the test asks for it.
    own = Path(pool.base) / f"traced-{kind}-{os.getpid()}-{time.monotonic_ns()}.jsonl"
    extra = () if pool.options.trace else ("--trace", str(own))
    server = pool.start(kind, workers, *extra, *args)
    trace = own if server.trace is None else Path(server.trace.path)
    try:
        yield server, trace
    finally:
        pool.stop(server)


def events(trace: Path) -> list[dict[str, Any]]:
    if not trace.exists():
        return []
    text = trace.read_text()
    # Whole lines only: the server may be writing the last one.
    complete = text[: text.rfind("\n") + 1]
    return [json.loads(line) for line in complete.splitlines() if line.strip()]


def conn_of(trace: Path, sock: socket.socket) -> str:
    """The trace's id of the connection whose client end is ``sock``."""
    host, port = sock.getsockname()[:2]
    peer = f"{host}:{port}"

    def found() -> str | None:
        for event in events(trace):
            if event["ev"] == "accepted" and event.get("peer") == peer:
                return str(event["conn"])
        return None

    wait_for(lambda: found() is not None, what=f"the server to trace {peer}")
    conn = found()
    assert conn is not None
    return conn


def given_back(trace: Path, conn: str, why: str) -> bool:
    """Whether the trace says ``conn`` was given back, waiting to ``why`` ("read"...)."""
    return any(
        e["ev"] == "given_back" and e["conn"] == conn and e.get("why") == why for e in events(trace)
    )


def held_by_the_parent(server: RunningServer, trace: Path, sock: socket.socket) -> None:
    """Wait until the connection of ``sock`` waits in the parent (the readiness dispatch),
    given back while its request's bytes paused: the trace says so, and a LIST on another
    connection is answered by the one worker (which writes ``given_back`` to its trace
    before it sends the session home, and takes no other connection until it has)."""
    conn = conn_of(trace, sock)
    wait_for(lambda: given_back(trace, conn, "read"), what="the request to be given back")
    with server.client(timeout=WAIT_TIMEOUT) as client:
        client.list()

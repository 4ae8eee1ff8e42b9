"""Readiness dispatch: one selector holds every connection that waits, and a worker
drives a session only while bytes move (docs/architecture.md, Dispatch).

A connection waits here before its request and between requests (this thread reads
the header as it comes and parses it, once: a slowloris client never costs a worker),
and also in the middle of a request or response whenever a worker found its socket
would block: a slow body, a client that stops reading. Then the selector waits for
bytes or for room to send, and for the session's deadline, and any free worker
continues the connection with its session. Apache's event MPM does this for the end of
a response, nginx for request bodies; here it holds at every point of a request.

A waiting connection costs a socket, a small record and a session (its parser is made
at the first byte). Deadlines of waiting connections are kept in a heap and judged by
the session, here, without a worker.
"""

from __future__ import annotations

import contextlib
import heapq
import itertools
import logging
import queue
import selectors
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from fileproto.session import Close, Receive, ServerSession, State, Work
from servers.config import POLL
from servers.connection import accepted_fields, closed_fields, peer_of, send_closing, unsent_bytes
from servers.linger import Lingerer
from servers.trace import Tracer

log = logging.getLogger("fileproto.server")

#: Bytes read at once for a connection waiting for its header: a header is at most
#: 64 KiB, and a small read keeps a slowloris' held bytes small.
HEADER_RECV = 1 << 16
#: New connections taken per wake-up, so a flood cannot starve the others.
ACCEPT_BATCH = 64


class Dispatching(Protocol):
    """What the dispatcher needs of its server (kept apart to avoid an import circle)."""

    listener: socket.socket
    lingerer: Lingerer
    grace: float
    tracer: Tracer | None

    @property
    def stopping(self) -> bool: ...

    def poll(self) -> None: ...

    def register(self, conn: socket.socket) -> int | None: ...

    def refuse(self, conn: socket.socket, now: float) -> None: ...

    def open_count(self) -> int: ...

    def new_session(self, conn_id: int, accepted_at: float) -> ServerSession: ...

    def finished(self, conn_id: int, linger: float = 0.0) -> None: ...

    def serve_ready(self, parked: Parked) -> None: ...


@dataclass(slots=True, eq=False)
class Parked:
    """A connection waiting in the selector, or handed to a worker from there."""

    conn_id: int
    sock: socket.socket
    session: ServerSession
    deadline: float
    writing: bool = False
    #: For a connection waiting to send: what its send queue held (``unsent_bytes``).
    unsent: int | None = None


class ReadyDispatcher:
    def __init__(self, server: Dispatching) -> None:
        self.server = server
        self._parked: dict[int, Parked] = {}
        self._heap: list[tuple[float, int, int]] = []
        self._seq = itertools.count()
        self._returned: queue.SimpleQueue[Parked] = queue.SimpleQueue()
        self._wake_r, self._wake_w = socket.socketpair()
        self._wake_r.setblocking(False)
        self._wake_w.setblocking(False)
        self._selector = selectors.DefaultSelector()
        self._listener_back_at = 0.0  # when accepting resumes after EMFILE and the like

    # -- from other threads ---------------------------------------------------------

    def wake(self) -> None:
        with contextlib.suppress(OSError):  # a full pipe already means "wake up"
            self._wake_w.send(b"\0")

    def give_back(
        self, conn_id: int, sock: socket.socket, session: ServerSession, writing: bool
    ) -> None:
        """A worker's socket would block (or a response is out and the connection
        waits for the next request): wait here, with the session, for readability
        (or writability) and for the session's deadline."""
        if self.server.stopping and session.idle:
            # Nothing in flight: no reason to wait.
            self._shut(Parked(conn_id, sock, session, session.deadline))
            return
        unsent = unsent_bytes(sock) if writing else None
        self._returned.put(Parked(conn_id, sock, session, session.deadline, writing, unsent))
        self.wake()

    # -- the loop -------------------------------------------------------------------

    def run(self, ready: Callable[[str, int], None] | None) -> None:
        server = self.server
        server.listener.setblocking(False)
        self._selector.register(server.listener, selectors.EVENT_READ, None)
        self._selector.register(self._wake_r, selectors.EVENT_READ, self._wake_r)
        if ready is not None:
            host, port = server.listener.getsockname()[:2]
            ready(host, port)
        drain_until = 0.0
        while True:
            if server.stopping:
                if not drain_until:
                    # Stop accepting, close what waits between requests, and go on
                    # serving requests in flight for the grace period.
                    drain_until = time.monotonic() + server.grace
                    with contextlib.suppress(KeyError, ValueError, OSError):
                        self._selector.unregister(server.listener)
                    self._listener_back_at = 0.0
                    self._close_idle()
                if server.open_count() == 0 or time.monotonic() >= drain_until:
                    return
            server.poll()
            timeout = POLL
            if self._heap:
                timeout = max(0.0, min(POLL, self._heap[0][0] - time.monotonic()))
            for key, _ in self._selector.select(timeout):
                if key.data is None:
                    self._accept()
                elif key.data is self._wake_r:
                    self._take_back()
                else:
                    self._ready(key.data)
            now = time.monotonic()
            self._expire(now)
            if self._listener_back_at and now >= self._listener_back_at:
                self._listener_back_at = 0.0
                self._selector.register(server.listener, selectors.EVENT_READ, None)

    def _accept(self) -> None:
        server = self.server
        for _ in range(ACCEPT_BATCH):
            try:
                conn, _ = server.listener.accept()
            except BlockingIOError:
                return
            except OSError as exc:  # EMFILE and the like: the others go on
                # The listener stays readable: stop watching it for a moment, or the
                # loop would spin (and log) on it.
                log.warning("accept failed: %s; accepting again in %.1f s", exc, POLL)
                self._selector.unregister(server.listener)
                self._listener_back_at = time.monotonic() + POLL
                return
            now = time.monotonic()
            conn.setblocking(False)
            conn_id = server.register(conn)
            if conn_id is None:
                server.refuse(conn, now)
                continue
            session = server.new_session(conn_id, now)
            if server.tracer is not None:
                server.tracer.event(conn_id, "accepted", **accepted_fields(conn))
            parked = Parked(conn_id, conn, session, now)
            self._settle(parked, session.poll(now), registered=False)

    def _park(self, parked: Parked) -> None:
        events = selectors.EVENT_WRITE if parked.writing else selectors.EVENT_READ
        self._parked[parked.conn_id] = parked
        self._selector.register(parked.sock, events, parked)
        heapq.heappush(self._heap, (parked.deadline, next(self._seq), parked.conn_id))

    def _unpark(self, parked: Parked) -> None:
        self._parked.pop(parked.conn_id, None)
        with contextlib.suppress(KeyError, ValueError, OSError):
            self._selector.unregister(parked.sock)

    def _take_back(self) -> None:
        with contextlib.suppress(OSError):
            while self._wake_r.recv(4096):
                pass
        now = time.monotonic()
        while True:
            try:
                parked = self._returned.get_nowait()
            except queue.Empty:
                return
            if self.server.stopping and parked.session.idle:
                self._shut(parked)
                continue
            if parked.writing:
                self._park(parked)  # room to send: nothing to parse meanwhile
            else:
                # Bytes of a pipelined request may already be parsed out of its buffer.
                self._settle(parked, parked.session.poll(now), registered=False)

    def _ready(self, parked: Parked) -> None:
        """The socket of a waiting connection is readable (or writable)."""
        session = parked.session
        if parked.writing or session.state is State.RECEIVING_BODY:
            # A body or a response in progress: a worker moves its bytes.
            self._unpark(parked)
            if self.server.tracer is not None:
                # The client is ready again: from here on it waits for a worker.
                self.server.tracer.event(parked.conn_id, "ready", writing=parked.writing)
            self.server.serve_ready(parked)
            return
        try:
            data = parked.sock.recv(HEADER_RECV)
        except BlockingIOError:
            return
        except OSError:
            data = b""  # a reset: the peer is gone, like an end of stream
        now = time.monotonic()
        session.receive_data(data, now)
        self._settle(parked, session.poll(now), registered=True)

    def _settle(self, parked: Parked, polled: Work | Receive | Close, registered: bool) -> None:
        """Act on what a waiting session's poll said: hand over, close, or wait on."""
        if isinstance(polled, Receive):
            changed = polled.deadline != parked.deadline
            parked.deadline = polled.deadline
            if not registered:
                self._park(parked)
            elif changed:
                heapq.heappush(self._heap, (polled.deadline, next(self._seq), parked.conn_id))
            return
        if registered:
            self._unpark(parked)
        if isinstance(polled, Close):
            self._closed(parked, polled)
        else:
            self.server.serve_ready(parked)

    def _expire(self, now: float) -> None:
        heap = self._heap
        while heap and heap[0][0] <= now:
            deadline, _, conn_id = heapq.heappop(heap)
            parked = self._parked.get(conn_id)
            if parked is None or parked.deadline != deadline:
                continue  # served, closed or given a later deadline since
            # What arrived before now was read in this round, before the deadlines.
            session = parked.session
            if parked.unsent is not None:
                unsent = unsent_bytes(parked.sock)
                if unsent is not None and unsent < parked.unsent:
                    session.client_read(now)  # a slow reader, not a stalled one
                parked.unsent = unsent
            if session.timed_out(now):
                self._unpark(parked)
                self._finish_here(parked)
                continue
            # In time after all (a body fast enough over its window): a new deadline.
            parked.deadline = session.deadline
            heapq.heappush(heap, (parked.deadline, next(self._seq), conn_id))

    def _finish_here(self, parked: Parked) -> None:
        """Send a closing connection's answer without blocking, and close it."""
        self._closed(parked, send_closing(parked.sock, parked.session))

    def _closed(self, parked: Parked, close: Close) -> None:
        server = self.server
        if close.kind != "peer" or parked.session.served:
            log.info("%s: closing: %s", peer_of(parked.sock), close.reason)
        if server.tracer is not None:
            server.tracer.event(parked.conn_id, "closed", **closed_fields(parked.sock, close))
        server.finished(parked.conn_id, close.linger)

    def uploads_in_progress(self) -> frozenset[Path]:
        """Temporary files of the uploads of waiting connections (kept when a pool is
        replaced), those just given back included. From the dispatching thread only."""
        self._take_back()
        paths = (parked.session.upload_path for parked in self._parked.values())
        return frozenset(path for path in paths if path is not None)

    def _close_idle(self) -> None:
        for parked in list(self._parked.values()):
            if parked.session.idle:
                self._unpark(parked)
                self._shut(parked)

    def _shut(self, parked: Parked) -> None:
        """Close a waiting connection because the server stops."""
        parked.session.abort()
        if self.server.tracer is not None:
            self.server.tracer.event(parked.conn_id, "closed", reason="server stopping")
        self.server.finished(parked.conn_id)

    def close_parked(self) -> None:
        """At shutdown, after the grace period: close every connection still waiting."""
        for parked in list(self._parked.values()):
            self._unpark(parked)
            self._shut(parked)
        self.close_returned()
        self._selector.close()

    def close_returned(self) -> None:
        """At shutdown: close connections workers gave back after the loop ended."""
        while True:
            try:
                parked = self._returned.get_nowait()
            except queue.Empty:
                return
            self._shut(parked)

"""Readiness dispatch: one selector holds every connection that has no request in
progress; a worker gets a connection only once its request header has arrived, and
gives it back after the response (gunicorn's gthread worker, Apache's event MPM).

A waiting connection costs a socket and a small record: no thread, no process, and no
buffer until its first byte arrives (then a session that parses the header as it comes,
once). Deadlines of waiting connections are kept in a heap and fired here, so an idle or
slowloris client never holds a worker.
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
from typing import Protocol

from fileproto.session import Close, Receive, Send, ServerSession
from fileproto.session.deadlines import Limits
from fileproto.store import FileStore
from fileproto.wire.responses import encode_error
from servers.connection import peer_of

log = logging.getLogger("fileproto.server")

#: Bytes read at once from a waiting connection: a header is at most 64 KiB, and a
#: small read keeps a slowloris' held bytes small.
HEADER_RECV = 1 << 16
#: New connections taken per wake-up, so a flood cannot starve the others.
ACCEPT_BATCH = 64
#: Seconds a refused connection is read from and discarded before it is closed.
LINGER = 2.0
POLL = 0.2


class Dispatching(Protocol):
    """What the dispatcher needs of its server (kept apart to avoid an import circle)."""

    listener: socket.socket
    store: FileStore

    @property
    def stopping(self) -> bool: ...

    @property
    def limits(self) -> Limits: ...

    def poll(self) -> None: ...

    def register(self, conn: socket.socket) -> int | str: ...

    def finished(self, conn_id: int) -> None: ...

    def serve_ready(self, parked: Parked) -> None: ...


@dataclass(slots=True, eq=False)
class Parked:
    """A connection waiting in the selector."""

    conn_id: int
    sock: socket.socket
    accepted_at: float
    #: Since when it waits: accept, or the end of its last response.
    since: float
    first: bool
    deadline: float
    session: ServerSession | None = None
    #: Bytes received while parked (only when the worker lives in another process).
    raw: list[bytes] | None = None


class ReadyDispatcher:
    def __init__(self, server: Dispatching, keep_raw: bool) -> None:
        self.server = server
        self.keep_raw = keep_raw
        self._parked: dict[int, Parked] = {}
        self._heap: list[tuple[float, int, int]] = []
        self._seq = itertools.count()
        self._returned: queue.SimpleQueue[tuple[int, socket.socket, ServerSession | None]]
        self._returned = queue.SimpleQueue()
        self._wake_r, self._wake_w = socket.socketpair()
        self._wake_r.setblocking(False)
        self._wake_w.setblocking(False)
        self._selector = selectors.DefaultSelector()
        self._lingering: dict[socket.socket, float] = {}
        self._listener_back_at = 0.0  # when accepting resumes after EMFILE and the like

    @property
    def parked(self) -> int:
        return len(self._parked)

    # -- from other threads ---------------------------------------------------------

    def wake(self) -> None:
        with contextlib.suppress(OSError):  # a full pipe already means "wake up"
            self._wake_w.send(b"\0")

    def give_back(self, conn_id: int, sock: socket.socket, session: ServerSession | None) -> None:
        """A worker is done with a request and the connection waits for the next one,
        with its session (a worker in this process) or without (in another process)."""
        if self.server.stopping:
            self.server.finished(conn_id)
            return
        self._returned.put((conn_id, sock, session))
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
        while not server.stopping:
            server.poll()
            timeout = POLL
            if self._heap:
                timeout = max(0.0, min(POLL, self._heap[0][0] - time.monotonic()))
            for key, _ in self._selector.select(timeout):
                if key.data is None:
                    self._accept()
                elif key.data is self._wake_r:
                    self._take_back()
                elif isinstance(key.data, Parked):
                    self._readable(key.data)
                else:
                    self._drain_lingering(key.fileobj)  # type: ignore[arg-type]
            now = time.monotonic()
            self._expire(now)
            self._end_lingering(now)
            if self._listener_back_at and now >= self._listener_back_at:
                self._listener_back_at = 0.0
                self._selector.register(server.listener, selectors.EVENT_READ, None)

    def _accept(self) -> None:
        server = self.server
        header_timeout = server.limits.header_timeout
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
            conn_id = server.register(conn)
            if isinstance(conn_id, str):
                self._linger(conn, conn_id)
                continue
            parked = Parked(conn_id, conn, now, now, True, now + header_timeout)
            if self.keep_raw:
                parked.raw = []
            self._park(parked)

    def _linger(self, conn: socket.socket, message: str) -> None:
        """Refuse a connection: answer, half-close, and read what it still sends for a
        moment before closing; a close with unread bytes would be a reset that can
        destroy the answer before the client reads it."""
        conn.setblocking(False)
        with contextlib.suppress(OSError):
            conn.send(encode_error(message))
            conn.shutdown(socket.SHUT_WR)
        self._lingering[conn] = time.monotonic() + LINGER
        self._selector.register(conn, selectors.EVENT_READ, LINGER)

    def _drain_lingering(self, conn: socket.socket) -> None:
        try:
            data = conn.recv(HEADER_RECV)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if not data:
            self._lingering.pop(conn, None)
            self._selector.unregister(conn)
            conn.close()

    def _end_lingering(self, now: float) -> None:
        for conn, until in list(self._lingering.items()):
            if until <= now:
                del self._lingering[conn]
                self._selector.unregister(conn)
                conn.close()

    def _park(self, parked: Parked) -> None:
        parked.sock.setblocking(False)
        self._parked[parked.conn_id] = parked
        self._selector.register(parked.sock, selectors.EVENT_READ, parked)
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
                conn_id, sock, session = self._returned.get_nowait()
            except queue.Empty:
                return
            if self.server.stopping:
                self.server.finished(conn_id)
                continue
            keepalive = self.server.limits.keepalive_timeout
            parked = Parked(conn_id, sock, now, now, False, now + keepalive, session)
            if self.keep_raw:
                parked.raw = []
            if session is not None:
                self._parked[conn_id] = parked  # _settle may hand it on at once
                self._settle(parked, session.poll(now), registered=False)
            else:
                self._park(parked)

    def _session(self, parked: Parked) -> ServerSession:
        session = parked.session
        if session is None:
            server = self.server
            session = ServerSession(server.store, server.limits, parked.accepted_at)
            if not parked.first:
                session.deadlines.response_done(parked.since)
            parked.session = session
        return session

    def _readable(self, parked: Parked) -> None:
        try:
            data = parked.sock.recv(HEADER_RECV)
        except BlockingIOError:
            return
        except OSError:
            data = b""  # a reset: the peer is gone, like an end of stream
        now = time.monotonic()
        if not data and (parked.session is None or parked.session.parser.phase == "idle"):
            self._unpark(parked)  # left before saying anything: nothing to answer
            self.server.finished(parked.conn_id)
            return
        session = self._session(parked)
        session.receive_data(data, now)
        if parked.raw is not None and data:
            parked.raw.append(data)
        self._settle(parked, session.poll(now), registered=True)

    def _settle(self, parked: Parked, state: Receive | str, registered: bool) -> None:
        """Act on what a parked session's poll said: hand over, expire, or wait on."""
        if isinstance(state, Receive):
            changed = state.deadline != parked.deadline
            parked.deadline = state.deadline
            if not registered:
                self._park(parked)
            elif changed:
                heapq.heappush(self._heap, (state.deadline, next(self._seq), parked.conn_id))
            return
        if registered:
            self._unpark(parked)
        else:
            self._parked.pop(parked.conn_id, None)
        if state == "expired":
            self._expired(parked)
        else:
            parked.sock.setblocking(True)
            self.server.serve_ready(parked)

    def _expire(self, now: float) -> None:
        heap = self._heap
        while heap and heap[0][0] <= now:
            deadline, _, conn_id = heapq.heappop(heap)
            parked = self._parked.get(conn_id)
            if parked is None or parked.deadline != deadline:
                continue  # served, closed or given a later deadline since
            # What arrived before now was read in this round, before the deadlines.
            session = self._session(parked)
            state = "expired" if session.timed_out(now) else session.poll(now)
            self._settle(parked, state, registered=True)

    def _expired(self, parked: Parked) -> None:
        """Answer a connection whose deadline fired, and close it, without blocking."""
        session = self._session(parked)
        sock = parked.sock
        with contextlib.suppress(OSError):
            sock.recv(HEADER_RECV)  # unread bytes would turn our close into a reset
        for _ in range(4):  # an error answer and a Close; bounded all the same
            action = session.next_action(time.monotonic())
            if isinstance(action, Send):
                with contextlib.suppress(OSError):
                    sock.send(action.data)
            elif isinstance(action, Close):
                log.info("%s: closing: %s", peer_of(sock), action.reason)
                break
        session.abort()
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_WR)
        self.server.finished(parked.conn_id)

    def close_parked(self) -> None:
        """At shutdown: waiting connections have nothing in flight; close them now."""
        for parked in list(self._parked.values()):
            self._unpark(parked)
            self.server.finished(parked.conn_id)
        for conn in self._lingering:
            conn.close()
        self._lingering.clear()
        self.close_returned()
        self._selector.close()

    def close_returned(self) -> None:
        """At shutdown: close connections workers gave back after the loop ended."""
        while True:
            try:
                conn_id, _, _ = self._returned.get_nowait()
            except queue.Empty:
                return
            self.server.finished(conn_id)

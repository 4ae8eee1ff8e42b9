"""The dispatcher: one thread, one selector, every connection that waits (docs/architecture.md,
"The server session and the dispatch modes").

Readiness dispatch (``ready``): a connection waits here before its request and between
requests (this thread reads the header, and its session parses it, once: a slowloris
client never costs a worker), and whenever a worker found its socket would block, in
the middle of a request or response. The selector waits for bytes or room to send, and
for the session's deadline; then any free worker continues the connection with its
session. Classic dispatch (``accept``): the same loop accepts, and hands every
connection at once to the pool, which serves it to its end.

A connection that has sent nothing costs a socket and a small record (``Fresh``): its
session is made at its first byte, its end of stream or its first deadline, and then
decides. Fresh connections' deadlines come in accept order, so they wait in a plain
queue; the others' (each its session's) in a heap. The selector is epoll itself, keyed
by descriptor: ``selectors`` would add a key object to every idle connection.
"""

from __future__ import annotations

import contextlib
import heapq
import logging
import queue
import select
import socket
import time
from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import Protocol

from fileproto.server import policy
from fileproto.server.config import POLL
from fileproto.server.drive import send_closing
from fileproto.server.sockets import unsent_bytes
from fileproto.server.tracer import Tracer, accepted_fields
from fileproto.server.waiting import Fresh, Parked
from fileproto.session import Close, Limits, Receive, ServerSession, State, Work, first_deadline
from fileproto.trace import CloseKind, Closing, Ev

log = logging.getLogger("fileproto.server")

#: Bytes read at once for a connection waiting for its header: a header is at most
#: 64 KiB, and a small read keeps a slowloris' held bytes small.
HEADER_RECV = 1 << 16
#: New connections taken per wake-up, so a flood cannot starve the others.
ACCEPT_BATCH = 64
_READ, _WRITE = select.EPOLLIN, select.EPOLLOUT


class Dispatching(Protocol):
    """What the dispatcher needs of its server (``PoolServer``)."""

    listener: socket.socket
    grace: float
    tracer: Tracer | None
    #: Keep ``Parked.received`` for the first take (the process pool).
    sends_first_bytes: bool

    @property
    def stopping(self) -> bool: ...

    @property
    def limits(self) -> Limits: ...

    def register(self, conn: socket.socket) -> int | None: ...

    def refuse(self, conn: socket.socket, now: float) -> None: ...

    def open_count(self) -> int: ...

    def new_session(self, conn_id: int, accepted_at: float) -> ServerSession: ...

    def finished(self, conn_id: int, close: Close) -> None: ...

    def hand_over(self, parked: Parked) -> None: ...

    def serve_accepted(self, conn_id: int, conn: socket.socket, accepted_at: float) -> None: ...


class Dispatcher:
    def __init__(
        self, server: Dispatching, classic: bool, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.server = server
        self.classic = classic
        #: The time (a test's fake clock): every deadline is judged by it.
        self.clock = clock
        self._epoll = select.epoll()
        #: What the selector's other descriptors call: the listener, the wake-up, a
        #: pool's channels to its worker processes.
        self._calls: dict[int, Callable[[], None]] = {}
        self._waiting: dict[int, Fresh | Parked] = {}  # by descriptor
        self._fresh: deque[Fresh] = deque()  # in accept order: their deadlines' order
        self._heap: list[tuple[float, int]] = []  # (deadline, descriptor) of Parked
        self._returned: queue.SimpleQueue[Parked] = queue.SimpleQueue()
        self._wake_r, self._wake_w = socket.socketpair()
        self._wake_r.setblocking(False)
        self._wake_w.setblocking(False)
        self._listener_back_at = 0.0  # when accepting resumes after EMFILE and the like

    # -- from any thread ------------------------------------------------------------

    def wake(self) -> None:
        with contextlib.suppress(OSError):  # a full pipe already means "wake up"
            self._wake_w.send(b"\0")

    def give_back(self, parked: Parked, writing: bool) -> None:
        """From a worker thread: its socket would block (or a response is out and the
        connection waits for the next request): wait here, with the session, for bytes
        (or room to send) and for the session's deadline."""
        if self._stop_idle(parked):
            return
        self._returned.put(self._returning(parked, writing))
        self.wake()

    # -- from the dispatching thread --------------------------------------------------

    def watch(self, fd: int, call: Callable[[], None]) -> None:
        """Call ``call`` whenever ``fd`` is readable (a pool's channel to a worker)."""
        self._calls[fd] = call
        self._epoll.register(fd, _READ)

    def unwatch(self, fd: int) -> None:
        self._calls.pop(fd, None)
        with contextlib.suppress(OSError, ValueError):
            self._epoll.unregister(fd)

    def take_back(self, parked: Parked, writing: bool) -> None:
        """``give_back`` for a pool whose answers arrive on this thread."""
        if not self._stop_idle(parked):
            self._resume(self._returning(parked, writing), self.clock())

    def uploads_in_progress(self) -> frozenset[Path]:
        """Temporary files of the uploads of waiting connections, those just given back
        included (kept when a worker process dies)."""
        self._take_back()
        sessions = (p.session for p in self._waiting.values() if isinstance(p, Parked))
        return frozenset(s.upload_path for s in sessions if s.upload_path is not None)

    def run(self, listening: Callable[[str, int], None] | None) -> None:
        """Accept and dispatch until the server stops and its grace period is over."""
        server = self.server
        server.listener.setblocking(False)
        self.watch(server.listener.fileno(), self._accept)
        self.watch(self._wake_r.fileno(), self._take_back)
        if listening is not None:
            host, port = server.listener.getsockname()[:2]
            listening(host, port)
        drain_until = 0.0
        while True:
            if server.stopping:
                if not drain_until:
                    # Stop accepting, close what waits between requests, and go on
                    # serving requests in flight for the grace period.
                    drain_until = self.clock() + server.grace
                    self.unwatch(server.listener.fileno())
                    self._listener_back_at = 0.0
                    self._close_idle()
                if server.open_count() == 0 or self.clock() >= drain_until:
                    return
            self.step(self._timeout())
            if self._listener_back_at and self.clock() >= self._listener_back_at:
                self._listener_back_at = 0.0
                self.watch(server.listener.fileno(), self._accept)

    def step(self, timeout: float) -> None:
        """One round: wait up to ``timeout`` seconds, act on what is ready, then judge
        the deadlines that came (after what arrived before them was read)."""
        for fd, _ in self._epoll.poll(timeout):
            call = self._calls.get(fd)
            if call is not None:
                call()
                continue
            record = self._waiting.get(fd)
            if isinstance(record, Fresh):
                self._first_bytes(record)
            elif record is not None:
                self._ready(record)
        self._expire(self.clock())

    def _timeout(self) -> float:
        nearest = [deadline for deadline, _ in self._heap[:1]]
        if self._fresh:
            nearest.append(first_deadline(self.server.limits, self._fresh[0].accepted_at))
        if not nearest:
            return POLL
        return max(0.0, min(POLL, min(nearest) - self.clock()))

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
                self.unwatch(server.listener.fileno())
                self._listener_back_at = self.clock() + POLL
                return
            self.admit(conn)

    def admit(self, conn: socket.socket) -> None:
        """A connection just accepted: counted in (or refused past the cap), then handed
        to the pool (classic) or waiting here for its first byte."""
        server = self.server
        now = self.clock()
        conn.setblocking(False)
        conn_id = server.register(conn)
        if conn_id is None:
            server.refuse(conn, now)
            return
        if server.tracer is not None:
            server.tracer.event(conn_id, Ev.ACCEPTED, **accepted_fields(conn))
        if self.classic:
            server.serve_accepted(conn_id, conn, now)
            return
        fresh = Fresh(conn_id, conn, now)
        self._waiting[conn.fileno()] = fresh
        self._epoll.register(conn.fileno(), _READ)
        self._fresh.append(fresh)

    def _first_bytes(self, fresh: Fresh) -> None:
        """A connection that had sent nothing is readable: its session begins."""
        data = self._read(fresh.sock)
        if data is None:
            return
        now = self.clock()
        session = self.server.new_session(fresh.conn_id, fresh.accepted_at)
        received = bytearray(data) if self.server.sends_first_bytes else None
        parked = Parked(fresh.conn_id, fresh.sock, session, 0.0, received=received)
        parked.accepted_at, parked.first_at = fresh.accepted_at, now
        self._waiting[fresh.sock.fileno()] = parked
        session.receive_data(data, now)
        self._settle(parked, session.poll(now), registered=True)

    def _ready(self, parked: Parked) -> None:
        """The socket of a waiting connection is readable (or writable)."""
        session = parked.session
        if parked.writing or session.state is State.RECEIVING_BODY:
            # A body or a response in progress: a worker moves its bytes.
            self._unpark(parked)
            if self.server.tracer is not None:
                # The client is ready again: from here on it waits for a worker.
                self.server.tracer.event(parked.conn_id, Ev.READY, writing=parked.writing)
            self.server.hand_over(parked)
            return
        data = self._read(parked.sock)
        if data is None:
            return
        now = self.clock()
        if parked.received is not None:
            parked.received += data
        session.receive_data(data, now)
        self._settle(parked, session.poll(now), registered=True)

    @staticmethod
    def _read(sock: socket.socket) -> bytes | None:
        try:
            return sock.recv(HEADER_RECV)
        except BlockingIOError:
            return None
        except OSError:
            return b""  # a reset: the peer is gone, like an end of stream

    def _settle(self, parked: Parked, polled: Work | Receive | Close, registered: bool) -> None:
        """Act on what a waiting session's poll said: hand over, close, or wait on."""
        if isinstance(polled, Receive):
            changed = polled.deadline != parked.deadline
            parked.deadline = polled.deadline
            if not registered:
                self._park(parked)
            elif changed:
                heapq.heappush(self._heap, (polled.deadline, parked.sock.fileno()))
            return
        if registered:
            self._unpark(parked)
        if isinstance(polled, Close):
            self.server.finished(parked.conn_id, polled)
        else:
            self.server.hand_over(parked)

    def _park(self, parked: Parked) -> None:
        fd = parked.sock.fileno()
        self._waiting[fd] = parked
        self._epoll.register(fd, _WRITE if parked.writing else _READ)
        heapq.heappush(self._heap, (parked.deadline, fd))

    def _unpark(self, record: Fresh | Parked) -> None:
        fd = record.sock.fileno()
        if self._waiting.get(fd) is record:
            del self._waiting[fd]
            with contextlib.suppress(OSError, ValueError):
                self._epoll.unregister(fd)

    def _returning(self, parked: Parked, writing: bool) -> Parked:
        parked.writing = writing
        parked.deadline = parked.session.deadline
        parked.unsent = unsent_bytes(parked.sock) if writing else None
        parked.received = None  # the session now holds more than what it parsed
        return parked

    def _take_back(self) -> None:
        with contextlib.suppress(OSError):
            while self._wake_r.recv(4096):
                pass
        now = self.clock()
        while True:
            try:
                parked = self._returned.get_nowait()
            except queue.Empty:
                return
            if not self._stop_idle(parked):
                self._resume(parked, now)

    def _resume(self, parked: Parked, now: float) -> None:
        if parked.writing:
            self._park(parked)  # room to send: nothing to parse meanwhile
        else:
            # Bytes of a pipelined request may already be parsed out of its buffer.
            self._settle(parked, parked.session.poll(now), registered=False)

    def _expire(self, now: float) -> None:
        server = self.server
        fresh = self._fresh
        while fresh and first_deadline(server.limits, fresh[0].accepted_at) <= now:
            first = fresh.popleft()
            fd = first.sock.fileno()
            if self._waiting.get(fd) is first:
                # Nothing came in time: the session, made now, decides what that means.
                session = server.new_session(first.conn_id, first.accepted_at)
                parked = Parked(first.conn_id, first.sock, session, now)
                self._waiting[fd] = parked
                self._judge(parked, now)
        heap = self._heap
        while heap and heap[0][0] <= now:
            deadline, fd = heapq.heappop(heap)
            waiting = self._waiting.get(fd)
            if isinstance(waiting, Parked) and waiting.deadline == deadline:
                self._judge(waiting, now)

    def _judge(self, parked: Parked, now: float) -> None:
        """A waiting connection's deadline came (what arrived before now was read in this
        round, before the deadlines): the session judges it."""
        session = parked.session
        if parked.unsent is not None:
            unsent = unsent_bytes(parked.sock)
            if policy.reader_moved(parked.unsent, unsent):
                session.client_read(now)  # a slow reader, not a stalled one
            parked.unsent = unsent
        if session.timed_out(now):
            self._unpark(parked)
            self.server.finished(parked.conn_id, send_closing(parked.sock, session))
            return
        # In time after all (a body fast enough over its window): a new deadline.
        parked.deadline = session.deadline
        heapq.heappush(self._heap, (parked.deadline, parked.sock.fileno()))

    # -- shutting down ----------------------------------------------------------------

    def _stop_idle(self, parked: Parked) -> bool:
        """While the server stops, a connection with nothing in flight is closed."""
        if not (self.server.stopping and parked.session.idle):
            return False
        self._shut(parked)
        return True

    def _close_idle(self) -> None:
        for record in list(self._waiting.values()):
            if isinstance(record, Fresh) or record.session.idle:
                self._unpark(record)
                self._shut(record)

    def _shut(self, record: Fresh | Parked) -> None:
        """Close a waiting connection because the server stops."""
        if isinstance(record, Parked):
            record.session.abort()
        self.server.finished(record.conn_id, Close(Closing.SERVER_STOPPING, CloseKind.ERROR))

    def close_waiting(self) -> None:
        """At shutdown, after the grace period: close every connection still waiting."""
        for record in list(self._waiting.values()):
            self._unpark(record)
            self._shut(record)
        self.close_returned()
        self._epoll.close()

    def close_returned(self) -> None:
        """At shutdown: close connections workers gave back after the loop ended."""
        while True:
            try:
                parked = self._returned.get_nowait()
            except queue.Empty:
                return
            self._shut(parked)

"""An asyncio Protocol that drives a ServerSession (uvicorn's shape over our session).

Bytes in through ``buffer_updated``, out through the transport. Flow control both ways:
a response is produced piece by piece only while the transport's buffer is below its
high-water mark (``pause_writing``/``resume_writing``), and reading pauses while a
response is being sent, so memory stays flat in file size and in client speed. Disk
work is bounded per step: an upload writes what one read brought (at most one read
buffer of base64, ``ServerConfig.recv_size``), a download reads one ``read_chunk``
(768 KiB with 1 to 16 workers); and a connection yields the loop after each read.

A connection that has sent nothing holds no session: it is made at the first byte, the
end of stream or the first deadline (``first_deadline``), whichever comes first, and
then decides, as in the pools' dispatcher.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import socket
import time
from dataclasses import dataclass, field
from typing import cast

from fileproto import tcpinfo
from fileproto.server import policy
from fileproto.server.first_deadlines import FirstDeadlines
from fileproto.server.sockets import unsent_bytes
from fileproto.server.tracer import Tracer, refusal_id, trace_buffered, trace_wait, wait_why
from fileproto.session import (
    Close,
    Limits,
    Receive,
    Send,
    ServerSession,
    busy_message,
)
from fileproto.store import FileStore
from fileproto.trace import CloseKind, Closing, Deadline, Ev, Why

log = logging.getLogger("fileproto.server")
#: Bytes one connection may read before the others get a turn of the loop: a few
#: milliseconds of parsing, decoding and writing.
FAIR_SHARE = 1 << 20


@dataclass
class LoopState:
    """What the connections of one loop process share."""

    store: FileStore
    limits: Limits
    max_connections: int
    #: The one read buffer of the loop (reads never overlap in one thread), as large as
    #: the other kinds' recv (``ServerConfig.recv_size``).
    read_buffer: memoryview
    pid: int
    verbose: bool = False
    tracer: Tracer | None = None
    connections: set[SessionProtocol] = field(default_factory=set)
    #: Connection ids for the trace ("PID.N": unique across the loop processes).
    ids: itertools.count[int] = field(default_factory=itertools.count)
    #: Seconds the loop's connections spent working (parsing, decoding, encoding, disk),
    #: summed: a connection's wait on its client is traced without the loop's work for
    #: the others meanwhile (then the client's bytes were there, the loop was not).
    busy: float = 0.0
    first_deadlines: FirstDeadlines = field(init=False)

    def __post_init__(self) -> None:
        self.first_deadlines = FirstDeadlines(self.limits)


class SessionProtocol(asyncio.BufferedProtocol):
    # Thousands of idle connections each hold one of these: no per-instance dict.
    __slots__ = (
        "_burst",
        "_can_write",
        "_closing",
        "_conn",
        "_reading",
        "_timer",
        "_unsent",
        "_wait",
        "_wants_read",
        "accepted_at",
        "session",
        "state",
        "transport",
    )

    def __init__(self, state: LoopState) -> None:
        self.state = state
        self.transport: asyncio.Transport | None = None
        self.session: ServerSession | None = None
        self.accepted_at = 0.0
        self._can_write = True
        self._reading = True
        self._timer: asyncio.TimerHandle | None = None
        self._closing = False
        self._conn: int | None = None  # None: refused at the cap, never counted in
        self._burst = 0
        self._wants_read = True
        self._unsent = 0
        #: While the loop waits on the client, when traced: (why, since when, the loop's
        #: busy seconds then).
        self._wait: tuple[Why, float, float] | None = None

    @property
    def peer(self) -> str:
        peer = None if self.transport is None else self.transport.get_extra_info("peername")
        return f"{peer[0]}:{peer[1]}" if peer else "?"

    @property
    def conn(self) -> str:
        """The connection's id in the trace."""
        return f"{self.state.pid}.{self._conn}"

    def _session(self) -> ServerSession:
        """The connection's session, made at its first byte, end or deadline."""
        if self.session is None:
            tracer = self.state.tracer
            traced = tracer is not None and self._conn is not None
            trace = tracer.for_conn(self.conn) if traced and tracer is not None else None
            self.session = ServerSession(
                self.state.store, self.state.limits, self.accepted_at, trace
            )
        return self.session

    # -- asyncio callbacks ----------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports quack like asyncio.Transport without subclassing it.
        transport = cast(asyncio.Transport, transport)
        self.transport = transport
        state = self.state
        self.accepted_at = now = time.monotonic()
        tracer = state.tracer
        sock = transport.get_extra_info("socket")
        # Read before anything is sent on it (docs/trace.md).
        accept_wait = None if tracer is None or sock is None else tcpinfo.accept_wait(sock)
        waited = {} if accept_wait is None else {"accept_wait_s": accept_wait}
        if len(state.connections) >= state.max_connections:
            if tracer is not None:
                tracer.event(refusal_id(), Ev.REFUSED, peer=self.peer, **waited)
            self._session().refuse(busy_message(len(state.connections)))
            self._pump()
            return
        state.connections.add(self)
        self._conn = next(state.ids)
        if tracer is not None:
            tracer.event(self.conn, Ev.ACCEPTED, peer=self.peer, **waited)
            tracer.event(self.conn, Ev.TAKEN, worker=f"loop:{state.pid}")
            self._wait = (Why.IDLE, now, state.busy)  # for the first request
        limits = state.limits
        # A few pieces in flight: enough to keep the socket busy, little memory.
        high = 2 * (limits.read_chunk * 4 // 3)
        transport.set_write_buffer_limits(high=high, low=high // 4)
        if sock is not None:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, high)
        if state.verbose:
            log.info("%s: connected", self.peer)
        # The first wait, with no session yet: the header deadline, from accept.
        state.first_deadlines.add(self)

    @property
    def fresh(self) -> bool:
        """Counted in, and nothing received yet: no session."""
        return self.session is None and self._conn is not None and not self._closing

    def deadline(self) -> None:
        """The wait's deadline: whatever arrived was delivered before this callback."""
        if not self._closing:
            self._session().timed_out(time.monotonic())
            self._pump()

    def get_buffer(self, sizehint: int) -> memoryview:
        # Reads as large as the other kinds' recv: the parser's cost is per piece (the
        # loops' own 256 KiB reads made 100 MiB uploads ~20% slower). One buffer per
        # loop process, shared: each read is copied out before the next one.
        return self.state.read_buffer

    def buffer_updated(self, nbytes: int) -> None:
        if self._closing:
            return
        data = bytes(self.state.read_buffer[:nbytes])
        now = time.monotonic()
        self._waited(now)
        self._session().receive_data(data, now)
        self.state.busy += time.monotonic() - now
        self._pump()
        self._burst += nbytes
        if self._burst >= FAIR_SHARE and self._reading and not self._closing:
            # A fast upload would keep the loop reading it (uvloop reads a socket many
            # times per wake-up): pause, and read on after the others had their turn.
            self._burst = 0
            self._pause_reading()
            asyncio.get_running_loop().call_soon(self._end_turn)

    def _end_turn(self) -> None:
        if self._wants_read and not self._closing:
            if self._wait is not None:
                # The wait on the client begins now: the pause was the loop's.
                self._wait = (self._wait[0], time.monotonic(), self.state.busy)
            self._resume_reading()

    def _waited(self, now: float) -> None:
        """The client moved: the loop's wait on it (if any) goes to the trace."""
        if self._wait is not None:
            why, since, busy = self._wait
            self._wait = None
            others = self.state.busy - busy
            trace_wait(self._session(), why, min(now, since + others), now)

    def eof_received(self) -> bool:
        if self._closing:
            return False  # refused or closing: close now
        # The session decides: a client that left between requests is closed at once,
        # one that half-closed after a request still gets its answer.
        now = time.monotonic()
        self._waited(now)
        self._session().receive_data(b"", now)
        self._pump()
        return not self._closing  # open while an answer may still be due

    def pause_writing(self) -> None:
        self._can_write = False
        if self.state.tracer is not None:
            self._wait = (Why.WRITE, time.monotonic(), self.state.busy)
        # The transport's buffer is full: the session judges a client that takes
        # nothing of it (the send deadline), as it does for the pools.
        self._arm_send_timer()

    def _arm_send_timer(self) -> None:
        if self.session is not None and self.transport is not None:
            self._unsent = self.transport.get_write_buffer_size()
            self._set_timer(self.session.deadline, self._send_deadline)

    def resume_writing(self) -> None:
        self._can_write = True
        if self.session is not None:
            now = time.monotonic()
            self._waited(now)
            self.session.client_read(now)
        self._pump()

    def connection_lost(self, exc: Exception | None) -> None:
        self.state.connections.discard(self)
        if not self._closing:
            self._end(Close(f"connection lost: {exc}", CloseKind.ERROR))

    # -- driving the session --------------------------------------------------------

    def _pump(self) -> None:
        session, transport = self.session, self.transport
        if session is None or transport is None or self._closing:
            return
        for _ in range(1_000):  # bounded: at most one response piece per buffer fill
            if not self._can_write:
                self._wants_read = False
                self._pause_reading()
                return
            now = time.monotonic()
            action = session.next_action(now)
            if isinstance(action, Send):
                transport.write(action.data)  # buffered by the transport: taken whole
                served = session.served
                session.sent(len(action.data), now)
                if session.served != served and session.trace is not None:
                    trace_buffered(session, self._unsent_bytes())
                self.state.busy += time.monotonic() - now
            elif isinstance(action, Receive):
                self._wants_read = True
                if self._wait is None and session.trace is not None:
                    self._wait = (wait_why(session, False), now, self.state.busy)
                self._resume_reading()
                self._set_timer(action.deadline, self.deadline)
                return
            else:
                self._close(action)
                return
        # Many small pieces in a row: let other connections have the loop.
        asyncio.get_running_loop().call_soon(self._pump)

    def _unsent_bytes(self) -> int | None:
        """What the client has not yet taken: the transport's buffer and the socket's."""
        transport = self.transport
        if transport is None:
            return None
        sock = transport.get_extra_info("socket")
        queued = None if sock is None else unsent_bytes(sock)
        return transport.get_write_buffer_size() + (queued or 0)

    def _end(self, close: Close) -> None:
        """The one way a connection of the loop ends: logged, traced ``closed`` (unless
        it was refused, never counted in), and its session's files let go."""
        self._closing = True
        self._cancel_timer()
        if log.isEnabledFor(logging.INFO):
            log.info("%s: closing: %s", self.peer, close.reason)
        if self.state.tracer is not None and self._conn is not None:
            sock = None if self.transport is None else self.transport.get_extra_info("socket")
            self.state.tracer.closed(self.conn, close, sock)
        if self.session is not None:
            self.session.abort()

    def _close(self, action: Close) -> None:
        """The session's Close: end, and close the transport as it says."""
        self._end(action)
        transport = self.transport
        if transport is None:
            return
        if action.deadline == Deadline.SEND:
            transport.abort()  # its buffer will never drain
        elif action.linger > 0:
            # Half-close after the answer and discard what still arrives (reads go on:
            # buffer_updated drops them) for the session's linger time.
            if transport.can_write_eof():
                transport.write_eof()
            asyncio.get_running_loop().call_later(action.linger, transport.close)
        else:
            transport.close()  # after the buffered answer is out

    def _send_deadline(self) -> None:
        session, transport = self.session, self.transport
        if self._can_write or transport is None or session is None or self._closing:
            return
        now = time.monotonic()
        unsent = transport.get_write_buffer_size()
        if policy.reader_moved(self._unsent, unsent):
            session.client_read(now)  # it reads, slowly: not stalled
        if session.timed_out(now):
            self._pump_closing()
            return
        self._arm_send_timer()

    def _pump_closing(self) -> None:
        """A deadline fired mid-response: the session's Close ends the connection."""
        assert self.session is not None
        action = self.session.next_action(time.monotonic())
        if isinstance(action, Close):
            self._close(action)

    def _pause_reading(self) -> None:
        if self._reading and self.transport is not None:
            self._reading = False
            self.transport.pause_reading()

    def _resume_reading(self) -> None:
        if not self._reading and self.transport is not None:
            self._reading = True
            self.transport.resume_reading()

    def _set_timer(self, when: float, callback: object) -> None:
        self._cancel_timer()
        loop = asyncio.get_running_loop()
        delay = max(0.0, when - time.monotonic())
        self._timer = loop.call_later(delay, callback)  # type: ignore[arg-type]

    def _cancel_timer(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    @property
    def waiting(self) -> bool:
        """Between requests (or before the first), with nothing in flight."""
        return not self._closing and (self.session is None or self.session.idle)

    def shutdown(self) -> None:
        """The loop stops: cut the connection (one in flight once its grace is over)."""
        if not self._closing:
            self._end(Close(Closing.SERVER_STOPPING, CloseKind.ERROR))
        if self.transport is not None:
            self.transport.abort()

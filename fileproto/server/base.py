"""What the server kinds share.

``BaseServer`` fits every kind: the listening socket, the store, the trace, signals and
the stop flag. ``PoolServer`` is the base of every kind whose workers are handed
connections by the dispatcher (the pools, a thread per connection): the count of open
connections and its cap, the one way a connection ends (``finished``: traced, logged,
lingered), an orderly shutdown, and the two turns a thread runs. A subclass only says
how a connection reaches a worker: ``serve_accepted`` (classic) and ``hand_over``
(readiness).
"""

from __future__ import annotations

import contextlib
import logging
import signal
import socket
import threading
import time
from collections.abc import Callable
from types import FrameType

from fileproto.server.config import DEFAULT_MAX_CONNECTIONS, ServerConfig
from fileproto.server.dispatcher import Dispatcher
from fileproto.server.drive import GiveBack, send_closing
from fileproto.server.linger import Lingerer
from fileproto.server.policy import Quantum, RunQueue, Service, preemptive
from fileproto.server.sockets import peer_of
from fileproto.server.tracer import Tracer, accepted_fields, open_tracer, refusal_id
from fileproto.server.turn import new_session, turn
from fileproto.server.waiting import Accepted, Parked, Queued
from fileproto.session import Close, Limits, ServerSession, busy_message
from fileproto.store import FileStore
from fileproto.trace import Ev

log = logging.getLogger("fileproto.server")

#: Called once the server accepts connections, with its address.
Listening = Callable[[str, int], None]


class BaseServer:
    def __init__(
        self,
        config: ServerConfig,
        workers: int,
        host: str = "127.0.0.1",
        port: int = 0,
        grace: float = 3.0,
        max_connections: int = DEFAULT_MAX_CONNECTIONS,
    ) -> None:
        if workers < 1:
            raise ValueError("workers must be at least 1")
        self.config = config
        self.workers = workers
        self.grace = grace
        self.max_connections = max_connections
        self.store = FileStore(config.root)
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self.listener = socket.create_server((host, port), family=family, backlog=config.backlog)
        self.tracer: Tracer | None = open_tracer(config.trace)
        # A plain flag, not a threading.Event: it is set from a signal handler, and a
        # second signal arriving inside Event.set() would wait forever on its lock.
        self._stopping = False

    @property
    def address(self) -> tuple[str, int]:
        host, port = self.listener.getsockname()[:2]
        return host, port

    @property
    def limits(self) -> Limits:
        return self.config.limits

    @property
    def stopping(self) -> bool:
        return self._stopping

    def request_stop(self, *_: object) -> None:
        self._stopping = True

    def install_signal_handlers(self) -> None:
        def handler(signum: int, frame: FrameType | None) -> None:
            self.request_stop()

        signal.signal(signal.SIGTERM, handler)
        signal.signal(signal.SIGINT, handler)

    def serve_forever(self, listening: Listening | None = None) -> None:
        raise NotImplementedError

    @property
    def description(self) -> str:
        """How it dispatches, for the start-up log."""
        return f"{self.config.dispatch} dispatch"


class PoolServer(BaseServer):
    #: Whether the dispatcher keeps a connection's first bytes for ``hand_over`` (a
    #: pool that makes the session in another process).
    sends_first_bytes = False
    #: A kind without a choice of dispatch: always classic.
    classic_only = False

    def __init__(self, config: ServerConfig, workers: int, **kwargs: object) -> None:
        super().__init__(config, workers, **kwargs)  # type: ignore[arg-type]
        #: Every open connection, waiting or served: shutdown cuts them off from here.
        self._active: dict[int, socket.socket] = {}
        self._lock = threading.Lock()
        self._next_id = 0
        self.lingerer = Lingerer()
        self.classic = self.classic_only or config.dispatch == "accept"
        self.dispatcher = Dispatcher(self, self.classic)
        #: Who runs next among the connections handed to the pool (``policy``).
        self.run_queue: RunQueue[Queued] = RunQueue(schedule=config.schedule)

    @property
    def description(self) -> str:
        if self.classic:
            return "accept dispatch"
        return f"ready dispatch, {self.config.schedule} schedule"

    # -- for subclasses ---------------------------------------------------------------

    def start_pool(self) -> None:
        raise NotImplementedError

    def serve_accepted(self, conn_id: int, conn: socket.socket, accepted_at: float) -> None:
        """Classic dispatch: a worker serves ``conn`` to its end, then ``finished``."""
        raise NotImplementedError

    def hand_over(self, parked: Parked) -> None:
        """Readiness dispatch: a worker drives the connection's session while bytes move,
        then gives it back (``dispatcher.give_back``) or ends it (``finished``)."""
        raise NotImplementedError

    def stop_pool(self) -> None:
        raise NotImplementedError

    # -- the turns of a thread ----------------------------------------------------------

    def classic_turn(self, accepted: Accepted) -> None:
        """Serve an accepted connection to its close, in this thread."""
        # A duplicate, so that the registry's copy stays valid for shutdown(); the
        # registry's copy is the one that is ended (and lingers).
        conn_id = accepted.conn_id
        sock = accepted.sock.dup()
        try:
            sock.setblocking(False)
            session = self.new_session(conn_id, accepted.accepted_at)
            outcome = turn(conn_id, sock, session, self.config.recv_size, self.tracer, False)
        finally:
            sock.close()
        assert isinstance(outcome, Close)
        self.finished(conn_id, outcome)

    def next_turn(self) -> None:
        """Serve the connection the run queue says runs next, in this thread."""
        parked = self.run_queue.pop()
        if isinstance(parked, Accepted):
            self.classic_turn(parked)
            return
        if parked is None:
            return
        began = time.monotonic()
        self.run_queue.serving(parked.service)
        try:
            outcome = turn(
                parked.conn_id,
                parked.sock,
                parked.session,
                self.config.recv_size,
                self.tracer,
                True,
                self.run_queue.waiting.someone_waits,
                self.quantum(parked.service),
            )
        finally:
            self.run_queue.served_turn(parked.service)
        parked.service.attained += time.monotonic() - began
        if isinstance(outcome, GiveBack) and outcome.preempted is not None:
            self.requeue(parked, outcome.writing)
        elif isinstance(outcome, GiveBack):
            self.dispatcher.give_back(parked, outcome.writing)
        else:
            self.finished(parked.conn_id, outcome)

    # -- shared machinery ---------------------------------------------------------------

    def quantum(self, service: Service) -> Quantum | None:
        """A turn's preemption under the server's schedule (None: fifo)."""
        schedule = self.config.schedule
        if not preemptive(schedule):
            return None
        return Quantum(self.run_queue.waiting, service.seq, schedule, service.attained)

    def requeue(self, parked: Parked, writing: bool) -> None:
        """A connection let go while its bytes still moved: back to the run queue at
        once (through the dispatcher it would lose its turn to the next long transfer,
        whose quantum the earlier one would then wait for), unless it is now between
        requests: then the dispatcher waits for its next one."""
        if parked.session.idle:
            self.dispatcher.give_back(parked, writing)
            return
        parked.writing, parked.received = writing, None
        if self.tracer is not None:
            self.tracer.event(parked.conn_id, Ev.READY, writing=writing)
        self.hand_over(parked)

    def new_session(self, conn_id: int, accepted_at: float) -> ServerSession:
        return new_session(self.store, self.limits, conn_id, accepted_at, self.tracer)

    def register(self, conn: socket.socket) -> int | None:
        """Count a new connection in (its id), or None past the cap."""
        with self._lock:
            if len(self._active) < self.max_connections:
                conn_id = self._next_id
                self._next_id += 1
                self._active[conn_id] = conn
                return conn_id
            return None

    def open_count(self) -> int:
        with self._lock:
            return len(self._active)

    def finished(self, conn_id: int, close: Close) -> None:
        """The one way a connection of a pool ends: logged, traced ``closed``, and closed
        as the session's Close says (lingering first after an answer that ends it)."""
        with self._lock:
            conn = self._active.pop(conn_id, None)
        if conn is None:
            return
        if log.isEnabledFor(logging.INFO):
            log.info("%s: closing: %s", peer_of(conn), close.reason)
        if self.tracer is not None:
            self.tracer.closed(conn_id, close, conn)
        if close.linger > 0:
            self.lingerer.linger(conn, close.linger)
            return
        with contextlib.suppress(OSError):
            conn.shutdown(socket.SHUT_RDWR)
        conn.close()

    def request_stop(self, *_: object) -> None:
        super().request_stop()
        self.dispatcher.wake()

    def serve_forever(self, listening: Listening | None = None) -> None:
        removed = self.store.remove_temp_files()
        if removed:
            log.warning("removed %d temporary file(s) left by an earlier run", removed)
        self.start_pool()
        try:
            self.dispatcher.run(listening)
        finally:
            self.shutdown()

    def refuse(self, conn: socket.socket, now: float) -> None:
        """Past the cap: the session's answer, sent without blocking, then lingering."""
        fields = accepted_fields(conn) if self.tracer is not None else {}
        session = ServerSession(self.store, self.limits, now)
        session.refuse(busy_message(self.open_count()))
        conn.setblocking(False)
        close = send_closing(conn, session)
        if self.tracer is not None:
            self.tracer.event(refusal_id(), Ev.REFUSED, reason=close.reason, **fields)
        self.lingerer.linger(conn, close.linger)

    def shutdown(self) -> None:
        """Once the dispatcher gave work in flight its grace period: stop accepting, close
        what still waits, cut off what is still served, and stop the pool."""
        self.listener.close()
        self.dispatcher.close_waiting()
        with self._lock:
            remaining = list(self._active.values())
        if remaining:
            log.info("closing %d connection(s) still open after %.1fs", len(remaining), self.grace)
        for conn in remaining:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
        self.stop_pool()
        self.dispatcher.close_returned()  # given back while the pool stopped
        self.lingerer.close()
        self.store.remove_temp_files()

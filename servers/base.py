"""What the server kinds share.

``BaseServer`` fits every kind: the listening socket, the store, the trace, signals and
the stop flag. ``PoolServer`` is the base of the two pools: the two dispatch modes, the
count of open connections and its cap, an orderly shutdown. A pool only decides who
runs a connection: ``serve_accepted`` (classic) and ``serve_ready`` (readiness).
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

from fileproto.session import Limits, ServerSession, busy_message
from fileproto.store import FileStore
from servers.config import POLL, ServerConfig
from servers.connection import accepted_fields, send_closing
from servers.linger import Lingerer
from servers.options import DEFAULT_MAX_CONNECTIONS
from servers.readiness import Parked, ReadyDispatcher
from servers.trace import Tracer, open_tracer, refusal_id

log = logging.getLogger("fileproto.server")

#: The kernel queues this many connections not yet accepted, so 50 clients arriving at
#: once are queued, not refused.
DEFAULT_BACKLOG = 1024

Ready = Callable[[str, int], None]


class BaseServer:
    def __init__(
        self,
        config: ServerConfig,
        workers: int,
        host: str = "127.0.0.1",
        port: int = 0,
        backlog: int = DEFAULT_BACKLOG,
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
        self.listener = socket.create_server((host, port), family=family, backlog=backlog)
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

    def serve_forever(self, ready: Ready | None = None) -> None:
        raise NotImplementedError

    @property
    def description(self) -> str:
        """How it dispatches, for the start-up log."""
        return f"{self.config.dispatch} dispatch"


class PoolServer(BaseServer):
    def __init__(self, config: ServerConfig, workers: int, **kwargs: object) -> None:
        super().__init__(config, workers, **kwargs)  # type: ignore[arg-type]
        #: Every open connection, waiting or served: shutdown cuts them off from here.
        self._active: dict[int, socket.socket] = {}
        self._lock = threading.Lock()
        self._next_id = 0
        self.lingerer = Lingerer()
        self.ready: ReadyDispatcher | None = None
        if config.dispatch == "ready":
            self.ready = ReadyDispatcher(self)

    # -- for subclasses ---------------------------------------------------------------

    def start_pool(self) -> None:
        raise NotImplementedError

    def serve_accepted(self, conn_id: int, conn: socket.socket, accepted_at: float) -> None:
        """Classic dispatch: a worker serves ``conn`` to its end, then ``finished``."""
        raise NotImplementedError

    def serve_ready(self, parked: Parked) -> None:
        """Readiness dispatch: a worker drives the parked connection's session while
        bytes move, then gives it back (``ready.give_back``) or calls ``finished``."""
        raise NotImplementedError

    def stop_pool(self) -> None:
        raise NotImplementedError

    def poll(self) -> None:
        """Called from the dispatching loop between events (the process pool heals here)."""

    # -- shared machinery ---------------------------------------------------------------

    def new_session(self, conn_id: int, accepted_at: float) -> ServerSession:
        trace = None if self.tracer is None or conn_id < 0 else self.tracer.for_conn(conn_id)
        return ServerSession(self.store, self.limits, accepted_at, trace)

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

    def finished(self, conn_id: int, linger: float = 0.0) -> None:
        with self._lock:
            conn = self._active.pop(conn_id, None)
        if conn is None:
            return
        if linger > 0:
            self.lingerer.linger(conn, linger)
            return
        with contextlib.suppress(OSError):
            conn.shutdown(socket.SHUT_RDWR)
        conn.close()

    def request_stop(self, *_: object) -> None:
        super().request_stop()
        if self.ready is not None:
            self.ready.wake()

    def serve_forever(self, ready: Ready | None = None) -> None:
        removed = self.store.remove_temp_files()
        if removed:
            log.warning("removed %d temporary file(s) left by an earlier run", removed)
        self.start_pool()
        try:
            if self.ready is not None:
                self.ready.run(ready)
            else:
                self._accept_loop(ready)
        finally:
            self.shutdown()

    def _accept_loop(self, ready: Ready | None) -> None:
        self.listener.settimeout(POLL)
        if ready is not None:
            ready(*self.address)
        while not self._stopping:
            self.poll()
            try:
                conn, _ = self.listener.accept()
            except TimeoutError:
                continue
            except OSError as exc:  # EMFILE and the like: back off, keep serving
                log.warning("accept failed: %s", exc)
                time.sleep(POLL)
                continue
            accepted_at = time.monotonic()
            conn_id = self.register(conn)
            if conn_id is None:
                self.refuse(conn, accepted_at)
                continue
            if self.tracer is not None:
                self.tracer.event(conn_id, "accepted", **accepted_fields(conn))
            self.serve_accepted(conn_id, conn, accepted_at)

    def refuse(self, conn: socket.socket, now: float) -> None:
        """Past the cap: the session's answer, sent without blocking, then lingering."""
        fields = accepted_fields(conn) if self.tracer is not None else {}
        session = self.new_session(-1, now)
        session.refuse(busy_message(self.open_count()))
        conn.setblocking(False)
        close = send_closing(conn, session)
        if self.tracer is not None:
            self.tracer.event(refusal_id(), "refused", reason=close.reason, **fields)
        self.lingerer.linger(conn, close.linger)

    def shutdown(self) -> None:
        """Stop accepting, close waiting connections, give work in flight ``grace``
        seconds, then cut it off."""
        self.listener.close()
        if self.ready is not None:
            self.ready.close_parked()
        # The readiness dispatcher served requests in flight for the grace period already.
        deadline = time.monotonic() + (self.grace if self.ready is None else 0.0)
        while time.monotonic() < deadline:
            if self.ready is not None:
                self.ready.close_returned()
            with self._lock:
                if not self._active:
                    break
            time.sleep(0.05)
        with self._lock:
            remaining = list(self._active.values())
        if remaining:
            log.info("closing %d connection(s) still open after %.1fs", len(remaining), self.grace)
        for conn in remaining:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
        self.stop_pool()
        if self.ready is not None:
            self.ready.close_returned()  # given back while the pool stopped
        self.lingerer.close()
        self.store.remove_temp_files()

"""What every concurrency model shares: the listening socket, the two dispatch modes,
the connection cap, signals, and an orderly shutdown. A subclass only decides who runs
a connection: ``serve_accepted`` (classic) and ``serve_ready`` (readiness dispatch)."""

from __future__ import annotations

import contextlib
import logging
import signal
import socket
import threading
import time
from collections.abc import Callable
from types import FrameType

from fileproto.session import Limits
from fileproto.store import FileStore
from fileproto.wire.responses import encode_error
from servers.config import ServerConfig
from servers.options import DEFAULT_MAX_CONNECTIONS
from servers.readiness import Parked, ReadyDispatcher

log = logging.getLogger("fileproto.server")

#: The kernel queues this many connections not yet accepted, so 50 clients arriving at
#: once are queued, not refused.
DEFAULT_BACKLOG = 1024
POLL = 0.2  # how often blocked loops look at the stop flag

Ready = Callable[[str, int], None]


class BaseServer:
    kind = "base"
    #: Whether readiness dispatch must keep the raw bytes of a parked connection's
    #: request to hand them to a worker (a worker in another process re-parses them).
    hands_over_bytes = False
    #: Whether the parent dispatches connections at all (the event-loop kind's loop
    #: processes accept for themselves).
    dispatches = True

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
        #: Every open connection, waiting or served: shutdown cuts them off from here.
        self._active: dict[int, socket.socket] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._next_id = 0
        self.ready: ReadyDispatcher | None = None
        if config.dispatch == "ready" and self.dispatches:
            self.ready = ReadyDispatcher(self, keep_raw=self.hands_over_bytes)

    @property
    def address(self) -> tuple[str, int]:
        host, port = self.listener.getsockname()[:2]
        return host, port

    # -- for subclasses ---------------------------------------------------------------

    def start_pool(self) -> None:
        raise NotImplementedError

    def serve_accepted(self, conn_id: int, conn: socket.socket, accepted_at: float) -> None:
        """Classic dispatch: a worker serves ``conn`` to its end, then ``finished``."""
        raise NotImplementedError

    def serve_ready(self, parked: Parked) -> None:
        """Readiness dispatch: a worker serves the request that arrived on a parked
        connection, then gives it back (``ready.give_back``) or calls ``finished``."""
        raise NotImplementedError

    def stop_pool(self) -> None:
        raise NotImplementedError

    def poll(self) -> None:
        """Called from the dispatching loop between events (the process pool heals here)."""

    # -- shared machinery ---------------------------------------------------------------

    def register(self, conn: socket.socket) -> int | str:
        """Count a new connection in (its id), or, past the cap, the answer to refuse it
        with."""
        with self._lock:
            if len(self._active) < self.max_connections:
                conn_id = self._next_id
                self._next_id += 1
                self._active[conn_id] = conn
                return conn_id
            return f"server busy: {len(self._active)} connections"

    def finished(self, conn_id: int) -> None:
        with self._lock:
            conn = self._active.pop(conn_id, None)
        if conn is not None:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
            conn.close()

    @property
    def limits(self) -> Limits:
        return self.config.limits

    @property
    def stopping(self) -> bool:
        return self._stop.is_set()

    def request_stop(self, *_: object) -> None:
        self._stop.set()
        if self.ready is not None:
            self.ready.wake()

    def install_signal_handlers(self) -> None:
        def handler(signum: int, frame: FrameType | None) -> None:
            self.request_stop()

        signal.signal(signal.SIGTERM, handler)
        signal.signal(signal.SIGINT, handler)

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
        while not self._stop.is_set():
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
            conn.setblocking(True)
            conn_id = self.register(conn)
            if isinstance(conn_id, str):
                refuse(conn, conn_id)
            else:
                self.serve_accepted(conn_id, conn, accepted_at)

    def shutdown(self) -> None:
        """Stop accepting, close waiting connections, give work in flight ``grace``
        seconds, then cut it off."""
        self.listener.close()
        if self.ready is not None:
            self.ready.close_parked()
        deadline = time.monotonic() + self.grace
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
        self.store.remove_temp_files()


def refuse(conn: socket.socket, message: str) -> None:
    """Answer a connection we will not serve, and close it, without ever blocking."""
    conn.setblocking(False)
    with contextlib.suppress(OSError):
        conn.recv(1 << 16)  # unread request bytes would turn our close into a reset
    with contextlib.suppress(OSError):
        conn.send(encode_error(message))
    with contextlib.suppress(OSError):
        conn.shutdown(socket.SHUT_WR)
    conn.close()

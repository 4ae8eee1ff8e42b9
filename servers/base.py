"""What both concurrency models share: the listening socket, the accept loop, signals,
and an orderly shutdown. Subclasses only decide who runs ``serve_connection``."""

from __future__ import annotations

import contextlib
import logging
import signal
import socket
import threading
import time
from collections.abc import Callable
from types import FrameType

from fileproto.store import FileStore
from servers.config import ServerConfig

log = logging.getLogger("fileproto.server")

#: The kernel queues this many connections the accept loop has not taken yet, so 50
#: clients arriving at once are queued, not refused.
DEFAULT_BACKLOG = 1024
#: Connections accepted but not finished; past this the accept loop waits, and further
#: clients wait in the kernel's backlog rather than in our memory.
DEFAULT_MAX_CONNECTIONS = 4096
_POLL = 0.2  # how often blocked loops look at the stop flag


class BaseServer:
    kind = "base"

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
        self.store = FileStore(config.root)
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self.listener = socket.create_server((host, port), family=family, backlog=backlog)
        self._slots = threading.BoundedSemaphore(max_connections)
        self._active: dict[int, socket.socket] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._next_id = 0

    @property
    def address(self) -> tuple[str, int]:
        host, port = self.listener.getsockname()[:2]
        return host, port

    # -- for subclasses ---------------------------------------------------------------

    def start_pool(self) -> None:
        raise NotImplementedError

    def dispatch(self, conn_id: int, conn: socket.socket) -> None:
        """Hand the connection to a worker; call ``finished(conn_id)`` when it is done."""
        raise NotImplementedError

    def stop_pool(self) -> None:
        raise NotImplementedError

    def poll(self) -> None:
        """Called from the accept loop between connections (the process pool heals here)."""

    # -- shared machinery ---------------------------------------------------------------

    def finished(self, conn_id: int) -> None:
        with self._lock:
            conn = self._active.pop(conn_id, None)
        if conn is not None:
            conn.close()
            self._slots.release()

    def request_stop(self, *_: object) -> None:
        self._stop.set()

    def install_signal_handlers(self) -> None:
        def handler(signum: int, frame: FrameType | None) -> None:
            self.request_stop()

        signal.signal(signal.SIGTERM, handler)
        signal.signal(signal.SIGINT, handler)

    def serve_forever(self, ready: Callable[[str, int], None] | None = None) -> None:
        removed = self.store.remove_temp_files()
        if removed:
            log.warning("removed %d temporary file(s) left by an earlier run", removed)
        self.start_pool()
        self.listener.settimeout(_POLL)
        if ready is not None:
            ready(*self.address)
        try:
            while not self._stop.is_set():
                self.poll()
                if not self._slots.acquire(timeout=_POLL):
                    continue
                try:
                    conn, _ = self.listener.accept()
                except TimeoutError:
                    self._slots.release()
                    continue
                except OSError as exc:  # EMFILE and the like: back off, keep serving
                    self._slots.release()
                    log.warning("accept failed: %s", exc)
                    time.sleep(_POLL)
                    continue
                conn.setblocking(True)
                with self._lock:
                    conn_id = self._next_id
                    self._next_id += 1
                    self._active[conn_id] = conn
                self.dispatch(conn_id, conn)
        finally:
            self.shutdown()

    def shutdown(self) -> None:
        """Stop accepting, give in-flight work ``grace`` seconds, then cut it off."""
        self.listener.close()
        deadline = time.monotonic() + self.grace
        while time.monotonic() < deadline:
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

"""Lingering: how a pool closes a connection after an answer that ends it.

The session decides when (``Close.linger``, one policy for every kind); this module
does it without holding a worker: the socket is half-closed, and one background thread
reads and discards what the client still sends until it closes its side or the linger
time is over. A close with unread bytes would be a reset, and a reset can destroy the
answer before the client has read it.
"""

from __future__ import annotations

import contextlib
import selectors
import socket
import threading
import time

#: Lingering sockets at most; past it a socket is closed at once (bounded memory).
MAX_LINGERING = 4096
_DRAIN = 1 << 16


class Lingerer:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._until: dict[socket.socket, float] = {}
        self._selector: selectors.DefaultSelector | None = None
        self._thread: threading.Thread | None = None
        self._wake_r, self._wake_w = socket.socketpair()
        self._wake_r.setblocking(False)
        self._stopped = False

    def linger(self, sock: socket.socket, seconds: float) -> None:
        """Half-close ``sock`` and close it once drained or after ``seconds``."""
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_WR)
        if seconds <= 0:
            sock.close()
            return
        with self._lock:
            if self._stopped or len(self._until) >= MAX_LINGERING:
                sock.close()
                return
            sock.setblocking(False)
            if self._thread is None:
                self._selector = selectors.DefaultSelector()
                self._selector.register(self._wake_r, selectors.EVENT_READ)
                self._thread = threading.Thread(target=self._run, name="linger", daemon=True)
                self._thread.start()
            assert self._selector is not None
            self._until[sock] = time.monotonic() + seconds
            self._selector.register(sock, selectors.EVENT_READ)
        with contextlib.suppress(OSError):
            self._wake_w.send(b"\0")

    def _run(self) -> None:
        selector = self._selector
        assert selector is not None
        while not self._stopped:
            with self._lock:
                first = min(self._until.values(), default=None)
            timeout = 1.0 if first is None else max(0.0, first - time.monotonic())
            for key, _ in selector.select(timeout):
                sock = key.fileobj
                if sock is self._wake_r:
                    with contextlib.suppress(OSError):
                        while self._wake_r.recv(4096):
                            pass
                    continue
                assert isinstance(sock, socket.socket)
                try:
                    data = sock.recv(_DRAIN)
                except BlockingIOError:
                    continue
                except OSError:
                    data = b""
                if not data:
                    self._end(sock)
            now = time.monotonic()
            with self._lock:
                expired = [s for s, until in self._until.items() if until <= now]
            for sock in expired:
                self._end(sock)

    def _end(self, sock: socket.socket) -> None:
        with self._lock:
            if self._until.pop(sock, None) is None:
                return
            assert self._selector is not None
            with contextlib.suppress(KeyError, ValueError, OSError):
                self._selector.unregister(sock)
        sock.close()

    def close(self) -> None:
        """At shutdown: close every lingering socket now."""
        with self._lock:
            self._stopped = True
            socks = list(self._until)
            self._until.clear()
        with contextlib.suppress(OSError):
            self._wake_w.send(b"\0")
        if self._thread is not None:
            self._thread.join(2.0)
        for sock in socks:
            sock.close()
        if self._selector is not None:
            self._selector.close()

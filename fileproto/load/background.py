"""Clients that wait, beside the measured ones: idle connections that never send,
slowloris connections that send a valid header a small piece at a time, and connections
parked after one request. All of them run in one thread around one selector.

A connection the server closes is opened again, so the pressure stays constant for the
whole case; how often that happened is reported (a server that enforces its header
deadline closes every slowloris connection).
"""

from __future__ import annotations

import contextlib
import resource
import selectors
import socket
import threading
import time
from dataclasses import dataclass, field

from fileproto.wire import TERMINATOR, encode_request

#: A slowloris client sends one piece of this header per ``piece_interval``. The name
#: is long so the header takes minutes at that pace, far past any header deadline.
SLOW_HEADER = b"GET " + b"s" * 200 + TERMINATOR
CONNECT_TIMEOUT = 10.0
#: A connection closed sooner than this after it opened ('server busy', a refusal) is
#: opened again only after as long: no reconnect storm against a server at its cap.
REOPEN_BACKOFF = 1.0


@dataclass
class BackgroundReport:
    idle: int = 0
    slowloris: int = 0
    parked: int = 0
    #: Connections the server closed (then opened again), by role.
    closed_by_server: dict[str, int] = field(default_factory=dict)
    #: ERROR answers seen on background connections (deadline answers, 'server busy').
    errors: dict[str, int] = field(default_factory=dict)
    connect_failures: int = 0


@dataclass(eq=False)
class _Conn:
    role: str
    sock: socket.socket
    opened_at: float = 0.0
    sent: int = 0
    received: bytes = b""


def raise_open_files_limit() -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


class BackgroundClients:
    def __init__(
        self,
        host: str,
        port: int,
        *,
        idle: int = 0,
        slowloris: int = 0,
        parked: int = 0,
        piece_interval: float = 1.0,
        piece_size: int = 1,
    ) -> None:
        if min(idle, slowloris, parked) < 0:
            raise ValueError("connection counts cannot be negative")
        self.host, self.port = host, port
        self.counts = {"idle": idle, "slowloris": slowloris, "parked": parked}
        self.piece_interval, self.piece_size = piece_interval, piece_size
        self.report = BackgroundReport(idle, slowloris, parked)
        self._selector = selectors.DefaultSelector()
        self._conns: set[_Conn] = set()
        self._reopen: list[tuple[float, str]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="fileproto-background", daemon=True)

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    def __enter__(self) -> BackgroundClients:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> None:
        """Open every connection (so they are all there when the case starts), then
        keep them up from a thread."""
        if self.total:
            raise_open_files_limit()
        for role, count in self.counts.items():
            for _ in range(count):
                self._open(role)
        self._thread.start()

    def stop(self) -> BackgroundReport:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(30)
        for conn in list(self._conns):
            self._drop(conn)
        self._selector.close()
        return self.report

    def _open(self, role: str) -> None:
        try:
            sock = socket.create_connection((self.host, self.port), timeout=CONNECT_TIMEOUT)
        except OSError:
            self.report.connect_failures += 1
            return
        conn = _Conn(role, sock, time.monotonic())
        if role == "parked":
            sock.sendall(encode_request("LIST"))
        sock.setblocking(False)
        self._conns.add(conn)
        self._selector.register(sock, selectors.EVENT_READ, conn)

    def _drop(self, conn: _Conn) -> None:
        self._conns.discard(conn)
        with contextlib.suppress(KeyError, ValueError):
            self._selector.unregister(conn.sock)
        conn.sock.close()

    def _run(self) -> None:
        next_piece = time.monotonic() + self.piece_interval
        while not self._stop.is_set():
            timeout = max(0.0, min(0.1, next_piece - time.monotonic()))
            for key, _ in self._selector.select(timeout):
                self._readable(key.data)
            now = time.monotonic()
            due = [role for when, role in self._reopen if when <= now]
            if due:
                self._reopen = [(when, role) for when, role in self._reopen if when > now]
                for role in due:
                    self._open(role)
            if now >= next_piece:
                next_piece += self.piece_interval
                for conn in [c for c in self._conns if c.role == "slowloris"]:
                    self._send_piece(conn)

    def _send_piece(self, conn: _Conn) -> None:
        piece = SLOW_HEADER[conn.sent : conn.sent + self.piece_size]
        if not piece:
            return  # the whole header is out: it waits for its answer
        try:
            conn.sock.send(piece)
            conn.sent += len(piece)
        except BlockingIOError:
            pass
        except OSError:
            self._closed(conn)

    def _readable(self, conn: _Conn) -> None:
        try:
            data = conn.sock.recv(1 << 16)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if data:
            conn.received += data
            while TERMINATOR in conn.received:
                answer, _, conn.received = conn.received.partition(TERMINATOR)
                if b'"ERROR"' in answer[:40]:
                    reason = answer.split(b'"data": "', 1)[-1].split(b":", 1)[0]
                    key = reason.decode("ascii", "replace")
                    self.report.errors[key] = self.report.errors.get(key, 0) + 1
            return
        self._closed(conn)

    def _closed(self, conn: _Conn) -> None:
        closed = self.report.closed_by_server
        closed[conn.role] = closed.get(conn.role, 0) + 1
        self._drop(conn)
        if self._stop.is_set():
            return
        now = time.monotonic()
        if now - conn.opened_at < REOPEN_BACKOFF:
            self._reopen.append((now + REOPEN_BACKOFF, conn.role))
        else:
            self._open(conn.role)

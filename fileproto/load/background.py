"""Clients that wait, beside the measured ones, by role (:data:`fileproto.results.felt.ROLES`):

- **idle**: connect and never send;
- **slowloris**: send a valid header a small piece at a time;
- **parked**: send one LIST, read the answer, then wait;
- **stalled**: send ``GET name`` for a file on the server, then read nothing. Once the
  answer has stopped arriving (the server's send is stuck), each also sends a LIST,
  pipelined, which the server does not read while its response is unsent: a server
  that gives up on the reader then closes a connection with unread bytes, which the
  kernel turns into a reset the client sees at once, without reading (Linux's TCP_INFO
  state). Without it the close would wait behind the unread response (the reader's
  window is zero) until someone reads. The reader's receive buffer is small
  (:data:`STALLED_RCVBUF`), so memory does not grow with the file's size and the
  server's send stalls after a few hundred KiB.

All of them run in one thread around one selector. A connection the server closes is
opened again, so the pressure stays constant for the whole case; how often that
happened, and after how long, is reported (a server that enforces its header deadline
closes every slowloris connection, one that enforces its send deadline every stalled
reader).
"""

from __future__ import annotations

import contextlib
import fcntl
import selectors
import socket
import struct
import termios
import threading
import time
from dataclasses import dataclass

from fileproto.procinfo import raise_open_files_limit
from fileproto.results.felt import Background, Percentiles, Waiting
from fileproto.wire import TERMINATOR, encode_request

#: A slowloris client sends one piece of this header per ``piece_interval``. The name
#: is long so the header takes minutes at that pace, far past any header deadline.
SLOW_HEADER = b"GET " + b"s" * 200 + TERMINATOR
CONNECT_TIMEOUT = 10.0
#: A connection closed sooner than this after it opened ('server busy', a refusal) is
#: opened again only after as long: no reconnect storm against a server at its cap.
REOPEN_BACKOFF = 1.0
#: A stalled reader's receive buffer (set before connecting, so the kernel never grows
#: it): what it holds unread at most.
STALLED_RCVBUF = 64 << 10
#: Seconds between two looks at the stalled readers (their TCP state, and how much of
#: the answer waits unread: unchanged between two looks means the server's send is stuck).
STALLED_CHECK = 0.1
#: Seconds ``start`` waits at most for the stalled readers' answers to stop coming.
STALLED_SETTLE = 5.0
#: Linux TCP states (include/net/tcp_states.h) that mean the server is gone or going.
_TCP_ESTABLISHED = 1
_TCP_INFO = getattr(socket, "TCP_INFO", None)


@dataclass(eq=False)
class _Conn:
    role: str
    sock: socket.socket
    opened_at: float = 0.0
    sent: int = 0
    received: bytes = b""
    #: A stalled reader: bytes of the answer waiting unread at the last look, and
    #: whether its pipelined LIST is out.
    unread: int = -1
    pipelined: bool = False


def unread_bytes(sock: socket.socket) -> int:
    """Bytes received on ``sock`` and not read yet (FIONREAD); -1 if it cannot tell."""
    try:
        raw = fcntl.ioctl(sock.fileno(), termios.FIONREAD, struct.pack("i", 0))
    except OSError:
        return -1
    count: int = struct.unpack("i", raw)[0]
    return count


def server_closed(sock: socket.socket) -> bool:
    """Whether the peer has closed or reset ``sock``, without reading from it."""
    if _TCP_INFO is not None:
        with contextlib.suppress(OSError):
            state = sock.getsockopt(socket.IPPROTO_TCP, _TCP_INFO, 8)[0]
            return state != _TCP_ESTABLISHED
    try:
        return sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR) != 0
    except OSError:
        return True


class BackgroundClients:
    """``waiting`` connections of each role to ``host:port``, kept open from ``start``
    to ``stop``; stalled readers GET ``stalled_name``."""

    def __init__(
        self,
        host: str,
        port: int,
        waiting: Waiting,
        *,
        stalled_name: str | None = None,
        piece_interval: float = 1.0,
        piece_size: int = 1,
    ) -> None:
        if waiting.stalled and not stalled_name:
            raise ValueError("stalled readers need the name of a file on the server to GET")
        self.host, self.port = host, port
        self.waiting = waiting.only()
        self.stalled_name = stalled_name or ""
        self.piece_interval, self.piece_size = piece_interval, piece_size
        self._closed_by_server: dict[str, int] = {}
        self._closed_after: dict[str, list[float]] = {}
        self._errors: dict[str, int] = {}
        self._connect_failures = 0
        self._lock = threading.Lock()  # the report is read while the thread runs
        self._selector = selectors.DefaultSelector()
        self._conns: set[_Conn] = set()
        self._reopen: list[tuple[float, str]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="fileproto-background", daemon=True)

    def __enter__(self) -> BackgroundClients:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def report(self) -> Background:
        """What happened to the connections so far."""
        with self._lock:
            return Background(
                self.waiting.idle,
                self.waiting.slowloris,
                self.waiting.parked,
                self.waiting.stalled,
                closed_by_server=dict(self._closed_by_server),
                errors=dict(self._errors),
                connect_failures=self._connect_failures,
                closed_after_s={
                    role: figures
                    for role, seconds in self._closed_after.items()
                    if (figures := Percentiles.of(seconds)) is not None
                },
            )

    def start(self) -> None:
        """Open every connection (so they are all there when the case starts), then
        keep them up from a thread."""
        if self.waiting.opened:
            raise_open_files_limit()
        for role, count in self.waiting.counts().items():
            for _ in range(count):
                self._open(role)
        self._settle_stalled()
        self._thread.start()

    def _settle_stalled(self) -> None:
        """Wait (boundedly) until the stalled readers are stalled: the server has sent
        what their buffers hold and its sends are stuck. The measured clients then start
        beside readers that wait, not beside answers still being sent."""
        readers = [c for c in self._conns if c.role == "stalled"]
        if not readers:
            return
        before = [unread_bytes(c.sock) for c in readers]
        until = time.monotonic() + STALLED_SETTLE
        while time.monotonic() < until:
            time.sleep(STALLED_CHECK)
            now = [unread_bytes(c.sock) for c in readers]
            if now == before:
                return
            before = now

    def stop(self) -> Background:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(30)
        for conn in list(self._conns):
            self._drop(conn)
        self._selector.close()
        return self.report()

    def _connect(self, role: str) -> socket.socket:
        if role != "stalled":
            return socket.create_connection((self.host, self.port), timeout=CONNECT_TIMEOUT)
        family, kind, proto, _, address = socket.getaddrinfo(
            self.host, self.port, type=socket.SOCK_STREAM
        )[0]
        sock = socket.socket(family, kind, proto)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, STALLED_RCVBUF)
            sock.settimeout(CONNECT_TIMEOUT)
            sock.connect(address)
        except OSError:
            sock.close()
            raise
        return sock

    def _open(self, role: str) -> None:
        try:
            sock = self._connect(role)
            conn = _Conn(role, sock, time.monotonic())
            if role == "parked":
                sock.sendall(encode_request("LIST"))
            elif role == "stalled":
                sock.sendall(encode_request("GET", self.stalled_name))
        except OSError:
            with self._lock:
                self._connect_failures += 1
            return
        sock.setblocking(False)
        self._conns.add(conn)
        if role != "stalled":  # a stalled reader is never read: its data would always wake us
            self._selector.register(sock, selectors.EVENT_READ, conn)

    def _drop(self, conn: _Conn) -> None:
        self._conns.discard(conn)
        with contextlib.suppress(KeyError, ValueError):
            self._selector.unregister(conn.sock)
        conn.sock.close()

    def _run(self) -> None:
        next_piece = time.monotonic() + self.piece_interval
        stalled = bool(self.waiting.stalled)
        while not self._stop.is_set():
            wait = next_piece - time.monotonic()
            timeout = max(0.0, min(STALLED_CHECK if stalled else 0.1, wait))
            if self._selector.get_map():
                events = self._selector.select(timeout)
            else:  # select() on an empty selector does not wait everywhere
                events = []
                self._stop.wait(timeout)
            for key, _ in events:
                self._readable(key.data)
            now = time.monotonic()
            if stalled:
                self._check_stalled()
            due = [role for when, role in self._reopen if when <= now]
            if due:
                self._reopen = [(when, role) for when, role in self._reopen if when > now]
                for role in due:
                    self._open(role)
            if now >= next_piece:
                next_piece += self.piece_interval
                for conn in [c for c in self._conns if c.role == "slowloris"]:
                    self._send_piece(conn)

    def _check_stalled(self) -> None:
        for conn in [c for c in self._conns if c.role == "stalled"]:
            if server_closed(conn.sock):
                self._closed(conn)
                continue
            if conn.pipelined:
                continue
            unread = unread_bytes(conn.sock)
            if unread > 0 and unread == conn.unread:  # the answer has stopped coming
                conn.pipelined = True
                with contextlib.suppress(BlockingIOError):
                    conn.sock.send(encode_request("LIST"))
            conn.unread = unread

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
                    with self._lock:
                        self._errors[key] = self._errors.get(key, 0) + 1
            return
        self._closed(conn)

    def _closed(self, conn: _Conn) -> None:
        now = time.monotonic()
        with self._lock:
            closed = self._closed_by_server
            closed[conn.role] = closed.get(conn.role, 0) + 1
            self._closed_after.setdefault(conn.role, []).append(now - conn.opened_at)
        self._drop(conn)
        if self._stop.is_set():
            return
        if now - conn.opened_at < REOPEN_BACKOFF:
            self._reopen.append((now + REOPEN_BACKOFF, conn.role))
        else:
            self._open(conn.role)

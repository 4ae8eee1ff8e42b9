"""Clients that move their bytes at a pace of their own, written by hand on raw sockets
so that the pace is the test's, not a library's: one that reads its answer slowly, one
that sends its upload slowly, and fast ones that never keep a server waiting. Each
returns its local port, the server trace's ``peer``."""

from __future__ import annotations

import base64
import socket
import threading
import time

from tests.helpers.wire import (
    IO_TIMEOUT,
    TERMINATOR,
    Address,
    json_request,
    upload_prefix,
    upload_suffix,
)

#: The pace of the slow reader: 64 KiB every 10 ms (6.4 MB/s).
PIECE = 64 << 10
PAUSE = 0.01
#: A receive buffer this small keeps a slow reader slow: the kernel's autotuning would
#: otherwise let it take megabytes ahead of what the program reads.
SMALL_BUFFER = 128 << 10
#: The buffers a fast client asks for (the kernel caps them at net.core.wmem_max and
#: rmem_max, then doubles them).
BIG_BUFFER = 4 << 20


def slow_download(server: Address, name: str, piece: int = PIECE, pause: float = PAUSE) -> int:
    """GET ``name`` and read the answer ``piece`` bytes every ``pause`` seconds."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, SMALL_BUFFER)
    sock.settimeout(IO_TIMEOUT)
    with sock:
        sock.connect((server.host, server.port))
        port: int = sock.getsockname()[1]
        sock.sendall(json_request("GET", name))
        answer = bytearray()
        for _ in range(1_000_000):
            chunk = sock.recv(piece)
            assert chunk, "the server closed before the answer's end"
            answer += chunk[-4:] if len(answer) > 64 else chunk  # the status, and the end
            if answer.endswith(TERMINATOR):
                _check(bytes(answer))
                return port
            time.sleep(pause)
        raise AssertionError("the answer did not end")


def slow_upload(server: Address, name: str, content: bytes, piece: int, pause: float) -> int:
    """UPLOAD ``content`` as ``name``, its base64 sent ``piece`` bytes every ``pause``
    seconds."""
    body = base64.b64encode(content)
    with socket.create_connection((server.host, server.port), timeout=IO_TIMEOUT) as sock:
        port: int = sock.getsockname()[1]
        sock.sendall(upload_prefix("json", name))
        for start in range(0, len(body), piece):
            time.sleep(pause)
            sock.sendall(body[start : start + piece])
        sock.sendall(upload_suffix("json"))
        _check(_answer(sock))
        return port


def fast_capacity() -> int:
    """The request or answer a fast client's buffers surely hold, on this system."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, BIG_BUFFER)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, BIG_BUFFER)
        granted = min(sock.getsockopt(socket.SOL_SOCKET, o)
                      for o in (socket.SO_RCVBUF, socket.SO_SNDBUF))  # fmt: skip
    # Half of it: the kernel counts its own overhead against the same budget.
    return int(granted // 2)


def _fast_socket(server: Address) -> socket.socket:
    """A connection whose buffers hold a whole request or answer of up to
    :func:`fast_capacity` bytes: the kernel moves them while this process waits for a
    core, so the client never keeps the server waiting."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    # Before connecting: the window scale is agreed in the handshake.
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, BIG_BUFFER)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, BIG_BUFFER)
    sock.settimeout(IO_TIMEOUT)
    sock.connect((server.host, server.port))
    return sock


class FastClient(threading.Thread):
    """A request sent at once from a socket whose buffers hold it and its answer;
    ``sent`` is set once the whole request is in the kernel, ``port`` once connected."""

    def __init__(self, server: Address, request: bytes) -> None:
        super().__init__(daemon=True)
        assert len(request) <= fast_capacity(), "more than the socket's buffers hold"
        self.server, self.request = server, request
        self.sent = threading.Event()
        self.port = 0
        self.answer = b""
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            with _fast_socket(self.server) as sock:
                self.port = sock.getsockname()[1]
                sock.sendall(self.request)
                self.sent.set()
                self.answer = _answer(sock)
        except BaseException as exc:  # reported by finish()
            self.error = exc
            self.sent.set()

    def finish(self) -> int:
        """Wait for the answer; the client's port."""
        self.join(IO_TIMEOUT)
        assert not self.is_alive(), "no answer in time"
        if self.error is not None:
            raise self.error
        _check(self.answer)
        return self.port


def upload_request(name: str, content: bytes) -> bytes:
    return upload_prefix("json", name) + base64.b64encode(content) + upload_suffix("json")


def _answer(sock: socket.socket) -> bytes:
    """The answer's first bytes and its end (the middle is read and dropped)."""
    buffer = memoryview(bytearray(1 << 20))
    kept = bytearray()
    for _ in range(1_000_000):
        count = sock.recv_into(buffer)
        assert count, "the server closed before the answer's end"
        kept += buffer[:count] if len(kept) < 64 else buffer[max(0, count - 4) : count]
        if kept.endswith(TERMINATOR):
            return bytes(kept)
    raise AssertionError("the answer did not end")


def _check(answer: bytes) -> None:
    """An OK answer (our servers write its status first)."""
    assert answer.startswith(b'{"status": "OK"'), answer[:200]

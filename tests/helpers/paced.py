"""Clients that move their bytes at a pace of their own: one that reads its answer
slowly, one that sends its upload slowly, written by hand on a raw socket so that the
pace is the test's, not the library's."""

from __future__ import annotations

import base64
import socket
import time

from tests.helpers.wire import (
    IO_TIMEOUT,
    TERMINATOR,
    Address,
    json_request,
    upload_prefix,
    upload_suffix,
)

#: The pace of the slow clients: 64 KiB every 10 ms (6.4 MB/s).
PIECE = 64 << 10
PAUSE = 0.01
#: A receive buffer this small keeps a slow reader slow: the kernel's autotuning would
#: otherwise let it take megabytes ahead of what the program reads.
SMALL_BUFFER = 128 << 10
#: The buffers of a fast client, asked for (Linux doubles it, up to twice
#: net.core.rmem_max and wmem_max: 4 MiB by default on recent kernels).
BIG_BUFFER = 4 << 20
#: The largest request or answer a fast client's buffer surely holds.
FAST_MAX = 3 << 20


def slow_download(server: Address, name: str, piece: int = PIECE, pause: float = PAUSE) -> int:
    """GET ``name`` and read the answer ``piece`` bytes every ``pause`` seconds; the
    bytes read."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, SMALL_BUFFER)
    sock.settimeout(IO_TIMEOUT)
    with sock:
        sock.connect((server.host, server.port))
        sock.sendall(json_request("GET", name))
        tail = b""
        got = 0
        for _ in range(1_000_000):
            chunk = sock.recv(piece)
            assert chunk, "the server closed before the answer's end"
            got += len(chunk)
            if TERMINATOR in tail + chunk:
                return got
            tail = chunk[-3:]
            time.sleep(pause)
        raise AssertionError("the answer did not end")


def slow_upload(
    server: Address, name: str, content: bytes, piece: int = PIECE, pause: float = PAUSE
) -> bytes:
    """UPLOAD ``content`` as ``name``, its base64 sent ``piece`` bytes every ``pause``
    seconds; the answer's raw bytes."""
    body = base64.b64encode(content)
    with socket.create_connection((server.host, server.port), timeout=IO_TIMEOUT) as sock:
        sock.sendall(upload_prefix("json", name))
        for start in range(0, len(body), piece):
            time.sleep(pause)
            sock.sendall(body[start : start + piece])
        sock.sendall(upload_suffix("json"))
        return _answer(sock)


def _fast_socket(server: Address) -> socket.socket:
    """A connection whose buffers hold a whole request or answer of up to
    :data:`FAST_MAX` bytes: the kernel moves them while this process waits for a core,
    so the client never holds the server back, even on a busy machine."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    # Before connecting: the window scale is agreed in the handshake.
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, BIG_BUFFER)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, BIG_BUFFER)
    sock.settimeout(IO_TIMEOUT)
    sock.connect((server.host, server.port))
    return sock


def fast_upload(server: Address, name: str, content: bytes) -> bytes:
    """UPLOAD ``content`` as ``name`` in one send, from a socket whose buffer holds it
    all; the answer's raw bytes."""
    request = upload_prefix("json", name) + base64.b64encode(content) + upload_suffix("json")
    assert len(request) <= FAST_MAX, "too large to be held in the socket's buffer"
    with _fast_socket(server) as sock:
        sock.sendall(request)
        return _answer(sock)


def fast_download(server: Address, name: str) -> int:
    """GET ``name`` on a socket whose receive buffer holds the whole answer, taken into
    one buffer, nothing kept or decoded; the bytes read."""
    buffer = memoryview(bytearray(4 << 20))
    with _fast_socket(server) as sock:
        sock.sendall(json_request("GET", name))
        got = 0
        tail = b""
        for _ in range(1_000_000):
            count = sock.recv_into(buffer)
            assert count, "the server closed before the answer's end"
            got += count
            end = bytes(buffer[max(0, count - 4) : count])
            if TERMINATOR in tail + end:
                return got
            tail = end[-3:]
        raise AssertionError("the answer did not end")


def _answer(sock: socket.socket) -> bytes:
    parts: list[bytes] = []
    tail = b""
    for _ in range(1_000_000):
        chunk = sock.recv(1 << 20)
        assert chunk, "the server closed before the answer's end"
        parts.append(chunk)
        if TERMINATOR in tail + chunk:
            return b"".join(parts)
        tail = chunk[-3:]
    raise AssertionError("the answer did not end")

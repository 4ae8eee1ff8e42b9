"""Driving the server's drivers in this process: socket pairs for connections and a fake
clock whose waits take no time (docs/architecture.md, "The server session and the
dispatch modes")."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator

from fileproto.server.sockets import wait_ready
from fileproto.wire import TERMINATOR


class FakeClock:
    """Monotonic seconds that move only when told to, or when a driver waits: a wait for
    a socket that is not ready returns at once, as if its whole timeout had passed."""

    def __init__(self, now: float = 1000.0) -> None:
        self.now = now
        self.waited: list[float] = []

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds

    def wait(self, fd: int, writing: bool, timeout: float) -> bool:
        if wait_ready(fd, writing, 0.0):
            return True
        self.waited.append(timeout)
        self.now += max(0.0, timeout)
        return False


def pair() -> tuple[socket.socket, socket.socket]:
    """(the server's end, non-blocking; the client's end, blocking with a timeout)."""
    server, client = socket.socketpair()
    server.setblocking(False)
    client.settimeout(10.0)
    return server, client


def answers(data: bytes) -> list[dict[str, object]]:
    """The JSON answers in ``data``, in order."""
    return [json.loads(part) for part in data.split(TERMINATOR) if part]


def read_all(client: socket.socket, limit: int = 64 << 20) -> bytes:
    """What the server sent until it closed its end (at most ``limit`` bytes)."""
    out = bytearray()
    while len(out) < limit:
        try:
            chunk = client.recv(1 << 20)
        except ConnectionResetError:
            break
        if not chunk:
            break
        out += chunk
    return bytes(out)


def read_answer(client: socket.socket) -> bytes:
    """One whole answer from the client's end."""
    out = bytearray()
    while not out.endswith(TERMINATOR):
        chunk = client.recv(1 << 20)
        assert chunk, f"closed after {len(out)} bytes"
        out += chunk
    return bytes(out)


def drain(client: socket.socket) -> Iterator[int]:
    """Read what is there without waiting, yielding each piece's size."""
    client.setblocking(False)
    try:
        while True:
            try:
                chunk = client.recv(1 << 20)
            except BlockingIOError:
                return
            if not chunk:
                return
            yield len(chunk)
    finally:
        client.settimeout(10.0)

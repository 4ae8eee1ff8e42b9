"""What the drivers ask of a connection's socket besides its bytes: who is at the other
end, how much of what was sent the client has not taken yet, and whether it is ready."""

from __future__ import annotations

import fcntl
import select
import socket
import struct
import termios


def peer_of(sock: socket.socket) -> str:
    """The client's "host:port", as the log and the trace name it ("?" once gone)."""
    try:
        name = sock.getpeername()
    except OSError:
        return "?"
    if not isinstance(name, tuple):
        return str(name) or "?"  # a Unix socket (a test's socket pair)
    return f"{name[0]}:{name[1]}"


def unsent_bytes(sock: socket.socket) -> int | None:
    """Bytes sent but not yet taken by the client (Linux's SIOCOUTQ), or None where the
    system cannot say. A writable event comes only once half the send buffer is free,
    so a slow reader can make progress for longer than a send deadline without one:
    this tells it from a client that reads nothing (``policy.reader_moved``)."""
    try:
        raw = fcntl.ioctl(sock.fileno(), termios.TIOCOUTQ, b"\0\0\0\0")
    except (OSError, AttributeError):
        return None
    value: int = struct.unpack("i", raw)[0]
    return value


def wait_ready(fd: int, writing: bool, timeout: float) -> bool:
    """Whether ``fd`` is ready to read (or to write) within ``timeout`` seconds; an
    error or hang-up counts, since the next call on it reports that."""
    poller = select.poll()
    poller.register(fd, select.POLLOUT if writing else select.POLLIN)
    return bool(poller.poll(max(0.0, timeout) * 1000.0))

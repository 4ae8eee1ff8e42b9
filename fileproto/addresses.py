"""Server addresses as users type them, and the error a client shows when one cannot
be reached."""

from __future__ import annotations

import socket

from fileproto.errors import FileprotoError

#: Where ``fileproto serve`` listens and every client command looks, unless told.
DEFAULT_PORT = 45000
DEFAULT_SERVER = f"127.0.0.1:{DEFAULT_PORT}"


class ConnectError(FileprotoError, ConnectionError):
    """The server could not be reached; the message names the address and a hint."""


def connect_error(host: str, port: int, exc: OSError) -> ConnectError:
    """The error a client shows when it cannot reach HOST:PORT: where, why, what to check."""
    shown = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    if isinstance(exc, ConnectionRefusedError):
        why, hint = "connection refused", "is the server running, on this port?"
    elif isinstance(exc, TimeoutError):
        why, hint = "timed out", "is the address right, and the server not overloaded?"
    elif isinstance(exc, socket.gaierror):
        why, hint = f"unknown host ({exc.strerror})", "is the host name spelled right?"
    else:
        why, hint = (exc.strerror or str(exc)).lower(), "is the address right?"
    return ConnectError(f"cannot connect to {shown}: {why}; {hint}")


def parse_address(text: str) -> tuple[str, int]:
    """``HOST:PORT``, ``[v6]:PORT`` or ``fileproto://HOST:PORT`` to (host, port)."""
    text = text.removeprefix("fileproto://").rstrip("/")
    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit():
        raise ValueError(f"expected HOST:PORT, got {text!r}")
    host = host.removeprefix("[").removesuffix("]") or "127.0.0.1"
    number = int(port)
    if not 0 < number < 65536:
        raise ValueError(f"port out of range in {text!r}")
    return host, number

"""Requests written by hand and a raw connection, for what our client cannot send."""

from __future__ import annotations

import base64
import json
import socket
from typing import Protocol

TERMINATOR = b"\r\n\r\n"
#: Socket timeout of the tests' connections: a bound on a hang, not a speed requirement.
IO_TIMEOUT = 20.0
MAX_RESPONSE = 64 << 20
MIB = 1 << 20


class Address(Protocol):
    """What a connection needs of a server (``RunningServer`` has both)."""

    host: str
    port: int


class ServerClosed(AssertionError, EOFError):
    """The server closed the connection before a complete response."""


# -- requests -------------------------------------------------------------------------------


def json_request(command: str, *params: object) -> bytes:
    return json.dumps({"command": command, "params": list(params)}).encode("ascii") + TERMINATOR


def text_request(command: str, *params: str | bytes) -> bytes:
    parts = [command.encode("ascii")]
    parts += [p if isinstance(p, bytes) else p.encode("utf-8") for p in params]
    return b" ".join(parts) + TERMINATOR


LIST_REQUEST = json_request("LIST")


def request(dialect: str, command: str, name: str, content: bytes | None = None) -> bytes:
    """GET/DELETE ``name`` or UPLOAD ``content`` under it, the name carried byte for byte."""
    params: list[str] = [name]
    if content is not None:
        params.append(base64.b64encode(content).decode("ascii"))
    if dialect == "json":
        return json_request(command, *params)
    return text_request(command, *params)


def upload_prefix(dialect: str, name: str) -> bytes:
    """An UPLOAD up to its payload, which the caller sends in pieces."""
    if dialect == "json":
        return b'{"command": "UPLOAD", "params": [' + json.dumps(name).encode() + b', "'
    return b"UPLOAD " + name.encode() + b" "


def upload_suffix(dialect: str) -> bytes:
    return (b'"]}' if dialect == "json" else b"") + TERMINATOR


# -- responses ------------------------------------------------------------------------------


def read_response(sock: socket.socket, buffer: bytearray | None = None) -> dict[str, object]:
    """One response from ``sock``; ``buffer`` holds what came after it, for the next call.

    Raises ServerClosed if the server closes first, TimeoutError after the socket's timeout.
    """
    buffer = bytearray() if buffer is None else buffer
    scan = 0
    for _ in range(100_000):
        end = buffer.find(TERMINATOR, scan)
        if end >= 0:
            message = bytes(buffer[:end])
            del buffer[: end + len(TERMINATOR)]
            response = json.loads(message)
            assert isinstance(response, dict), response
            assert response.get("status") in ("OK", "ERROR"), response
            return response
        assert len(buffer) < MAX_RESPONSE, "response without a terminator"
        scan = max(0, len(buffer) - 3)
        chunk = sock.recv(1 << 20)
        if not chunk:
            raise ServerClosed(f"server closed the connection; got {bytes(buffer[:200])!r}")
        buffer += chunk
    raise AssertionError("no complete response")


def assert_error(response: dict[str, object], *needles: str) -> str:
    """An ERROR answer with a non-empty message containing each needle."""
    assert response["status"] == "ERROR", response
    message = response.get("data")
    assert isinstance(message, str) and message.strip(), f"error without a message: {response}"
    for needle in needles:
        assert needle.lower() in message.lower(), (needle, message)
    return message


# -- a raw connection -----------------------------------------------------------------------


class RawConnection:
    """One TCP connection; responses read one at a time, leftovers kept for the next."""

    def __init__(self, server: Address, timeout: float = IO_TIMEOUT) -> None:
        self.sock = socket.create_connection((server.host, server.port), timeout=timeout)
        self.buffer = bytearray()

    def __enter__(self) -> RawConnection:
        return self

    def __exit__(self, *exc: object) -> None:
        self.sock.close()

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def read(self) -> dict[str, object]:
        return read_response(self.sock, self.buffer)

    def request(self, data: bytes) -> dict[str, object]:
        self.send(data)
        return self.read()

    def read_until_closed(self) -> bytes:
        """Everything the server still sends, until it closes (bounded by the timeout)."""
        data = bytearray(self.buffer)
        for _ in range(10_000):
            chunk = self.sock.recv(1 << 16)
            if not chunk:
                return bytes(data)
            data += chunk
        raise AssertionError("the server kept sending")

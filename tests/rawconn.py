"""A raw TCP connection to a server under test, for requests our client cannot make."""

from __future__ import annotations

import json
import socket

from fileproto.pytest_plugin import RunningServer

TERMINATOR = b"\r\n\r\n"
IO_TIMEOUT = 20.0
MAX_RESPONSE = 64 << 20


class RawConnection:
    """One TCP connection; responses read one at a time, leftovers kept for the next."""

    def __init__(self, server: RunningServer, timeout: float = IO_TIMEOUT) -> None:
        self.sock = socket.create_connection((server.host, server.port), timeout=timeout)
        self.buffer = bytearray()

    def __enter__(self) -> RawConnection:
        return self

    def __exit__(self, *exc: object) -> None:
        self.sock.close()

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def read(self) -> dict[str, object]:
        scan = 0
        for _ in range(100_000):
            end = self.buffer.find(TERMINATOR, scan)
            if end >= 0:
                message = bytes(self.buffer[:end])
                del self.buffer[: end + len(TERMINATOR)]
                response = json.loads(message)
                assert isinstance(response, dict), response
                assert response.get("status") in ("OK", "ERROR"), response
                return response
            assert len(self.buffer) < MAX_RESPONSE, "response without a terminator"
            scan = max(0, len(self.buffer) - 3)
            chunk = self.sock.recv(1 << 20)
            if not chunk:
                raise AssertionError(f"server closed the connection; got {bytes(self.buffer)!r}")
            self.buffer += chunk
        raise AssertionError("no complete response")

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


def assert_error(response: dict[str, object], *needles: str) -> str:
    """An ERROR answer with a non-empty message containing each needle."""
    assert response["status"] == "ERROR", response
    message = response.get("data")
    assert isinstance(message, str) and message.strip(), f"error without a message: {response}"
    for needle in needles:
        assert needle.lower() in message.lower(), (needle, message)
    return message

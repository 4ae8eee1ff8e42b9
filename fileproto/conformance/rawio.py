"""Raw sockets and hand-written requests: the checker must be able to send what no
well-behaved client would, and to judge responses byte for byte."""

from __future__ import annotations

import base64
import contextlib
import errno
import json
import os
import select
import socket
import struct
import time
from typing import Any

from fileproto.conformance.model import Violation
from fileproto.wire import TERMINATOR

#: Bytes a response may take before the checker gives up on it (GETs here are a few MiB).
MAX_RESPONSE = 64 << 20
RECV_SIZE = 1 << 18

Reply = dict[str, Any]


class NoAnswer(Violation):
    """The server closed, reset or stayed silent where a response was due."""


def brief(data: bytes | str, limit: int = 80) -> str:
    text = repr(data)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def show(reply: Reply) -> str:
    """A response for a report: long fields (file contents) shortened."""
    shown = {
        k: (v if not isinstance(v, str) or len(v) < 60 else v[:40] + "...")
        for k, v in reply.items()
    }
    return json.dumps(shown, ensure_ascii=False)


def parse_response(message: bytes) -> Reply:
    """The bytes before a terminator, checked to be a response (section 2.3)."""
    try:
        fields = json.loads(message.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise Violation(f"response is not UTF-8 JSON ({exc}): {brief(message)}") from None
    if not isinstance(fields, dict):
        raise Violation(f"response is not a JSON object: {brief(message)}")
    if fields.get("status") not in ("OK", "ERROR"):
        raise Violation(f"response status is not 'OK' or 'ERROR': {brief(message)}")
    return fields


class Conn:
    """One TCP connection; responses are read one at a time, leftovers kept."""

    def __init__(self, host: str, port: int, timeout: float, rcvbuf: int | None = None) -> None:
        """``rcvbuf``: a receive buffer of this size, set before connecting (a client that
        will not read holds back that much of its answer at most)."""
        self.timeout = timeout
        try:
            if rcvbuf is None:
                self.sock = socket.create_connection((host, port), timeout=timeout)
            else:
                family = socket.AF_INET6 if ":" in host else socket.AF_INET
                self.sock = socket.socket(family, socket.SOCK_STREAM)
                self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
                self.sock.settimeout(timeout)
                self.sock.connect((host, port))
        except OSError as exc:
            raise NoAnswer(f"cannot connect to {host}:{port}: {exc}") from None
        self._connected()

    @classmethod
    def adopt(cls, sock: socket.socket, timeout: float) -> Conn:
        """A connection over ``sock``, whose connect (``begin_connect``) has completed."""
        conn = cls.__new__(cls)
        conn.timeout = timeout
        conn.sock = sock
        sock.settimeout(timeout)
        conn._connected()
        return conn

    def _connected(self) -> None:
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buffer = bytearray()
        self._scanned = 0

    def __enter__(self) -> Conn:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self.sock.close()

    def reset(self) -> None:
        """Leave abruptly: close with a reset, discarding what was not read, so that the
        server's next send on this connection fails."""
        with contextlib.suppress(OSError):
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.sock.close()

    def send(self, data: bytes) -> None:
        try:
            self.sock.sendall(data)
        except TimeoutError:
            raise NoAnswer("the server stopped reading (send timed out)") from None
        except OSError as exc:
            raise NoAnswer(f"the server closed the connection while we sent: {exc}") from None

    def send_pieces(self, data: bytes, sizes: list[int], pause: float = 0.005) -> None:
        """Send ``data`` in pieces of these sizes (the rest last), pausing between, so
        that they reach the server as separate reads."""
        pos = 0
        for size in sizes:
            self.send(data[pos : pos + size])
            pos += size
            time.sleep(pause)
        if pos < len(data):
            self.send(data[pos:])

    def read_message(self) -> bytes:
        """The bytes of the next response, without its terminator."""
        deadline = time.monotonic() + self.timeout
        while True:
            end = self.buffer.find(TERMINATOR, self._scanned)
            if end >= 0:
                message = bytes(self.buffer[:end])
                del self.buffer[: end + len(TERMINATOR)]
                self._scanned = 0
                return message
            self._scanned = max(0, len(self.buffer) - 3)
            if len(self.buffer) > MAX_RESPONSE:
                raise Violation(f"no terminator within {MAX_RESPONSE} bytes of response")
            chunk = self._recv(deadline)
            if not chunk:
                got = f"; got {brief(bytes(self.buffer))}" if self.buffer else ""
                raise NoAnswer(f"the server closed the connection without a response{got}")
            self.buffer += chunk

    def _recv(self, deadline: float) -> bytes:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise NoAnswer(f"no response within {self.timeout:g} s")
        self.sock.settimeout(remaining)
        try:
            return self.sock.recv(RECV_SIZE)
        except TimeoutError:
            raise NoAnswer(f"no response within {self.timeout:g} s") from None
        except OSError as exc:
            raise NoAnswer(f"the connection failed while waiting for a response: {exc}") from None

    def read(self) -> Reply:
        return parse_response(self.read_message())

    def request(self, data: bytes) -> Reply:
        self.send(data)
        return self.read()

    def readable(self, wait: float) -> bool:
        if self.buffer:
            return True
        ready, _, _ = select.select([self.sock], [], [], wait)
        return bool(ready)


def begin_connect(host: str, port: int) -> socket.socket:
    """A socket whose connect has begun and is not waited for: it becomes writable once
    the handshake is done (``SO_ERROR`` then says whether it failed). A server that serves
    one connection at a time with a short listen queue completes it only when it has
    finished with the connections before, which the caller can meanwhile read and close."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setblocking(False)
    try:
        error = sock.connect_ex((host, port))
    except OSError as exc:  # a name that does not resolve
        sock.close()
        raise NoAnswer(f"cannot connect to {host}:{port}: {exc}") from None
    if error not in (0, errno.EINPROGRESS):
        sock.close()
        raise NoAnswer(f"cannot connect to {host}:{port}: {os.strerror(error)}")
    return sock


def connect_error(sock: socket.socket) -> str | None:
    """Why a connect begun with ``begin_connect`` failed, once it is writable."""
    error = sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
    return os.strerror(error) if error else None


# -- requests, written by hand ------------------------------------------------------------


def b64(content: bytes) -> str:
    return base64.b64encode(content).decode("ascii")


def json_request(command: object, *params: object, ascii_only: bool = False) -> bytes:
    envelope = {"command": command, "params": list(params)}
    return json.dumps(envelope, ensure_ascii=ascii_only).encode("utf-8") + TERMINATOR


def text_request(command: str, *params: str | bytes, separator: bytes = b" ") -> bytes:
    """Command, then the name after a space, then (UPLOAD) the payload after ``separator``."""
    out = command.encode("utf-8")
    for index, param in enumerate(params):
        raw = param if isinstance(param, bytes) else param.encode("utf-8")
        out += (separator if index == 1 else b" ") + raw
    return out + TERMINATOR


def request(dialect: str, command: str, *params: str) -> bytes:
    if dialect == "json":
        return json_request(command, *params)
    return text_request(command, *params)


def upload_request(dialect: str, name: str, payload: str | bytes, command: str = "UPLOAD") -> bytes:
    """An UPLOAD whose payload is given as base64 text, valid or not."""
    text = payload.decode("ascii") if isinstance(payload, bytes) else payload
    if dialect == "json":
        return json_request(command, name, text)
    return text_request(command, name, text)


def upload_prefix(dialect: str, name: str) -> bytes:
    """An UPLOAD up to its payload: for requests sent in parts, or never finished."""
    if dialect == "json":
        quoted = json.dumps(name, ensure_ascii=False).encode("utf-8")
        return b'{"command": "UPLOAD", "params": [' + quoted + b', "'
    return b"UPLOAD " + name.encode("utf-8") + b" "


def upload_suffix(dialect: str) -> bytes:
    return (b'"]}' if dialect == "json" else b"") + TERMINATOR

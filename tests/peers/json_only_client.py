"""Independent conformance peer: a client that speaks only the JSON envelope dialect.

Written from the wire-protocol section of DESIGN.md alone, without looking at the
project's own client, so that the two implementations can check each other. It is
deliberately simple: each response is buffered whole (capped at MAX_RESPONSE_BYTES)
rather than streamed, because its job is to be obviously correct, not fast.

Library use::

    names = list_files("127.0.0.1", port)
    upload_file("127.0.0.1", port, "a.bin", b"hello")
    assert get_file("127.0.0.1", port, "a.bin") == b"hello"
    delete_file("127.0.0.1", port, "a.bin")

CLI::

    python tests/peers/json_only_client.py HOST:PORT list
    python tests/peers/json_only_client.py HOST:PORT get NAME OUT
    python tests/peers/json_only_client.py HOST:PORT upload PATH [NAME]
    python tests/peers/json_only_client.py HOST:PORT delete NAME
"""

from __future__ import annotations

import argparse
import base64
import binascii
import hashlib
import json
import os
import socket
import sys
from collections.abc import Sequence
from typing import Any

__all__ = [
    "MAX_RESPONSE_BYTES",
    "TERMINATOR",
    "PeerError",
    "ProtocolViolationError",
    "delete_file",
    "get_file",
    "list_files",
    "main",
    "request",
    "request_many",
    "upload_file",
]

TERMINATOR = b"\r\n\r\n"
# A 100 MiB file is ~133 MiB of base64; 512 MiB leaves headroom while still bounding
# how long a misbehaving server can keep us reading.
MAX_RESPONSE_BYTES = 512 * 1024 * 1024
_RECV_SIZE = 256 * 1024
# Upload payloads are sent in slices so a huge body never needs one more full copy.
_SEND_SLICE = 1024 * 1024
_DEFAULT_TIMEOUT = 30.0
_MAX_PORT = 65535


class PeerError(Exception):
    """The server answered with status "ERROR"; ``message`` is its ``data`` field."""

    def __init__(self, message: str, response: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.response = response


class ProtocolViolationError(Exception):
    """The server's bytes did not follow the protocol (bad framing, JSON or fields).

    Kept separate from PeerError on purpose: a conformance test must be able to tell
    "the server correctly reported an error" from "the server is broken".
    """


class _ResponseReader:
    """Splits a byte stream into terminator-delimited messages.

    The search is linear: after each recv only the new tail (plus the three bytes
    before it, in case the terminator straddles two reads) is scanned.
    """

    def __init__(self, sock: socket.socket, max_bytes: int = MAX_RESPONSE_BYTES) -> None:
        self._sock = sock
        self._max_bytes = max_bytes
        self._buf = bytearray()  # bytearray appends are amortised O(1), unlike bytes +=
        self._scan_from = 0

    def read_message(self) -> bytes:
        while True:
            end = self._buf.find(TERMINATOR, self._scan_from)
            if end != -1:
                message = bytes(self._buf[:end])
                # Keep anything after the terminator: it belongs to the next response.
                del self._buf[: end + len(TERMINATOR)]
                self._scan_from = 0
                return message
            if len(self._buf) > self._max_bytes:
                raise ProtocolViolationError(
                    f"response exceeds {self._max_bytes} bytes without a terminator"
                )
            self._scan_from = max(0, len(self._buf) - (len(TERMINATOR) - 1))
            chunk = self._sock.recv(_RECV_SIZE)  # bounded by the socket timeout
            if not chunk:
                raise ProtocolViolationError(
                    f"connection closed after {len(self._buf)} bytes, before the terminator"
                )
            self._buf += chunk


def _connect(host: str, port: int, timeout: float) -> socket.socket:
    # create_connection applies the timeout to connect and to every later send/recv.
    return socket.create_connection((host, port), timeout=timeout)


def _parse_response(raw: bytes) -> dict[str, Any]:
    try:
        obj = json.loads(raw)  # json.loads detects UTF-8 on bytes input
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ProtocolViolationError(f"response is not valid UTF-8 JSON: {exc}") from exc
    if not isinstance(obj, dict):
        raise ProtocolViolationError(f"response is JSON {type(obj).__name__}, not an object")
    return obj


def _encode_request(payload: dict[str, Any]) -> bytes:
    # A standard encoder never emits a raw CR/LF, so the terminator stays unambiguous.
    return json.dumps(payload).encode("utf-8") + TERMINATOR


def _send_and_read(
    sock: socket.socket, reader: _ResponseReader, parts: Sequence[bytes | memoryview]
) -> dict[str, Any]:
    try:
        for part in parts:
            sock.sendall(part)
    except (BrokenPipeError, ConnectionResetError):
        # The server may answer early (e.g. a bad name) and stop reading; its error
        # response, if it sent one, is more useful than our broken pipe.
        try:
            return _parse_response(reader.read_message())
        except (OSError, ProtocolViolationError):
            pass
        raise
    return _parse_response(reader.read_message())


def request(
    host: str, port: int, payload: dict[str, Any], timeout: float = _DEFAULT_TIMEOUT
) -> dict[str, Any]:
    """Send one arbitrary JSON envelope on a fresh connection and return the response.

    Does not raise on status "ERROR": callers probing error paths (unknown commands,
    bad names) want to inspect the response themselves.
    """
    return request_many(host, port, [payload], timeout)[0]


def request_many(
    host: str, port: int, payloads: list[dict[str, Any]], timeout: float = _DEFAULT_TIMEOUT
) -> list[dict[str, Any]]:
    """Send several requests on ONE connection, each only after the previous response.

    Exercises the "a connection carries one or more requests" rule. Like request(),
    returns ERROR responses rather than raising.
    """
    responses: list[dict[str, Any]] = []
    with _connect(host, port, timeout) as sock:
        reader = _ResponseReader(sock)
        for payload in payloads:
            responses.append(_send_and_read(sock, reader, [_encode_request(payload)]))
    return responses


def _check_ok(response: dict[str, Any]) -> dict[str, Any]:
    status = response.get("status")
    if status == "ERROR":
        data = response.get("data")
        raise PeerError(data if isinstance(data, str) else repr(data), response)
    if status != "OK":
        raise ProtocolViolationError(f'status must be "OK" or "ERROR", got {status!r}')
    return response


def _require_str(response: dict[str, Any], key: str) -> str:
    value = response.get(key)
    if not isinstance(value, str):
        raise ProtocolViolationError(f"OK response field {key!r} must be a string, got {value!r}")
    return value


def _b64decode(text: str) -> bytes:
    # DESIGN.md: standard alphabet, missing final padding tolerated, nothing else.
    try:
        raw = text.encode("ascii")
    except UnicodeEncodeError as exc:
        raise ProtocolViolationError(f"data_file has a non-ASCII byte at {exc.start}") from exc
    raw += b"=" * (-len(raw) % 4)
    try:
        return base64.b64decode(raw, validate=True)
    except binascii.Error as exc:
        raise ProtocolViolationError(f"data_file is not valid base64: {exc}") from exc


def list_files(host: str, port: int, timeout: float = _DEFAULT_TIMEOUT) -> list[str]:
    """LIST: the server's file names, in the order the server sent them."""
    response = _check_ok(request(host, port, {"command": "LIST", "params": []}, timeout))
    names = response.get("data")
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        raise ProtocolViolationError(f"LIST data must be a list of strings, got {names!r}")
    return names


def get_file(host: str, port: int, name: str, timeout: float = _DEFAULT_TIMEOUT) -> bytes:
    """GET: the decoded content of ``name``."""
    response = _check_ok(request(host, port, {"command": "GET", "params": [name]}, timeout))
    _require_str(response, "data_namafile")
    return _b64decode(_require_str(response, "data_file"))


def upload_file(
    host: str, port: int, name: str, content: bytes, timeout: float = _DEFAULT_TIMEOUT
) -> dict[str, Any]:
    """UPLOAD: store ``content`` as ``name``; returns the OK response object."""
    encoded = base64.b64encode(content)
    # Hand-built envelope so the (possibly huge) base64 is sent from its own buffer
    # instead of being copied again into a json.dumps string. Still valid JSON:
    # the name goes through json.dumps and base64 needs no escaping.
    head = b'{"command": "UPLOAD", "params": [' + json.dumps(name).encode("utf-8") + b', "'
    view = memoryview(encoded)
    parts: list[bytes | memoryview] = [head]
    parts.extend(view[i : i + _SEND_SLICE] for i in range(0, len(view), _SEND_SLICE))
    parts.append(b'"]}' + TERMINATOR)
    with _connect(host, port, timeout) as sock:
        response = _send_and_read(sock, _ResponseReader(sock), parts)
    _check_ok(response)
    _require_str(response, "data_namafile")
    return response


def delete_file(
    host: str, port: int, name: str, timeout: float = _DEFAULT_TIMEOUT
) -> dict[str, Any]:
    """DELETE: remove ``name``; returns the OK response object."""
    response = _check_ok(request(host, port, {"command": "DELETE", "params": [name]}, timeout))
    _require_str(response, "data_namafile")
    return response


def _parse_address(text: str) -> tuple[str, int]:
    # rpartition so "[::1]:9000" and "localhost:9000" both work.
    host, sep, port = text.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) <= _MAX_PORT:
        raise argparse.ArgumentTypeError(f"expected HOST:PORT, got {text!r}")
    return host.removeprefix("[").removesuffix("]"), int(port)


def _build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        description="JSON-envelope-only conformance client for the fileproto wire protocol."
    )
    parser.add_argument("address", type=_parse_address, help="server as HOST:PORT")
    parser.add_argument("--timeout", type=float, default=_DEFAULT_TIMEOUT)
    sub = parser.add_subparsers(dest="op", required=True)
    sub.add_parser("list", help="print file names, one per line")
    get = sub.add_parser("get", help="download NAME into OUT")
    get.add_argument("name")
    get.add_argument("out")
    up = sub.add_parser("upload", help="upload PATH, stored as NAME (default: its basename)")
    up.add_argument("path")
    up.add_argument("name", nargs="?")
    rm = sub.add_parser("delete", help="delete NAME")
    rm.add_argument("name")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _build_parser().parse_args(argv)
    host, port = args.address
    timeout: float = args.timeout
    try:
        if args.op == "list":
            for name in list_files(host, port, timeout):
                print(name)
        elif args.op == "get":
            content = get_file(host, port, args.name, timeout)
            with open(args.out, "wb") as fh:
                fh.write(content)
            digest = hashlib.sha256(content).hexdigest()
            print(f"{args.name}: {len(content)} bytes, sha256 {digest} -> {args.out}")
        elif args.op == "upload":
            with open(args.path, "rb") as fh:
                content = fh.read()
            name = args.name or os.path.basename(args.path)
            response = upload_file(host, port, name, content, timeout)
            print(f"{response['data_namafile']}: {response.get('data', 'OK')}")
        else:
            response = delete_file(host, port, args.name, timeout)
            print(f"{response['data_namafile']}: {response.get('data', 'OK')}")
    except PeerError as exc:
        print(f"server error: {exc.message}", file=sys.stderr)
        return 1
    except (ProtocolViolationError, OSError) as exc:
        # Distinct code: "the server is broken / unreachable", not "the server said no".
        print(f"failed: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())

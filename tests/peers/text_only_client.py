r"""Independent text-dialect client for the fileproto wire protocol.

Written from the "The wire protocol" section of DESIGN.md alone, so that the
project's own client and server can be checked against a second reading of the
spec. It only ever speaks the text dialect::

    LIST\r\n\r\n
    GET name\r\n\r\n
    DELETE name\r\n\r\n
    UPLOAD name <base64>\r\n\r\n      (separator=" ", the default)
    UPLOAD name\r\n<base64>\r\n\r\n  (separator="\r\n")

Every call opens one TCP connection, sends one request, reads exactly one
response (a JSON object ended by ``\r\n\r\n``) and closes.

CLI::

    python tests/peers/text_only_client.py HOST:PORT list
    python tests/peers/text_only_client.py HOST:PORT get NAME OUT  (OUT "-": stdout)
    python tests/peers/text_only_client.py HOST:PORT upload PATH [NAME]
    python tests/peers/text_only_client.py HOST:PORT delete NAME

Exit status: 0 on success, 1 when the server answered ``"status": "ERROR"``,
2 on bad usage, 3 on a transport or protocol violation.
"""

from __future__ import annotations

import argparse
import base64
import binascii
import json
import socket
import sys
from pathlib import Path
from typing import Any, NoReturn

__all__ = [
    "MAX_RESPONSE_BYTES",
    "TERMINATOR",
    "PeerError",
    "PeerProtocolError",
    "delete_file",
    "get_file",
    "list_files",
    "raw_request",
    "upload_file",
]

TERMINATOR = b"\r\n\r\n"
# A 100 MiB file is ~133 MiB of base64; 512 MiB leaves room while still
# bounding what a misbehaving server can make us buffer.
MAX_RESPONSE_BYTES = 512 * 1024 * 1024
_RECV_SIZE = 256 * 1024
# Raw slice size must be a multiple of 3 so the encoded slices concatenate
# into one valid base64 string with padding only at the very end.
_UPLOAD_SLICE = 3 * 64 * 1024
# Bytes that the text dialect treats as separators (ASCII whitespace); a name
# containing any of them cannot be expressed in this dialect.
_ASCII_WHITESPACE = frozenset(b" \t\r\n\x0b\x0c")
_SEPARATORS = (" ", "\r\n")
_EXIT_PEER_ERROR = 1
_EXIT_USAGE = 2
_EXIT_TRANSPORT = 3
_MAX_PORT = 65535


class PeerError(Exception):
    """The server answered ``"status": "ERROR"``; ``message`` is its ``data``."""

    def __init__(self, message: str, response: dict[str, Any] | None = None) -> None:
        """Keep the message and the full response for tests that inspect it."""
        super().__init__(message)
        self.message = message
        self.response: dict[str, Any] = response if response is not None else {}


class PeerProtocolError(Exception):
    """The server's reply broke the framing or the response schema."""


# --------------------------------------------------------------------------- #
# framing helpers
# --------------------------------------------------------------------------- #


def _check_timeout(timeout: float) -> None:
    # None or 0 would make socket operations block forever or never wait;
    # the spec requires every network wait to have a real timeout.
    if not isinstance(timeout, int | float) or timeout <= 0:
        msg = f"timeout must be a positive number of seconds, got {timeout!r}"
        raise ValueError(msg)


def _connect(host: str, port: int, timeout: float) -> socket.socket:
    _check_timeout(timeout)
    # create_connection applies the timeout to connect and to every later
    # send/recv on the socket.
    return socket.create_connection((host, port), timeout=timeout)


def _reject_json_constant(name: str) -> NoReturn:
    # NaN/Infinity are not JSON; a standard encoder never emits them.
    msg = f"response contains non-JSON constant {name}"
    raise PeerProtocolError(msg)


def _read_response(sock: socket.socket) -> dict[str, Any]:
    """Read up to the first terminator and parse the JSON object before it."""
    buf = bytearray()
    while True:
        room = MAX_RESPONSE_BYTES - len(buf)
        if room <= 0:
            msg = f"response exceeds {MAX_RESPONSE_BYTES} bytes without a terminator"
            raise PeerProtocolError(msg)
        chunk = sock.recv(min(_RECV_SIZE, room))
        if not chunk:
            msg = (
                f"connection closed after {len(buf)} bytes "
                "before the response terminator"
            )
            raise PeerProtocolError(msg)
        # Only the new bytes plus a 3-byte overlap can hold a terminator that
        # was not already seen: keeps the search linear in the response size.
        start = max(0, len(buf) - (len(TERMINATOR) - 1))
        buf += chunk
        end = buf.find(TERMINATOR, start)
        if end != -1:
            break
    # Anything after the terminator would be a second, unrequested response;
    # drop it rather than keep it alive.
    del buf[end:]
    try:
        text = buf.decode("utf-8")
    except UnicodeDecodeError as exc:
        msg = f"response is not valid UTF-8: {exc}"
        raise PeerProtocolError(msg) from exc
    del buf  # free the raw copy before parsing (large GET responses)
    try:
        obj = json.loads(text, parse_constant=_reject_json_constant)
    except json.JSONDecodeError as exc:
        msg = f"response is not valid JSON: {exc}"
        raise PeerProtocolError(msg) from exc
    if not isinstance(obj, dict):
        msg = f"response is a JSON {type(obj).__name__}, not an object"
        raise PeerProtocolError(msg)
    return obj


def _check_status(response: dict[str, Any]) -> dict[str, Any]:
    """Return an OK response; raise PeerError for a well-formed ERROR one."""
    status = response.get("status")
    if status == "OK":
        return response
    if status == "ERROR":
        message = response.get("data")
        if not isinstance(message, str):
            msg = f"ERROR response without a string 'data' message: {response!r}"
            raise PeerProtocolError(msg)
        raise PeerError(message, response)
    msg = f"response 'status' is {status!r}, expected 'OK' or 'ERROR'"
    raise PeerProtocolError(msg)


def _require_str(response: dict[str, Any], field: str) -> str:
    value = response.get(field)
    if not isinstance(value, str):
        msg = f"OK response field {field!r} is {value!r}, expected a string"
        raise PeerProtocolError(msg)
    return value


def _encode_name(name: str) -> bytes:
    # The text dialect splits the command line on whitespace, so an empty name
    # or one containing whitespace cannot be sent unambiguously; tests that
    # want such requests build them by hand with raw_request().
    raw = name.encode("utf-8")
    if not raw:
        msg = "the text dialect cannot express an empty name; use raw_request()"
        raise ValueError(msg)
    if any(b in _ASCII_WHITESPACE for b in raw):
        msg = (
            f"name {name!r} contains whitespace, which the text dialect cannot "
            "express; use raw_request()"
        )
        raise ValueError(msg)
    return raw


def _command(word: str, *, lowercase: bool) -> bytes:
    return (word.lower() if lowercase else word).encode("ascii")


def _simple_request(
    host: str, port: int, request: bytes, timeout: float
) -> dict[str, Any]:
    with _connect(host, port, timeout) as sock:
        sock.sendall(request)
        return _read_response(sock)


# --------------------------------------------------------------------------- #
# public API
# --------------------------------------------------------------------------- #


def raw_request(
    host: str,
    port: int,
    data: bytes,
    timeout: float,
    *,
    shutdown_write: bool = False,
) -> dict[str, Any]:
    """Send ``data`` verbatim and return the first parsed response, any status.

    ``data`` should normally include the terminator. With ``shutdown_write``
    the write side is half-closed after sending, for probing how a server
    treats a request cut off by EOF. Never raises PeerError: callers that
    send malformed requests want to inspect the ERROR response themselves.
    """
    with _connect(host, port, timeout) as sock:
        sock.sendall(data)
        if shutdown_write:
            sock.shutdown(socket.SHUT_WR)
        return _read_response(sock)


def list_files(
    host: str, port: int, timeout: float = 30.0, *, lowercase: bool = False
) -> list[str]:
    """LIST: return the server's file names (in the order the server sent)."""
    request = _command("LIST", lowercase=lowercase) + TERMINATOR
    response = _check_status(_simple_request(host, port, request, timeout))
    names = response.get("data")
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        msg = f"LIST 'data' is {names!r}, expected a list of strings"
        raise PeerProtocolError(msg)
    return names


def get_file(
    host: str, port: int, name: str, timeout: float = 30.0, *, lowercase: bool = False
) -> bytes:
    """GET: return the decoded content of ``name``."""
    request = _command("GET", lowercase=lowercase) + b" " + _encode_name(name)
    response = _check_status(_simple_request(host, port, request + TERMINATOR, timeout))
    _require_str(response, "data_namafile")
    encoded = _require_str(response, "data_file")
    del response  # drop the dict's reference so only `encoded` holds the text
    try:
        # validate=True: the server's output must be strict standard base64.
        return base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError) as exc:
        msg = f"GET 'data_file' is not valid base64: {exc}"
        raise PeerProtocolError(msg) from exc


def upload_file(
    host: str,
    port: int,
    name: str,
    content: bytes,
    timeout: float = 30.0,
    separator: str = " ",
    lowercase: bool = False,
) -> dict[str, Any]:
    r"""UPLOAD: send ``content`` as ``name``; return the OK response.

    ``separator`` between the name and the payload is a single space (default)
    or ``"\r\n"``; both are legal per the spec.
    """
    if separator not in _SEPARATORS:
        msg = f"separator must be one of {_SEPARATORS!r}, got {separator!r}"
        raise ValueError(msg)
    view = memoryview(content).cast("B")
    if separator == "\r\n" and len(view) == 0:
        # "UPLOAD n\r\n" + "" + "\r\n\r\n" puts the terminator right after the
        # name and leaves a stray "\r\n" behind: the framing would break.
        msg = "an empty upload cannot use the CRLF separator; use ' '"
        raise ValueError(msg)
    header = (
        _command("UPLOAD", lowercase=lowercase)
        + b" "
        + _encode_name(name)
        + separator.encode("ascii")
    )
    with _connect(host, port, timeout) as sock:
        try:
            sock.sendall(header)
            # Encode slice by slice so no second full-size copy of the payload
            # (a third bigger, as base64) ever exists in memory.
            for offset in range(0, len(view), _UPLOAD_SLICE):
                sock.sendall(base64.b64encode(view[offset : offset + _UPLOAD_SLICE]))
            sock.sendall(TERMINATOR)
        except (BrokenPipeError, ConnectionResetError) as send_exc:
            # The server may have answered early (e.g. a name error) and
            # closed; its response, if it reached us, is the useful part.
            try:
                response = _read_response(sock)
            except (OSError, PeerProtocolError):
                raise send_exc from None
        else:
            response = _read_response(sock)
    return _check_status(response)


def delete_file(
    host: str, port: int, name: str, timeout: float = 30.0, *, lowercase: bool = False
) -> dict[str, Any]:
    """DELETE: remove ``name``; return the OK response."""
    request = _command("DELETE", lowercase=lowercase) + b" " + _encode_name(name)
    return _check_status(_simple_request(host, port, request + TERMINATOR, timeout))


# --------------------------------------------------------------------------- #
# CLI
# --------------------------------------------------------------------------- #


def _parse_address(text: str) -> tuple[str, int]:
    # rpartition so "[::1]:9000" and "host:9000" both work.
    host, sep, port_text = text.rpartition(":")
    if not sep or not host or not port_text.isdigit():
        msg = f"expected HOST:PORT, got {text!r}"
        raise argparse.ArgumentTypeError(msg)
    port = int(port_text)
    if not 0 < port <= _MAX_PORT:
        msg = f"port out of range: {port}"
        raise argparse.ArgumentTypeError(msg)
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    return host, port


def _build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        description="Text-dialect fileproto client (independent conformance peer)."
    )
    parser.add_argument("address", type=_parse_address, help="HOST:PORT")
    parser.add_argument("--timeout", type=float, default=30.0, help="seconds per op")
    parser.add_argument(
        "--lowercase", action="store_true", help="send command names in lowercase"
    )
    parser.add_argument(
        "--crlf",
        action="store_true",
        help="upload: separate name and payload with CRLF instead of a space",
    )
    sub = parser.add_subparsers(dest="op", required=True)
    sub.add_parser("list", help="list file names")
    get = sub.add_parser("get", help="download NAME into OUT ('-' for stdout)")
    get.add_argument("name")
    get.add_argument("out")
    up = sub.add_parser("upload", help="upload PATH as NAME (default: its basename)")
    up.add_argument("path", type=Path)
    up.add_argument("name", nargs="?")
    rm = sub.add_parser("delete", help="delete NAME")
    rm.add_argument("name")
    return parser


def _run(args: argparse.Namespace) -> None:
    host, port = args.address
    timeout: float = args.timeout
    lowercase: bool = args.lowercase
    if args.op == "list":
        for name in list_files(host, port, timeout, lowercase=lowercase):
            print(name)
    elif args.op == "get":
        content = get_file(host, port, args.name, timeout, lowercase=lowercase)
        if args.out == "-":
            sys.stdout.buffer.write(content)
            sys.stdout.buffer.flush()
        else:
            Path(args.out).write_bytes(content)
    elif args.op == "upload":
        path: Path = args.path
        remote: str = args.name if args.name is not None else path.name
        response = upload_file(
            host,
            port,
            remote,
            path.read_bytes(),
            timeout,
            separator="\r\n" if args.crlf else " ",
            lowercase=lowercase,
        )
        print(json.dumps(response))
    elif args.op == "delete":
        print(
            json.dumps(delete_file(host, port, args.name, timeout, lowercase=lowercase))
        )


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; return the process exit status."""
    args = _build_parser().parse_args(argv)
    try:
        _run(args)
    except PeerError as exc:
        print(f"server error: {exc.message}", file=sys.stderr)
        return _EXIT_PEER_ERROR
    except ValueError as exc:
        print(f"usage error: {exc}", file=sys.stderr)
        return _EXIT_USAGE
    except (OSError, PeerProtocolError) as exc:
        print(f"transport error: {exc}", file=sys.stderr)
        return _EXIT_TRANSPORT
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Many clients at once against a server with ONE worker: every one is queued and served.

Only talks to the server through its socket (``conformance``): with
``--fileproto-target`` it loads someone else's server the same way.
"""

from __future__ import annotations

import errno
import json
import selectors
import socket
import time
from dataclasses import dataclass, field

import pytest

from fileproto.pytest_plugin import RunningServer

pytestmark = [pytest.mark.smoke, pytest.mark.conformance]

TERMINATOR = b"\r\n\r\n"
LIST_REQUEST = b'{"command": "LIST", "params": []}' + TERMINATOR
CONNECTIONS = 200
DEADLINE = 60.0
MAX_RESPONSE = 1 << 20


@dataclass
class _Client:
    index: int
    sock: socket.socket
    connected: bool = False
    outgoing: bytes = LIST_REQUEST
    incoming: bytearray = field(default_factory=bytearray)
    outcome: str | None = None  # "OK", or what went wrong
    response: object = None


def _finish(selector: selectors.BaseSelector, client: _Client, outcome: str) -> None:
    client.outcome = outcome
    selector.unregister(client.sock)
    client.sock.close()


def _on_writable(selector: selectors.BaseSelector, client: _Client) -> None:
    if not client.connected:
        error = client.sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
        if error:
            _finish(selector, client, f"connect failed: {errno.errorcode.get(error, error)}")
            return
        client.connected = True
    try:
        sent = client.sock.send(client.outgoing)
    except BlockingIOError:
        return
    except OSError as exc:
        _finish(selector, client, f"send failed: {exc!r}")
        return
    client.outgoing = client.outgoing[sent:]
    if not client.outgoing:
        selector.modify(client.sock, selectors.EVENT_READ, client)


def _on_readable(selector: selectors.BaseSelector, client: _Client) -> None:
    try:
        data = client.sock.recv(65536)
    except BlockingIOError:
        return
    except OSError as exc:
        _finish(selector, client, f"recv failed: {exc!r}")
        return
    if not data:
        _finish(selector, client, f"closed before an answer; got {bytes(client.incoming)!r}")
        return
    client.incoming += data
    end = client.incoming.find(TERMINATOR)
    if end < 0:
        if len(client.incoming) > MAX_RESPONSE:
            _finish(selector, client, "answer without a terminator")
        return
    try:
        client.response = json.loads(bytes(client.incoming[:end]))
    except ValueError as exc:
        _finish(selector, client, f"answer is not JSON: {exc}")
        return
    ok = isinstance(client.response, dict) and client.response.get("status") == "OK"
    _finish(selector, client, "OK" if ok else f"not OK: {client.response!r}")


@pytest.mark.parametrize("fileproto_server", ["thread:1", "process:1"], indirect=True)
def test_200_connections_at_once_all_answered(fileproto_server: RunningServer) -> None:
    address = (fileproto_server.host, fileproto_server.port)
    family = socket.AF_INET6 if ":" in fileproto_server.host else socket.AF_INET
    selector = selectors.DefaultSelector()
    clients: list[_Client] = []
    try:
        # Open every connection before reading any answer.
        for index in range(CONNECTIONS):
            sock = socket.socket(family, socket.SOCK_STREAM)
            sock.setblocking(False)
            client = _Client(index, sock)
            clients.append(client)
            error = sock.connect_ex(address)
            if error not in (0, errno.EINPROGRESS):
                client.outcome = f"connect failed: {errno.errorcode.get(error, error)}"
                sock.close()
                continue
            selector.register(sock, selectors.EVENT_WRITE, client)
        start = time.monotonic()
        while selector.get_map() and time.monotonic() - start < DEADLINE:
            for key, events in selector.select(timeout=1.0):
                client = key.data
                if events & selectors.EVENT_WRITE:
                    _on_writable(selector, client)
                elif events & selectors.EVENT_READ:
                    _on_readable(selector, client)
        elapsed = time.monotonic() - start
    finally:
        for key in list(selector.get_map().values()):
            key.fileobj.close()  # type: ignore[union-attr]
        selector.close()
    pending = [c.index for c in clients if c.outcome is None]
    assert not pending, f"{len(pending)} client(s) unanswered after {DEADLINE:.0f}s"
    failed = {c.index: c.outcome for c in clients if c.outcome != "OK"}
    assert not failed, f"{len(failed)} of {CONNECTIONS} failed: {list(failed.items())[:5]}"
    for client in clients:
        names = client.response["data"]  # type: ignore[index]
        assert isinstance(names, list) and names == sorted(names), client.response
    assert elapsed < DEADLINE

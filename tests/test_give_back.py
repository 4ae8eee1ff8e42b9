"""A pool worker is never held by a client that waits (docs/architecture.md, Dispatch).

In the readiness dispatch a worker gives a connection back, with its session, whenever
its socket would block: in the middle of a header, of a body, of a response. Each test
holds one connection in that state on a one-worker server and shows that another
client is answered meanwhile (with a one-worker pool that held the connection, that
client would wait past its timeout), that the held connection then completes
byte-exact, and, from the server's own trace (``--trace``, docs/trace.md), that it
was given back for the reason the test made. The last tests let a deadline fire
while the connection is given back: the session still judges it, without a worker.

No timings are asserted: the bounds are generous timeouts, far from what is measured.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from fileproto.pytest.servers import RunningServer, ServerPool
from fileproto.wire import TERMINATOR, encode_request
from tests.helpers import RawConnection, temp_files, wait_for
from tests.helpers.kinds import POOL_KINDS, tiered
from tests.helpers.traced import conn_of, events, given_back, traced

#: A client that is answered within this is not queued behind a held connection,
#: whose own wait (the deadlines below) is far longer.
ANSWER_TIMEOUT = 10.0
LONG = "60"  # seconds: deadlines that must not fire during a test


@contextlib.contextmanager
def one_worker(pool: ServerPool, kind: str, *args: str) -> Iterator[tuple[RunningServer, Path]]:
    with traced(pool, kind, 1, *args) as found:
        yield found


def answered_meanwhile(server: RunningServer) -> list[str]:
    """A new client's LIST, answered while the held connection waits."""
    with server.client(timeout=ANSWER_TIMEOUT) as client:
        names: list[str] = client.list()
        return names


@pytest.mark.smoke
@pytest.mark.parametrize("kind", POOL_KINDS)
def test_mid_body(fileproto_servers: ServerPool, kind: str) -> None:
    content = os.urandom(300_000)
    encoded = base64.b64encode(content)
    with one_worker(fileproto_servers, kind, "--min-rate", "1", "--header-timeout", LONG) as (
        server,
        trace,
    ):
        with RawConnection(server, timeout=ANSWER_TIMEOUT) as held:
            held.send(b"UPLOAD body.bin " + encoded[:100_001])  # mid-quantum, too
            conn = conn_of(trace, held.sock)
            assert server.root is not None
            root = server.root
            wait_for(lambda: temp_files(root), what="the upload to begin")
            wait_for(lambda: given_back(trace, conn, "read"), what="the body to be given back")
            assert answered_meanwhile(server) == []
            held.send(encoded[100_001:] + TERMINATOR)
            assert held.read()["status"] == "OK"
        assert (root / "body.bin").read_bytes() == content


@pytest.mark.parametrize("kind", tiered(POOL_KINDS))
def test_mid_header_of_a_pipelined_request(fileproto_servers: ServerPool, kind: str) -> None:
    with (
        one_worker(fileproto_servers, kind, "--header-timeout", LONG) as (server, trace),
        RawConnection(server, timeout=ANSWER_TIMEOUT) as held,
    ):
        # The worker answers LIST, then finds the next header cut short.
        held.send(encode_request("LIST") + b"LI")
        assert held.read() == {"status": "OK", "data": []}
        conn = conn_of(trace, held.sock)
        wait_for(lambda: given_back(trace, conn, "read"), what="the header to be given back")
        assert answered_meanwhile(server) == []
        held.send(b"ST" + TERMINATOR)
        assert held.read() == {"status": "OK", "data": []}


@pytest.mark.parametrize("kind", tiered(POOL_KINDS))
def test_mid_response(fileproto_servers: ServerPool, kind: str) -> None:
    content = os.urandom(12 << 20)  # far more than the socket buffers hold
    with one_worker(fileproto_servers, kind, "--send-timeout", LONG) as (server, trace):
        with server.client(timeout=30.0) as client:
            client.upload(content, "big.bin")
        sock = socket.create_connection((server.host, server.port), timeout=30.0)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 64 << 10)
            sock.sendall(encode_request("GET", "big.bin"))  # and read nothing, for now
            conn = conn_of(trace, sock)
            wait_for(lambda: given_back(trace, conn, "write"), what="the response to be given back")
            assert answered_meanwhile(server) == ["big.bin"]
            answer = bytearray()
            while not answer.endswith(TERMINATOR):
                chunk = sock.recv(1 << 20)
                assert chunk, f"closed after {len(answer)} bytes"
                answer += chunk
        finally:
            sock.close()
        body = json.loads(bytes(answer[: -len(TERMINATOR)]))
        assert base64.b64decode(body["data_file"]) == content
        # Given back and taken again: the trace shows the resumption.
        taken = [e for e in events(trace) if e["ev"] == "taken" and e["conn"] == conn]
        assert len(taken) >= 2, taken


@pytest.mark.parametrize("kind", tiered(POOL_KINDS))
def test_send_deadline_fires_while_given_back(fileproto_servers: ServerPool, kind: str) -> None:
    """A client that stops reading holds no worker while it waits, and is closed at
    --send-timeout all the same, by the dispatcher."""
    content = os.urandom(12 << 20)
    with one_worker(fileproto_servers, kind, "--send-timeout", "1") as (server, trace):
        with server.client(timeout=30.0) as client:
            client.upload(content, "big.bin")
        with socket.create_connection((server.host, server.port), timeout=30.0) as sock:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 64 << 10)
            sock.sendall(encode_request("GET", "big.bin"))
            conn = conn_of(trace, sock)
            wait_for(lambda: given_back(trace, conn, "write"), what="the response to be given back")
            assert answered_meanwhile(server) == ["big.bin"]

            def closed() -> dict[str, Any] | None:
                return next(
                    (e for e in events(trace) if e["ev"] == "closed" and e["conn"] == conn), None
                )

            wait_for(lambda: closed() is not None, what="the send deadline to close it")
            event = closed()
            assert event is not None and event["deadline"] == "send", event


@pytest.mark.parametrize("kind", tiered(POOL_KINDS))
def test_body_deadline_fires_while_given_back(fileproto_servers: ServerPool, kind: str) -> None:
    """A body that stops coming is answered and closed at its deadline, with its
    temporary file removed, while another client is served."""
    with one_worker(fileproto_servers, kind, "--header-timeout", "1") as (server, trace):
        assert server.root is not None
        root = server.root
        with RawConnection(server, timeout=ANSWER_TIMEOUT) as held:
            held.send(b"UPLOAD slow.bin QUJD")
            conn = conn_of(trace, held.sock)
            wait_for(lambda: given_back(trace, conn, "read"), what="the body to be given back")
            assert answered_meanwhile(server) == []
            answer = held.read()
            assert answer["status"] == "ERROR" and "slower than" in str(answer["data"]), answer
        wait_for(lambda: not temp_files(root), what="the partial upload to be removed")

        def closes() -> list[dict[str, Any]]:
            return [e for e in events(trace) if e["ev"] == "closed" and e["conn"] == conn]

        # The answer goes out before the server writes the close to its trace.
        wait_for(lambda: bool(closes()), what="the close to be traced")
        assert [e["deadline"] for e in closes()] == ["body"], closes()

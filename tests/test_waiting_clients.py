"""Clients that wait: idle, slowloris and parked connections, request deadlines, the
connection cap. Real servers of every kind, real sockets, no timing assertions: each
test checks what a client sees (an answer, an error, a close) within generous bounds.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import socket
import struct
import time
from collections.abc import Iterator

import pytest

from fileproto.pytest.servers import RunningServer, ServerPool
from fileproto.server.registry import MODES
from fileproto.wire import encode_request
from tests.helpers import RawConnection, log_of, read_response, skip_if_target, temp_files, wait_for
from tests.helpers.kinds import each_kind, each_mode, every_kind

LIST = encode_request("LIST")


def _skip_external(pool: ServerPool) -> None:
    skip_if_target(pool, "starts servers with options of its own")


@contextlib.contextmanager
def started(pool: ServerPool, kind: str, workers: int, *args: str) -> Iterator[RunningServer]:
    _skip_external(pool)
    server = pool.start(kind, workers, *args)
    try:
        yield server
    finally:
        assert pool.stop(server) == 0, server.process.output() if server.process else ""


def _connect(server: RunningServer) -> socket.socket:
    return socket.create_connection((server.host, server.port), timeout=20.0)


@pytest.mark.smoke
@pytest.mark.parametrize("kind", every_kind())
def test_idle_slowloris_and_parked_clients_do_not_block_one_worker(
    fileproto_servers: ServerPool, kind: str
) -> None:
    """With one worker, 100 idle connections, 20 sending a header a piece at a time and
    20 parked after a request, a new client's LIST and upload are still served."""
    with started(fileproto_servers, kind, 1) as server:
        held: list[socket.socket] = []
        try:
            held += [_connect(server) for _ in range(100)]
            slow = [_connect(server) for _ in range(20)]
            held += slow
            for sock in slow:
                sock.sendall(b"LI")
            for _ in range(20):
                conn = RawConnection(server)
                assert conn.request(LIST)["status"] == "OK"
                held.append(conn.sock)
            for sock in slow:
                sock.sendall(b"S")
            # The one worker is free for everybody else; a timeout here is the freeze.
            with server.client(timeout=20.0) as client:
                assert client.list() == []
                client.upload(b"x" * 300_000, "while-waiting.bin")
                assert client.get("while-waiting.bin").size == 300_000
                client.delete("while-waiting.bin")
            # The slowloris clients finish their header and are answered too.
            for sock in slow:
                sock.sendall(b"T\r\n\r\n")
            for sock in slow:
                assert read_response(sock)["status"] == "OK"
        finally:
            for sock in held:
                sock.close()


@pytest.mark.parametrize("mode", each_mode())
def test_header_deadline_answers_and_closes(fileproto_servers: ServerPool, mode: str) -> None:
    kind, args = MODES[mode]
    with started(fileproto_servers, kind, 1, *args, "--header-timeout", "1") as server:
        # All at once: in the classic dispatch the later ones wait for the one worker,
        # and their deadlines run all the same (from accept).
        conns = [RawConnection(server) for _ in range(3)]
        try:
            for conn, sent in zip(conns, (b"", b"GET some", b"LIST\r\n"), strict=True):
                conn.send(sent)
            for conn in conns:
                rest = conn.read_until_closed()
                assert b"request timeout: header not complete after 1 s" in rest, rest
        finally:
            for conn in conns:
                conn.sock.close()
        with server.client(timeout=20.0) as client:
            assert client.list() == []


@pytest.mark.parametrize("kind", each_kind())
def test_keepalive_deadline_closes_quietly(fileproto_servers: ServerPool, kind: str) -> None:
    args = ("--keepalive-timeout", "0.5")
    with started(fileproto_servers, kind, 1, *args) as server, RawConnection(server) as conn:
        assert conn.request(LIST)["status"] == "OK"
        assert conn.read_until_closed() == b""  # no unsolicited answer


@pytest.mark.parametrize("kind", each_kind())
def test_slow_body_deadline_answers_and_removes_the_upload(
    fileproto_servers: ServerPool, kind: str
) -> None:
    args = ("--header-timeout", "1", "--min-rate", "1M")
    with started(fileproto_servers, kind, 1, *args) as server:
        with RawConnection(server) as conn:
            conn.send(b"UPLOAD slow.bin QUJD")
            wait_for(lambda: temp_files(server.root), what="the upload's temporary file")
            for _ in range(3):  # far below 1 MiB/s
                with contextlib.suppress(OSError):
                    conn.send(b"QUJD")
                time.sleep(0.1)
            rest = conn.read_until_closed()
        assert b"slower than 1048576 bytes/s" in rest, rest
        wait_for(lambda: not temp_files(server.root), what="the temporary file removed")
        with server.client(timeout=20.0) as client:
            assert client.list() == []


@pytest.mark.parametrize("kind", each_kind())
def test_send_deadline_ends_a_client_that_does_not_read(
    fileproto_servers: ServerPool, kind: str
) -> None:
    with started(fileproto_servers, kind, 1, "--send-timeout", "0.5", "-v") as server:
        with server.client(timeout=20.0) as client:
            client.upload(b"\0" * (24 << 20), "big.bin")
        sock = _connect(server)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        try:
            sock.sendall(encode_request("GET", "big.bin"))
            peer = "{}:{}".format(*sock.getsockname()[:2])
            # Read nothing: the server's sends stall, and it gives up on this client.
            wait_for(
                lambda: f"{peer}: closing: send deadline" in log_of(server),
                what="the send deadline",
            )
        finally:
            # A reset, not a close: reading the rest through a 4 KiB window takes long.
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            sock.close()
        with server.client(timeout=20.0) as client:  # and the worker is free again
            assert client.list() == ["big.bin"]


@pytest.mark.smoke
@pytest.mark.parametrize("kind", every_kind())  # each driver counts and refuses itself
def test_connection_cap_answers_server_busy(fileproto_servers: ServerPool, kind: str) -> None:
    with started(fileproto_servers, kind, 1, "--max-connections", "3") as server:
        held = [RawConnection(server) for _ in range(3)]
        try:
            for conn in held:  # each is counted in before the next one comes
                assert conn.request(LIST)["status"] == "OK"
            with RawConnection(server) as extra:
                extra.send(LIST)
                rest = extra.read_until_closed()
            assert b"server busy: 3 connections" in rest, rest
        finally:
            for conn in held:
                conn.sock.close()
        wait_for(lambda: _try_list(server), what="a LIST answered once the others left")


def _try_list(server: RunningServer) -> bool:
    """Whether a LIST is answered OK (not 'server busy': the held ones have left)."""
    with RawConnection(server) as conn:
        return conn.request(LIST)["status"] == "OK"


@pytest.mark.smoke
@pytest.mark.parametrize("kind", every_kind())
def test_a_pipelined_header_cut_short_does_not_hold_the_worker(
    fileproto_servers: ServerPool, kind: str
) -> None:
    """A request answered, the next one's header begun and left: the one worker (or
    loop) serves others meanwhile (a process pool's worker sends the session, its
    parser's state with it, back to the parent)."""
    with started(fileproto_servers, kind, 1) as server, RawConnection(server) as held:
        assert held.request(LIST + b"LI")["status"] == "OK"
        with server.client(timeout=20.0) as client:
            assert client.list() == []
        held.send(b"ST\r\n\r\n")  # and the cut-short one is served once complete
        assert held.read()["status"] == "OK"


@pytest.mark.parametrize("kind", each_kind())
def test_a_slow_but_steady_reader_is_not_cut_off(fileproto_servers: ServerPool, kind: str) -> None:
    """--send-timeout bounds a stall, not a whole response: a client that keeps reading,
    slowly, gets all of it although that takes longer than the timeout.

    The pools' blocking send waits for room in the socket's send buffer, which the
    kernel reports only once about half of what is queued there has drained: with
    loopback's large buffers that takes this reader a few tenths of a second, more on a
    loaded machine. A 1 s timeout leaves room for that, and reading 5.3 MiB of base64 at
    this pace (85 reads, 20 ms apart) still takes longer than the timeout."""
    content = os.urandom(4 << 20)
    with started(fileproto_servers, kind, 1, "--send-timeout", "1") as server:
        with server.client(timeout=20.0) as client:
            client.upload(content, "steady.bin")
        sock = _connect(server)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 64 << 10)
            sock.sendall(encode_request("GET", "steady.bin"))
            answer = bytearray()
            started_at = time.monotonic()
            while not answer.endswith(b"\r\n\r\n"):
                chunk = sock.recv(64 << 10)
                assert chunk, f"closed after {len(answer)} bytes"
                answer += chunk
                time.sleep(0.02)  # a slow link: each pause far below the timeout
        finally:
            sock.close()
        took = time.monotonic() - started_at
        body = json.loads(bytes(answer[:-4]))
        assert base64.b64decode(body["data_file"]) == content, f"after {took:.1f} s"

"""The pools go on when a worker fails, in this process: the pool's server object with
its dispatcher stepped by the test, socket pairs for connections, no server process
(docs/architecture.md, "The server session and the dispatch modes").

A thread's turn that fails ends its connection and the next is served. A worker process
that dies: the connection it held ends (its client sees the end at once), the upload it
was writing is removed, a new worker takes its place and serves the next connection,
and an upload that waited in the parent when the worker died goes on with the new one.
"""

from __future__ import annotations

import os
import signal
import socket
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from fileproto.procinfo import forkserver_children
from fileproto.server.base import PoolServer
from fileproto.server.config import ServerConfig
from fileproto.server.processpool import ProcessPoolServer
from fileproto.server.threadpool import ThreadPoolServer
from fileproto.server.waiting import Parked
from fileproto.wire import TERMINATOR, encode_request
from fileproto.wire.names import RESERVED_PREFIX
from tests.helpers import wait_for
from tests.helpers.drivers import answers, pair, read_all, read_answer

pytestmark = pytest.mark.smoke

#: A bound on a hang (the worker's answers come in milliseconds), not a measure.
BOUND = 30.0
LIST = encode_request("LIST")


def until(server: PoolServer, done: Callable[[], bool], what: str) -> None:
    """Step the server's dispatcher until ``done``."""
    deadline = time.monotonic() + BOUND
    while not done():
        assert time.monotonic() < deadline, f"still waiting for {what}"
        server.dispatcher.step(0.05)


def temp_files(root: Path) -> list[str]:
    return [p.name for p in root.iterdir() if p.name.startswith(RESERVED_PREFIX)]


@pytest.fixture
def make_server(tmp_path: Path) -> Iterator[Callable[[type[PoolServer]], PoolServer]]:
    made: list[PoolServer] = []

    def make(kind: type[PoolServer]) -> PoolServer:
        server = kind(ServerConfig(root=str(tmp_path)), 1)
        server.start_pool()
        made.append(server)
        return server

    yield make
    for server in made:
        server.request_stop()
        server.shutdown()


def handed(server: PoolServer, sent: bytes) -> socket.socket:
    """A new connection whose request ``sent`` arrived, handed to the pool as the
    dispatcher hands it over (with its first bytes); the client's end."""
    server_end, client = pair()
    conn_id = server.register(server_end)
    assert conn_id is not None
    now = time.monotonic()
    session = server.new_session(conn_id, now)
    session.receive_data(sent, now)
    parked = Parked(conn_id, server_end, session, session.deadline, received=bytearray(sent))
    parked.accepted_at = parked.first_at = now
    server.hand_over(parked)
    return client


def test_a_threads_turn_that_fails_ends_its_connection_and_the_pool_goes_on(
    make_server: Callable[[type[PoolServer]], PoolServer], monkeypatch: pytest.MonkeyPatch
) -> None:
    server = make_server(ThreadPoolServer)

    def broken() -> list[str]:
        raise RuntimeError("the disk fell off")

    monkeypatch.setattr(server.store, "list", broken)
    failed = handed(server, LIST)
    assert read_all(failed) == b""  # ended, not left hanging
    monkeypatch.undo()
    served = handed(server, LIST)
    assert answers(read_answer(served)) == [{"status": "OK", "data": []}]


def test_a_dead_worker_process_ends_its_connection_and_is_replaced(
    make_server: Callable[[type[PoolServer]], PoolServer], tmp_path: Path
) -> None:
    server = make_server(ProcessPoolServer)
    (victim,) = forkserver_children()
    server_end, client = pair()
    conn_id = server.register(server_end)
    assert conn_id is not None
    server.serve_accepted(conn_id, server_end, time.monotonic())  # held to its end
    client.sendall(b"UPLOAD held.bin QUJD")
    wait_for(lambda: temp_files(tmp_path), BOUND, "the worker to begin the upload")
    os.kill(victim, signal.SIGKILL)
    until(server, lambda: server.open_count() == 0, "the dead worker's connection to end")
    assert read_all(client) == b""  # its client sees the end at once
    assert temp_files(tmp_path) == []  # what the dead worker was writing is gone
    (replacement,) = forkserver_children()
    assert replacement != victim
    served = handed(server, LIST)
    until(server, lambda: server.open_count() == 1 and not len(server.run_queue), "the answer")
    assert answers(read_answer(served)) == [{"status": "OK", "data": []}]


def test_an_upload_waiting_in_the_parent_outlives_the_worker_that_began_it(
    make_server: Callable[[type[PoolServer]], PoolServer], tmp_path: Path
) -> None:
    server = make_server(ProcessPoolServer)
    (first,) = forkserver_children()
    client = handed(server, b"UPLOAD kept.bin QUJD")
    # The worker begins the upload, finds the body paused and gives the session back.
    until(server, lambda: server.dispatcher.uploads_in_progress() != frozenset(), "a give-back")
    (upload,) = server.dispatcher.uploads_in_progress()
    assert upload.name.startswith(f"{RESERVED_PREFIX}{first}-")
    os.kill(first, signal.SIGKILL)
    until(server, lambda: forkserver_children() not in ([first], []), "the replacement")
    assert upload.exists(), "an upload waiting in the parent was removed with its worker"
    client.sendall(b"REVG" + TERMINATOR)
    until(server, lambda: (tmp_path / "kept.bin").exists(), "the upload to be stored")
    assert answers(read_answer(client))[0]["status"] == "OK"
    assert (tmp_path / "kept.bin").read_bytes() == b"ABCDEF"

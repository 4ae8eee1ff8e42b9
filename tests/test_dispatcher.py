"""The dispatcher in this process: socket pairs, a fake clock and a stand-in for its
server, no server process (docs/architecture.md, "The server session and the dispatch
modes", and "Deadlines").

Each deadline is judged while its connection waits here, without a worker, by the
session: the first header of a connection that has sent nothing (which until then has
no session at all), a header cut short, a body that stopped, keep-alive, and a client
that takes nothing of its answer (a slow reader, which takes a little, is not cut off).
A request that arrives is handed over with the bytes it came in.
"""

from __future__ import annotations

import contextlib
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from fileproto.server.dispatcher import Dispatcher
from fileproto.server.drive import GiveBack, drive
from fileproto.server.waiting import Parked
from fileproto.session import Close, Limits, Receive, ServerSession
from fileproto.store import FileStore
from fileproto.trace import CloseKind, Closing, Deadline
from fileproto.wire import encode_request
from tests.helpers.drivers import FakeClock, answers, pair, read_all

pytestmark = pytest.mark.smoke

LIMITS = Limits(header_timeout=20.0, keepalive_timeout=30.0, send_timeout=30.0, read_chunk=3072)


class StandIn:
    """What the dispatcher needs of its server, and what it did with each connection."""

    def __init__(self, store: FileStore, sends_first_bytes: bool) -> None:
        self.store = store
        self.listener = socket.socket()  # never listens: connections are admitted
        self.grace = 0.0
        self.tracer = None
        self.sends_first_bytes = sends_first_bytes
        self.stopping = False
        self.limits = LIMITS
        self.sessions_made = 0
        self.active: dict[int, socket.socket] = {}
        self.closed: dict[int, Close] = {}
        self.handed: list[Parked] = []

    def register(self, conn: socket.socket) -> int | None:
        conn_id = len(self.active) + len(self.closed)
        self.active[conn_id] = conn
        return conn_id

    def refuse(self, conn: socket.socket, now: float) -> None:
        raise AssertionError("no cap here")

    def open_count(self) -> int:
        return len(self.active)

    def new_session(self, conn_id: int, accepted_at: float) -> ServerSession:
        self.sessions_made += 1
        return ServerSession(self.store, self.limits, accepted_at)

    def finished(self, conn_id: int, close: Close) -> None:
        self.closed[conn_id] = close
        conn = self.active.pop(conn_id)
        conn.shutdown(socket.SHUT_RDWR)
        conn.close()

    def hand_over(self, parked: Parked) -> None:
        self.handed.append(parked)

    def serve_accepted(self, conn_id: int, conn: socket.socket, accepted_at: float) -> None:
        raise AssertionError("readiness dispatch only")


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def server(tmp_path: Path) -> Iterator[StandIn]:
    stand_in = StandIn(FileStore(tmp_path), sends_first_bytes=True)
    yield stand_in
    stand_in.listener.close()


@pytest.fixture
def dispatcher(server: StandIn, clock: FakeClock) -> Iterator[Dispatcher]:
    made = Dispatcher(server, classic=False, clock=clock)
    yield made
    made.close_waiting()


def admitted(dispatcher: Dispatcher) -> tuple[int, socket.socket]:
    """A new connection in the dispatcher: (its id, the client's end)."""
    server_end, client = pair()
    dispatcher.admit(server_end)
    return len(dispatcher.server.active) - 1, client  # type: ignore[attr-defined]


def test_a_connection_that_sent_nothing_has_no_session_until_its_deadline(
    dispatcher: Dispatcher, server: StandIn, clock: FakeClock
) -> None:
    conn, client = admitted(dispatcher)
    dispatcher.step(0.0)
    clock.advance(LIMITS.header_timeout - 0.001)
    dispatcher.step(0.0)
    assert server.sessions_made == 0 and not server.closed
    clock.advance(0.001)
    dispatcher.step(0.0)
    assert server.sessions_made == 1  # made at the deadline, to decide it
    assert server.closed[conn].deadline is Deadline.HEADER
    (answer,) = answers(read_all(client))
    assert answer["data"] == "request timeout: header not complete after 20 s"


def test_a_header_cut_short_is_answered_at_its_deadline(
    dispatcher: Dispatcher, server: StandIn, clock: FakeClock
) -> None:
    conn, client = admitted(dispatcher)
    client.sendall(b"GET so")
    dispatcher.step(1.0)
    assert server.sessions_made == 1 and not server.closed
    clock.advance(2 * LIMITS.header_timeout)
    dispatcher.step(0.0)
    assert server.closed[conn].deadline is Deadline.HEADER
    (answer,) = answers(read_all(client))
    assert "header not complete" in str(answer["data"])


def test_a_client_that_leaves_before_a_request_is_closed_by_its_session(
    dispatcher: Dispatcher, server: StandIn
) -> None:
    conn, client = admitted(dispatcher)
    client.close()
    dispatcher.step(1.0)
    assert server.closed[conn] == Close(Closing.PEER_CLOSED, CloseKind.PEER)


def test_a_request_is_handed_over_with_the_bytes_it_came_in(
    dispatcher: Dispatcher, server: StandIn, clock: FakeClock
) -> None:
    accepted_at = clock()
    _, client = admitted(dispatcher)
    clock.advance(0.5)
    client_request = encode_request("LIST")
    client.sendall(client_request)
    dispatcher.step(1.0)
    (parked,) = server.handed
    assert parked.received == client_request
    assert (parked.accepted_at, parked.first_at) == (accepted_at, accepted_at + 0.5)


def given_back(
    dispatcher: Dispatcher, server: StandIn, clock: FakeClock, sent: bytes, read: bool = True
) -> tuple[int, socket.socket, ServerSession]:
    """A connection a worker served until its socket would block (or it was idle), then
    gave back: (its id, the client's end, its session)."""
    server_end, client = pair()
    conn = server.register(server_end)
    assert conn is not None
    session = ServerSession(server.store, LIMITS, clock())
    client.sendall(sent)
    outcome = drive(server_end, session, 1 << 16, True, None, clock, clock.wait)
    assert isinstance(outcome, GiveBack)
    if read and not outcome.writing:
        client.setblocking(False)
        with contextlib.suppress(BlockingIOError):
            client.recv(1 << 20)  # the answers so far
        client.settimeout(10.0)
    dispatcher.take_back(Parked(conn, server_end, session, session.deadline), outcome.writing)
    return conn, client, session


def test_a_body_that_stopped_is_answered_at_its_deadline(
    dispatcher: Dispatcher, server: StandIn, clock: FakeClock
) -> None:
    conn, client, session = given_back(dispatcher, server, clock, b"UPLOAD slow.bin QUJD")
    upload = session.upload_path
    assert upload is not None and upload.exists()
    clock.advance(LIMITS.header_timeout)
    dispatcher.step(0.0)
    assert server.closed[conn].deadline is Deadline.BODY
    (answer,) = answers(read_all(client))
    assert "slower than 500 bytes/s" in str(answer["data"])
    assert not upload.exists()


def test_keepalive_ends_an_idle_connection_quietly(
    dispatcher: Dispatcher, server: StandIn, clock: FakeClock
) -> None:
    conn, client, _ = given_back(dispatcher, server, clock, encode_request("LIST"))
    clock.advance(LIMITS.keepalive_timeout)
    dispatcher.step(0.0)
    assert server.closed[conn].deadline is Deadline.KEEP_ALIVE
    assert read_all(client) == b""  # no unsolicited answer


def _waiting_to_send(
    dispatcher: Dispatcher, server: StandIn, clock: FakeClock, tmp_path: Path
) -> tuple[int, socket.socket]:
    (tmp_path / "big.bin").write_bytes(b"x" * (4 << 20))
    conn, client, session = given_back(
        dispatcher, server, clock, encode_request("GET", "big.bin"), read=False
    )
    assert not isinstance(session.next_action(clock()), Receive)  # mid-response
    return conn, client


def test_a_client_that_takes_nothing_is_ended_at_the_send_deadline(
    dispatcher: Dispatcher, server: StandIn, clock: FakeClock, tmp_path: Path
) -> None:
    conn, _ = _waiting_to_send(dispatcher, server, clock, tmp_path)
    clock.advance(LIMITS.send_timeout)
    dispatcher.step(0.0)
    assert server.closed[conn].deadline is Deadline.SEND


def test_a_slow_reader_is_not_ended_at_the_send_deadline(
    dispatcher: Dispatcher, server: StandIn, clock: FakeClock, tmp_path: Path
) -> None:
    conn, client = _waiting_to_send(dispatcher, server, clock, tmp_path)
    for _ in range(3):  # a little each time: too little for the kernel to report room
        assert client.recv(4096)
        clock.advance(LIMITS.send_timeout)
        dispatcher.step(0.0)
        assert conn not in server.closed and not server.handed
    clock.advance(LIMITS.send_timeout)  # and now it stops reading
    dispatcher.step(0.0)
    assert server.closed[conn].deadline is Deadline.SEND


def test_room_to_send_hands_the_connection_over(
    dispatcher: Dispatcher, server: StandIn, clock: FakeClock, tmp_path: Path
) -> None:
    conn, client = _waiting_to_send(dispatcher, server, clock, tmp_path)
    client.settimeout(1.0)
    for _ in range(100):  # the client reads what is queued: then there is room
        if server.handed:
            break
        with contextlib.suppress(TimeoutError):
            client.recv(1 << 20)
        dispatcher.step(0.0)
    (parked,) = server.handed
    assert parked.conn_id == conn and parked.writing

"""The worker's driver in this process: socket pairs and a fake clock, no server process
(docs/architecture.md, "The server session and the dispatch modes").

Each way a worker gives a connection back (in the middle of a header, of a body, of a
response, and idle between requests), the pace rule that keeps a fast client while no
other connection waits for a worker, and the classic driver's send deadline, which a
slow reader never meets and a stalled one does.
"""

from __future__ import annotations

import base64
import json
import os
import socket
import threading
from collections.abc import Callable
from pathlib import Path

import pytest

from fileproto.server.drive import GiveBack, Outcome, drive, given_back_fields
from fileproto.server.policy import FAST_HOLD, HOLD
from fileproto.session import Close, Limits, ServerSession, State
from fileproto.store import FileStore
from fileproto.trace import Deadline, Why
from fileproto.wire import TERMINATOR, encode_request
from tests.helpers.drivers import FakeClock, answers, pair, read_answer

pytestmark = pytest.mark.smoke

#: Small pieces, so a response outgrows a socket pair's buffers quickly.
LIMITS = Limits(read_chunk=3 * 1024, send_timeout=30.0)
OK_EMPTY = {"status": "OK", "data": []}


@pytest.fixture
def store(tmp_path: Path) -> FileStore:
    return FileStore(tmp_path)


def run(
    sock: socket.socket,
    session: ServerSession,
    clock: FakeClock,
    someone_waits: Callable[[], bool] | None = None,
    give_back: bool = True,
    wait: Callable[[int, bool, float], bool] | None = None,
) -> Outcome:
    return drive(sock, session, 1 << 16, give_back, someone_waits, clock, wait or clock.wait)


def test_given_back_mid_header_then_idle(store: FileStore) -> None:
    server, client = pair()
    clock = FakeClock()
    session = ServerSession(store, LIMITS, clock())
    client.sendall(encode_request("LIST") + b"LI")  # one request, and the next cut short
    outcome = run(server, session, clock)
    assert isinstance(outcome, GiveBack) and outcome.writing is False
    assert given_back_fields(session, outcome)["why"] is Why.READ
    assert session.state is State.RECEIVING_HEADER
    assert answers(read_answer(client)) == [OK_EMPTY]
    client.sendall(b"ST" + TERMINATOR)
    outcome = run(server, session, clock)
    assert answers(read_answer(client)) == [OK_EMPTY]
    assert isinstance(outcome, GiveBack) and outcome.writing is False
    assert given_back_fields(session, outcome)["why"] is Why.IDLE


def test_given_back_mid_body_then_stored(store: FileStore, tmp_path: Path) -> None:
    server, client = pair()
    clock = FakeClock()
    session = ServerSession(store, LIMITS, clock())
    client.sendall(b"UPLOAD body.bin QUJD")
    outcome = run(server, session, clock)
    assert isinstance(outcome, GiveBack) and outcome.writing is False
    assert given_back_fields(session, outcome)["why"] is Why.READ
    assert session.state is State.RECEIVING_BODY
    assert session.upload_path is not None and session.upload_path.exists()
    client.sendall(b"REVG" + TERMINATOR)
    outcome = run(server, session, clock)
    assert answers(read_answer(client))[0]["status"] == "OK"
    assert (tmp_path / "body.bin").read_bytes() == b"ABCDEF"
    assert given_back_fields(session, outcome)["why"] is Why.IDLE


def test_given_back_mid_response_then_sent_whole(store: FileStore, tmp_path: Path) -> None:
    content = os.urandom(1 << 20)  # far more than a socket pair's buffers hold
    (tmp_path / "big.bin").write_bytes(content)
    server, client = pair()
    clock = FakeClock()
    session = ServerSession(store, LIMITS, clock())
    client.sendall(encode_request("GET", "big.bin"))  # and reads nothing, for now
    outcome = run(server, session, clock)
    assert isinstance(outcome, GiveBack) and outcome.writing is True
    assert given_back_fields(session, outcome)["why"] is Why.WRITE
    assert session.state is State.SENDING_RESPONSE
    received: list[bytes] = []
    reader = threading.Thread(target=lambda: received.append(read_answer(client)))
    reader.start()
    for _ in range(10_000):  # given back and taken again until the answer is out
        outcome = run(server, session, clock)
        if isinstance(outcome, GiveBack) and not outcome.writing:
            break
    reader.join(10)
    assert given_back_fields(session, outcome)["why"] is Why.IDLE
    body = json.loads(received[0][: -len(TERMINATOR)])
    assert base64.b64decode(body["data_file"]) == content


def test_idle_between_requests_is_given_back_at_once(store: FileStore) -> None:
    server, client = pair()
    clock = FakeClock()
    session = ServerSession(store, LIMITS, clock())
    client.sendall(encode_request("LIST"))
    outcome = run(server, session, clock)
    assert answers(read_answer(client)) == [OK_EMPTY]
    assert given_back_fields(session, outcome)["why"] is Why.IDLE  # type: ignore[arg-type]
    assert session.served == 1
    assert clock.waited == []  # no hold: the next request may be far off


@pytest.mark.parametrize("waits", [True, False], ids=["someone-waits", "nobody-waits"])
def test_a_fast_client_is_kept_only_while_nobody_waits(store: FileStore, waits: bool) -> None:
    """A client that just began is fast: held FAST_HOLD, then given back if another
    connection waits for a worker; kept if none does, until its pace falls."""
    server, client = pair()
    clock = FakeClock()
    session = ServerSession(store, LIMITS, clock())
    client.sendall(b"UPLOAD fast.bin QUJD")
    outcome = run(server, session, clock, someone_waits=lambda: waits)
    assert isinstance(outcome, GiveBack) and outcome.writing is False
    if waits:
        assert clock.waited == [FAST_HOLD]
    else:  # kept past its first hold, then given back once its pace is slow
        assert clock.waited[0] == FAST_HOLD and len(clock.waited) > 1
        assert clock.waited[-1] == HOLD


def _stalled_get(store: FileStore, tmp_path: Path) -> tuple[socket.socket, socket.socket]:
    (tmp_path / "big.bin").write_bytes(os.urandom(4 << 20))
    server, client = pair()
    client.sendall(encode_request("GET", "big.bin"))
    return server, client


def test_classic_driver_ends_a_stalled_reader_at_the_send_deadline(
    store: FileStore, tmp_path: Path
) -> None:
    server, _client = _stalled_get(store, tmp_path)  # kept open: it reads nothing
    clock = FakeClock()
    started = clock()
    session = ServerSession(store, LIMITS, started)
    outcome = run(server, session, clock, give_back=False)
    assert isinstance(outcome, Close) and outcome.deadline is Deadline.SEND
    assert clock() - started == pytest.approx(LIMITS.send_timeout)


def test_classic_driver_keeps_a_slow_reader(store: FileStore, tmp_path: Path) -> None:
    """A reader that takes a little during each wait (too little for the kernel to say
    there is room) is slow, not stalled: each wait restarts the send deadline. Once it
    stops reading, the deadline ends it."""
    server, client = _stalled_get(store, tmp_path)
    clock = FakeClock()
    reads = 3

    def wait(fd: int, writing: bool, timeout: float) -> bool:
        nonlocal reads
        if reads and writing:
            reads -= 1
            assert client.recv(4096)
        return clock.wait(fd, writing, timeout)

    started = clock()
    session = ServerSession(store, LIMITS, started)
    outcome = run(server, session, clock, give_back=False, wait=wait)
    assert isinstance(outcome, Close) and outcome.deadline is Deadline.SEND
    assert reads == 0
    assert clock() - started == pytest.approx(4 * LIMITS.send_timeout)

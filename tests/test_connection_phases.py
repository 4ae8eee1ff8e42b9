"""The phases of a connection from its trace events (fileproto/report/connections.py,
docs/trace.md "A trace read on its own"): the event orders each dispatch writes, given
by hand so that every rule is seen to hold."""

from __future__ import annotations

from typing import Any

import pytest

from fileproto.report.connections import ConnectionPhases, connection_phases, connections
from fileproto.report.phases import (
    CLIENT_READING,
    CLIENT_SENDING,
    IDLE,
    QUEUED,
    SERVED,
    WAITING_TO_CONNECT,
)
from fileproto.trace import ServerEvent

pytestmark = pytest.mark.smoke


def _events(*rows: tuple[Any, ...]) -> list[ServerEvent]:
    """(at, ev, extra keys) rows of one connection, "7"."""
    out = []
    for at, ev, *rest in rows:
        extra: dict[str, Any] = dict(rest[0]) if rest else {}
        worker, peer = extra.pop("worker", None), extra.pop("peer", None)
        out.append(ServerEvent(at, "7", ev, worker, peer, extra))
    return out


def _seconds(conn: ConnectionPhases) -> dict[str, float]:
    return {p: round(s, 6) for p, s in conn.seconds.items() if round(s, 6)}


def test_the_readiness_dispatch_a_slow_reader() -> None:
    conn = connection_phases(_events(
        (1.0, "accepted", {"peer": "127.0.0.1:5000", "accept_wait_s": 0.5}),
        (1.1, "header", {"cmd": "GET"}),
        (1.2, "taken", {"worker": "thread:1"}),
        (1.5, "given_back", {"why": "write", "waited_s": 0.1}),
        (4.5, "ready", {"writing": True}),
        (4.6, "taken", {"worker": "thread:2"}),
        (5.0, "response", {"cmd": "GET", "status": "OK"}),
        (5.0, "given_back", {"why": "idle", "waited_s": 0.0}),
        (7.0, "closed", {"reason": "peer closed", "deadline": None}),
    ))  # fmt: skip
    assert conn.start == 0.5 and conn.total_s == pytest.approx(6.5)
    # Accepted to header: the client sending its request (its first); the hold before
    # the give-back: waiting for the client to read, as the give-back's wait.
    assert _seconds(conn) == {
        WAITING_TO_CONNECT: 0.5, CLIENT_SENDING: 0.1, QUEUED: 0.2, SERVED: 0.6,
        CLIENT_READING: 3.1, IDLE: 2.0,
    }  # fmt: skip
    (request,) = conn.requests
    assert (request.cmd, request.status) == ("GET", "OK")
    # Its time runs from the connection's start to its answer; the idle end is the
    # connection's alone.
    assert request.total_s == pytest.approx(4.5) and conn.workers == ("thread:1", "thread:2")


def test_the_classic_dispatch_a_slow_sender_and_its_waits_inside_the_worker() -> None:
    conn = connection_phases(_events(
        (1.0, "accepted", {"accept_wait_s": 0.0}),
        (3.0, "taken", {"worker": "thread:0"}),
        (3.5, "waited", {"why": "idle", "waited_s": 0.5}),
        (3.5, "header", {"cmd": "UPLOAD"}),
        (4.0, "waited", {"why": "read", "waited_s": 0.4}),
        (6.0, "waited", {"why": "read", "waited_s": 1.5}),
        (6.2, "response", {"cmd": "UPLOAD", "status": "OK"}),
        (6.3, "waited", {"why": "idle", "waited_s": 0.1}),
        (6.3, "closed", {"reason": "peer closed", "deadline": None, "last_sent_s": 0.1}),
    ))  # fmt: skip
    # Queued from accept to the worker; the wait for the first request is the
    # client's sending; the waits inside the body too.
    assert _seconds(conn) == {QUEUED: 2.0, CLIENT_SENDING: 2.4, SERVED: 0.8, IDLE: 0.1}
    assert conn.given_back == 0 and conn.requests[0].total_s == pytest.approx(6.2 - 1.0)


def test_an_answer_left_in_the_buffers_is_the_client_reading_until_the_last_byte_left() -> None:
    conn = connection_phases(_events(
        (0.0, "accepted", {"accept_wait_s": 0.0}),
        (0.0, "taken", {"worker": "loop:9"}),
        (0.0, "header", {"cmd": "GET"}),
        (0.1, "response", {"cmd": "GET", "status": "OK"}),
        (0.1, "buffered", {"bytes": 4_000_000}),
        (2.0, "waited", {"why": "idle", "waited_s": 1.9}),
        (2.0, "closed", {"reason": "peer closed", "deadline": None, "last_sent_s": 0.5}),
    ))  # fmt: skip
    # The server's last byte left at 1.5 s: until then the client was taking the
    # answer; then it only took its time to close.
    assert _seconds(conn) == {SERVED: 0.1, CLIENT_READING: 1.4, IDLE: 0.5}
    assert conn.requests[0].seconds[CLIENT_READING] == pytest.approx(1.4)


def test_between_requests_idle_and_a_buffered_answer_read_before_the_next_one() -> None:
    conn = connection_phases(_events(
        (0.0, "accepted", {"accept_wait_s": 0.0}),
        (0.0, "header", {"cmd": "LIST"}),
        (0.0, "taken", {"worker": "thread:1"}),
        (0.1, "response", {"cmd": "LIST", "status": "OK"}),
        (0.1, "given_back", {"why": "idle"}),
        (1.1, "header", {"cmd": "GET"}),
        (1.1, "taken", {"worker": "thread:1"}),
        (1.2, "response", {"cmd": "GET", "status": "OK"}),
        (1.2, "buffered", {"bytes": 1000}),
        (1.2, "given_back", {"why": "idle"}),
        (1.7, "header", {"cmd": "DELETE"}),
        (1.7, "taken", {"worker": "thread:1"}),
        (1.8, "response", {"cmd": "DELETE", "status": "ERROR"}),
        (1.8, "closed", {"reason": "peer closed", "deadline": None}),
    ))  # fmt: skip
    assert _seconds(conn) == {SERVED: 0.3, IDLE: 1.0, CLIENT_READING: 0.5}
    assert [(r.cmd, r.status) for r in conn.requests] == [
        ("LIST", "OK"), ("GET", "OK"), ("DELETE", "ERROR")]  # fmt: skip
    assert [round(r.total_s, 6) for r in conn.requests] == [0.1, 0.6, 0.1]


def test_a_header_deadline_before_any_request_is_the_client_not_sending() -> None:
    conn = connection_phases(_events(
        (0.0, "accepted", {"accept_wait_s": 0.01}),
        (20.0, "closed", {"reason": "header deadline", "deadline": "header"}),
    ))  # fmt: skip
    assert _seconds(conn) == {WAITING_TO_CONNECT: 0.01, CLIENT_SENDING: 20.0}
    assert conn.deadline == "header" and conn.requests == []


def test_a_connection_that_never_asked_is_idle() -> None:
    conn = connection_phases(_events(
        (0.0, "accepted", {}),
        (3.0, "closed", {"reason": "peer closed", "deadline": None}),
    ))  # fmt: skip
    assert _seconds(conn) == {IDLE: 3.0}
    assert not conn.accept_wait_known and conn.as_dict()["accept_wait_s"] is None


def test_refused_and_still_open_connections() -> None:
    stream = [
        {"at": 0.0, "conn": "refused-1-0", "ev": "refused", "peer": "127.0.0.1:9",
         "accept_wait_s": 0.2, "reason": "server busy"},
        {"at": 0.0, "conn": "1", "ev": "accepted", "peer": "127.0.0.1:10", "accept_wait_s": 0.0},
        {"at": 0.1, "conn": "1", "ev": "taken", "worker": "thread:1"},
        {"at": 0.1, "conn": "1", "ev": "header", "cmd": "GET"},
        {"at": 0.5, "conn": "2", "ev": "accepted", "peer": "127.0.0.1:11"},
        {"at": 0.6, "conn": "2", "ev": "closed", "reason": "peer closed", "deadline": None},
        "not an event",
    ]  # fmt: skip
    found = {c.conn: c for c in connections(e for e in stream if isinstance(e, dict))}
    refused = found["refused-1-0"]
    assert refused.refused and _seconds(refused) == {WAITING_TO_CONNECT: 0.2}
    still = found["1"]
    # Counted to the trace's last event, in the phase it was in.
    assert still.open and still.end == pytest.approx(0.6)
    assert _seconds(still) == {QUEUED: 0.1, SERVED: 0.5}


def test_a_connection_id_used_again_by_a_later_run_is_a_new_connection() -> None:
    stream = [
        {"at": 0.0, "conn": "0", "ev": "accepted", "peer": "127.0.0.1:10"},
        {"at": 1.0, "conn": "0", "ev": "closed", "reason": "peer closed"},
        {"at": 1.0, "conn": "0", "ev": "waited", "why": "idle", "waited_s": 0.5},
        {"at": 5.0, "conn": "0", "ev": "accepted", "peer": "127.0.0.1:20"},
        {"at": 6.0, "conn": "0", "ev": "closed", "reason": "peer closed"},
    ]  # fmt: skip
    found = list(connections(stream))
    # A line written after its connection's close is not a connection of its own.
    assert [(c.peer, c.total_s) for c in found] == [("127.0.0.1:10", 1.0), ("127.0.0.1:20", 1.0)]

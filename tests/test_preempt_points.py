"""A preemption at each point of a request (mid-header, mid-body, mid-response) in each
pool's turn (a pool thread's ``next_turn``, a worker process's ``serve``, here in this
process with socket pairs): the connection is given back when its quantum is over and a
shorter one waits, the trace says why, it goes straight back to the run queue behind the
shorter one, and the request then completes whole (docs/architecture.md, "Scheduling").
"""

from __future__ import annotations

import base64
import functools
import json
import os
import socket
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from fileproto.server import handoff, policy, worker
from fileproto.server.config import ServerConfig
from fileproto.server.drive import GiveBack, drive
from fileproto.server.handoff import SOCKET, Handoff, Job
from fileproto.server.policy import (
    EMPTY,
    QUANTUM,
    Quantum,
    RunQueue,
    Waiting,
)
from fileproto.server.threadpool import ThreadPoolServer
from fileproto.server.tracer import open_tracer
from fileproto.server.waiting import Parked
from fileproto.session import Limits, ServerSession, State
from fileproto.store import FileStore
from fileproto.trace import Preemption
from fileproto.wire import TERMINATOR, encode_request
from tests.helpers.drivers import pair, read_answer
from tests.helpers.schedule import Conn

pytestmark = pytest.mark.smoke

#: Small pieces, so that every request takes many.
LIMITS = Limits(read_chunk=3 * 1024, send_timeout=30.0)
RECV = 64


# -- preemption at each point of a request, in each pool ---------------------------------

#: Where a request is when its quantum ends: the bytes that came first, the rest sent
#: after, and the session's state when it is given back.
POINTS = {
    "mid-header": State.RECEIVING_HEADER,
    "mid-body": State.RECEIVING_BODY,
    "mid-response": State.SENDING_RESPONSE,
}
CONTENT = os.urandom(192 * 1024)
#: Bytes the client sends before the turn: several pieces.
AHEAD = 8 * RECV
BODY = base64.b64encode(CONTENT)


def request_of(point: str) -> tuple[bytes, bytes]:
    """(what the first take carries, what the client sends after it)."""
    if point == "mid-header":
        # JSON may hold white space: a header of many pieces.
        header = b'{"command": ' + b" " * 400 + b'"LIST", "params": []}' + TERMINATOR
        return header[:4], header[4:]
    if point == "mid-body":
        return b"UPLOAD up.bin " + BODY[:100], BODY[100:] + TERMINATOR
    return encode_request("GET", "big.bin"), b""


def config_for(tmp_path: Path, trace: Path) -> ServerConfig:
    return ServerConfig(
        str(tmp_path / "root"), limits=LIMITS, recv_size=RECV, schedule="mlfq", trace=str(trace)
    )


def a_shorter_one_waits(queue: RunQueue[Any]) -> None:
    """A new request waits for a worker (level 0, after the one being served)."""
    queue.push(Conn("list"))


class Turns:
    """The pool's executor, recording the turns it is asked for instead of running them."""

    def __init__(self) -> None:
        self.submitted: list[object] = []

    def submit(self, call: object) -> None:
        self.submitted.append(call)


def thread_turn(config: ServerConfig, sock: socket.socket, first: bytes) -> ServerSession:
    """A pool thread's turn (``next_turn``) with the connection whose server end is
    ``sock``, while a new request waits; returns the session it gave back."""
    server = ThreadPoolServer(config, 1)
    server.executor = Turns()  # type: ignore[assignment]
    try:
        now = time.monotonic()
        session = server.new_session(0, now)
        session.receive_data(first, now)
        parked = Parked(0, sock, session, session.deadline)
        server.run_queue.push(parked)
        parked.service.attained = QUANTUM  # a long transfer (its quantum here is zero)
        a_shorter_one_waits(server.run_queue)
        server.next_turn()
        assert parked.service.attained > 0
        # Back in the run queue at once, after the one that was to run first.
        assert [getattr(c, "name", c) for c in server.run_queue] == ["list", parked]
        assert len(server.executor.submitted) == 1  # type: ignore[attr-defined]
        return session
    finally:
        server.listener.close()


def process_turn(config: ServerConfig, sock: socket.socket, first: bytes) -> ServerSession:
    """A worker process's turn (``worker.serve``, in this process) with the connection
    whose server end is ``sock``, as the first take hands it over while a new request
    waits; returns the session it sends back."""
    queue: RunQueue[Any] = RunQueue(schedule="mlfq")
    a_shorter_one_waits(queue)
    # Its place: it came first (after a quantum it is long all the same).
    now = time.monotonic()
    fds = {SOCKET: os.dup(sock.fileno())}
    record = Handoff(Job.FIRST, 0, fds, first, accepted_at=now, first_at=now, seq=0)
    store = FileStore(config.root)
    reply = worker.serve(record, store, config, open_tracer(config.trace), queue.waiting)
    assert reply.job is Job.GIVEN_BACK
    session = reply.session()
    session.adopt(store, reply.fds, None)
    return session


TURNS = {"thread": thread_turn, "process": process_turn}


@pytest.mark.parametrize("point", POINTS)
@pytest.mark.parametrize("pool", TURNS)
def test_preempted_at_each_point_of_a_request(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, pool: str, point: str
) -> None:
    # A quantum of zero: the turn is over after its second piece (the quantum's own
    # threshold is tested above); the rest is the pools' real turn.
    zero = functools.partial(Quantum, quantum=0.0)
    monkeypatch.setattr("fileproto.server.base.Quantum", zero)
    monkeypatch.setattr("fileproto.server.worker.Quantum", zero)
    trace = tmp_path / "trace.jsonl"
    config = config_for(tmp_path, trace)
    os.makedirs(config.root)
    (Path(config.root) / "big.bin").write_bytes(CONTENT)
    server_end, client = pair()
    first, rest = request_of(point)
    # Several pieces are there before the turn: it never waits for the client.
    client.sendall(rest[:AHEAD])
    session = TURNS[pool](config, server_end, first)
    sender = threading.Thread(target=client.sendall, args=(rest[AHEAD:],))
    sender.start()
    assert session.state is POINTS[point]
    given = [json.loads(line) for line in trace.read_text().splitlines()]
    preempted = [e for e in given if e["ev"] == "given_back"]
    assert len(preempted) == 1 and preempted[0]["preempted"] == Preemption.SHORTER
    # Nothing lost: the request then completes whole in the next turns.
    received: list[bytes] = []
    reader = threading.Thread(target=lambda: received.append(read_answer(client)))
    reader.start()
    for _ in range(10_000):  # turns (each waits for the client a moment) until answered
        outcome = drive(server_end, session, RECV, True)
        if isinstance(outcome, GiveBack) and session.idle:
            break
    reader.join(10)
    sender.join(10)
    answer = json.loads(received[0][: -len(TERMINATOR)])
    assert answer["status"] == "OK"
    if point == "mid-body":
        assert (Path(config.root) / "up.bin").read_bytes() == CONTENT
    if point == "mid-response":
        assert base64.b64decode(answer["data_file"]) == CONTENT
    client.close()
    server_end.close()


def test_the_quantum_of_a_fifo_server_is_none(tmp_path: Path) -> None:
    config = ServerConfig(str(tmp_path), schedule="fifo")
    server = ThreadPoolServer(config, 1)
    try:
        assert server.quantum(0) is None
        assert policy.preemptive("mlfq") and not policy.preemptive("fifo")
    finally:
        server.listener.close()


def test_a_record_carries_the_request_s_place_to_the_worker() -> None:
    parent, child = socket.socketpair()
    with parent, child:
        handoff.send(parent, Handoff(Job.FIRST, 3, payload=b"x", seq=41))
        record = handoff.receive(child)
    assert record is not None and record.seq == 41


def test_waiting_cells_default() -> None:
    assert Waiting().head() == EMPTY

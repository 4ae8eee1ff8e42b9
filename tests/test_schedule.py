"""The pools' schedule in this process: the run queue's order, the quantum, and a
preemption at each point of a request in each pool, with socket pairs (docs/architecture.md,
"Scheduling").

- mlfq: a connection with less than a quantum of service runs before a long transfer;
  long transfers run in arrival order; the first long transfer in line is passed over
  at most STARVATION_BOUND times in a row; fifo stays first come, first served; rr puts
  a connection given back behind those waiting.
- A quantum never gives back while nobody waits, nor before it is over.
- Each pool's turn (a pool thread's ``next_turn``, a worker process's ``serve``) gives
  a connection back mid-header, mid-body and mid-response when its quantum is over and a
  shorter connection waits; the trace says why, and the request then completes whole.
"""

from __future__ import annotations

import base64
import functools
import json
import os
import socket
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from fileproto.server import handoff, policy, worker
from fileproto.server.config import ServerConfig
from fileproto.server.drive import GiveBack, drive
from fileproto.server.handoff import SOCKET, Handoff, Job
from fileproto.server.policy import (
    EMPTY,
    FIRST_QUANTUM,
    LONG,
    NEW,
    QUANTUM,
    STARVATION_BOUND,
    Quantum,
    RunQueue,
    Service,
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

pytestmark = pytest.mark.smoke

#: Small pieces, so that every request takes many.
LIMITS = Limits(read_chunk=3 * 1024, send_timeout=30.0)
RECV = 64


@dataclass(eq=False)
class Conn:
    """A connection as the run queue sees it."""

    name: str
    served: int = 0
    service: Service = field(default_factory=Service)
    short: bool = False


def drain(queue: RunQueue[Conn]) -> list[str]:
    names = []
    while (item := queue.pop()) is not None:
        names.append(item.name)
    return names


def served_for(conn: Conn, seconds: float) -> Conn:
    conn.service.attained += seconds
    return conn


# -- the run queue ----------------------------------------------------------------------


def test_mlfq_runs_a_new_request_before_long_transfers_and_those_in_arrival_order() -> None:
    queue: RunQueue[Conn] = RunQueue(schedule="mlfq")
    a, b, c = Conn("a"), Conn("b"), Conn("c")
    for conn in (a, b, c):
        queue.push(conn)
    assert drain(queue) == ["a", "b", "c"]
    # Each had a quantum, and was given back in the order c, a, b; a new request came.
    for conn in (c, a, b):
        queue.push(served_for(conn, QUANTUM))
    queue.push(Conn("list"))
    assert drain(queue) == ["list", "a", "b", "c"]


def test_mlfq_a_slow_request_with_little_service_keeps_its_priority() -> None:
    queue: RunQueue[Conn] = RunQueue(schedule="mlfq")
    long, slow = Conn("long"), Conn("slow")
    queue.push(long)
    queue.push(slow)
    drain(queue)
    queue.push(served_for(long, 5 * QUANTUM))
    queue.push(served_for(slow, FIRST_QUANTUM / 4))  # given back mid-body, then ready again
    assert drain(queue) == ["slow", "long"]


def test_mlfq_runs_a_request_that_asks_little_before_new_transfers() -> None:
    queue: RunQueue[Conn] = RunQueue(schedule="mlfq")
    for i in range(3):
        queue.push(Conn(f"upload{i}"))
    queue.push(Conn("list", short=True))
    queue.push(Conn("delete", short=True))
    assert drain(queue) == ["list", "delete", "upload0", "upload1", "upload2"]


def test_a_new_request_on_the_same_connection_starts_again() -> None:
    queue: RunQueue[Conn] = RunQueue(schedule="mlfq")
    first, other = Conn("first"), Conn("other")
    queue.push(first)
    queue.push(other)
    drain(queue)
    queue.push(served_for(other, 2 * QUANTUM))
    first.served = 1  # its long request is over; the next one has had no service
    queue.push(served_for(first, 2 * QUANTUM))
    assert first.service.attained == 0.0
    assert drain(queue) == ["first", "other"]


def test_starvation_bound_the_first_long_transfer_is_passed_over_at_most_the_bound() -> None:
    """However many new requests keep coming, a long transfer that was taken once runs
    again after at most STARVATION_BOUND of them (each runs at most its first quantum
    before it yields to the earlier transfer: the quantum tests below)."""
    queue: RunQueue[Conn] = RunQueue(schedule="mlfq")
    long = Conn("long")
    queue.push(long)
    assert queue.pop() is long
    queue.push(served_for(long, QUANTUM))  # preempted
    passed = 0
    for i in range(10 * STARVATION_BOUND):
        queue.push(Conn(f"new{i}"))
        item = queue.pop()
        assert item is not None
        if item is long:
            break
        passed += 1
    assert passed == STARVATION_BOUND


def test_fifo_is_first_come_first_served_whatever_the_service() -> None:
    queue: RunQueue[Conn] = RunQueue(schedule="fifo")
    conns = [served_for(Conn(f"c{i}"), QUANTUM * (5 - i)) for i in range(5)]
    for conn in conns:
        queue.push(conn)
    queue.push(Conn("new"))
    assert drain(queue) == ["c0", "c1", "c2", "c3", "c4", "new"]
    # One given back goes behind those waiting; one never taken keeps its turn.
    for conn in conns[:4]:
        queue.push(conn)
    queue.push_front(conns[4])
    assert drain(queue) == ["c4", "c0", "c1", "c2", "c3"]


def test_rr_puts_a_connection_given_back_behind_those_waiting() -> None:
    queue: RunQueue[Conn] = RunQueue(schedule="rr")
    a, b = Conn("a"), Conn("b")
    queue.push(a)
    queue.push(b)
    assert queue.pop() is a
    queue.push(served_for(a, QUANTUM))
    queue.push(Conn("c"))
    assert drain(queue) == ["b", "a", "c"]


def test_the_waiting_cells_say_who_runs_next() -> None:
    queue: RunQueue[Conn] = RunQueue(schedule="mlfq")
    assert (queue.waiting.someone_waits(), queue.waiting.head()) == (False, EMPTY)
    long = Conn("long")
    queue.push(long)
    assert queue.waiting.head() == NEW | long.service.seq  # new: level 1
    assert queue.pop() is long
    queue.push(served_for(long, QUANTUM))
    assert queue.waiting.head() == LONG | long.service.seq
    new = Conn("new")
    queue.push(new)
    assert queue.waiting.head() == NEW | new.service.seq
    little = Conn("list", short=True)
    queue.push(little)
    assert queue.waiting.head() == little.service.seq < NEW
    drain(queue)
    assert (queue.waiting.someone_waits(), queue.waiting.head()) == (False, EMPTY)


# -- the quantum ------------------------------------------------------------------------


def waiting_with(*conns: Conn, schedule: str = "mlfq") -> RunQueue[Conn]:
    queue: RunQueue[Conn] = RunQueue(schedule=schedule)
    for conn in conns:
        queue.push(conn)
    return queue


def test_a_quantum_never_gives_back_while_nobody_waits() -> None:
    queue = waiting_with()
    quantum = Quantum(queue.waiting, 0, "mlfq")
    assert all(quantum(1000.0 + i * QUANTUM) is None for i in range(100))


def test_a_quantum_gives_back_only_once_it_is_over() -> None:
    queue = waiting_with(Conn("list"))
    # A long transfer, which came first.
    quantum = Quantum(queue.waiting, 0, "mlfq", attained=QUANTUM)
    assert quantum(0.0) is None  # the turn begins
    assert quantum(QUANTUM * 0.99) is None
    assert quantum(QUANTUM) is Preemption.SHORTER
    # A new request's turn: its first quantum, shorter.
    first = Quantum(queue.waiting, 0, "mlfq")
    assert first(0.0) is None and first(FIRST_QUANTUM * 0.99) is None
    assert first(FIRST_QUANTUM) is Preemption.SHORTER


def test_a_long_transfer_yields_to_an_earlier_one_not_to_a_later_one() -> None:
    earlier = Conn("earlier")
    queue = waiting_with(earlier)
    assert queue.pop() is earlier
    queue.push(served_for(earlier, QUANTUM))
    later = Quantum(queue.waiting, earlier.service.seq + 1, "mlfq")
    first = Quantum(queue.waiting, earlier.service.seq - 1, "mlfq")
    for quantum in (later, first):
        quantum(0.0)
    assert later(FIRST_QUANTUM) is Preemption.EARLIER
    assert first(QUANTUM) is None  # long transfers in arrival order: it goes on


def test_one_worker_gives_way_for_one_waiting_request_the_one_serving_the_latest() -> None:
    """Five workers busy with long transfers, a LIST comes: only the worker serving the
    transfer that arrived last lets go (not all five at once); once it has, the next
    latest would, should another wait."""
    transfers = [Conn(f"t{i}") for i in range(5)]
    queue = waiting_with(*transfers)
    drain(queue)
    for conn in transfers:
        served_for(conn, QUANTUM)
        queue.serving(conn.service)
    turns = [Quantum(queue.waiting, c.service.seq, "mlfq", c.service.attained) for c in transfers]
    for quantum in turns:
        quantum(0.0)
    queue.push(Conn("list", short=True))
    said = [quantum(QUANTUM) for quantum in turns]
    assert said == [None, None, None, None, Preemption.SHORTER]
    queue.served_turn(transfers[4].service)  # it let go
    assert turns[3](QUANTUM) is Preemption.SHORTER  # a second LIST would take the next


def test_rr_yields_to_anyone_waiting() -> None:
    queue = waiting_with(Conn("a"), schedule="rr")
    quantum = Quantum(queue.waiting, 0, "rr")
    quantum(0.0)
    assert quantum(QUANTUM) is Preemption.TURN


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

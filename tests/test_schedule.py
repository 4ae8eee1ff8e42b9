"""The pools' schedule in this process: the run queue's order and the quantum
(docs/architecture.md, "Scheduling").

- mlfq: a LIST or DELETE first, then a connection with less than its first quantum of
  service, then long transfers;
  long transfers run in arrival order; the first long transfer in line is passed over
  at most STARVATION_BOUND times in a row; fifo stays first come, first served; rr puts
  a connection given back behind those waiting.
- A quantum never gives back while nobody waits, nor before it is over, and only one
  worker gives way for one waiting request.
- Preemption at each point of a request, in each pool: tests/test_preempt_points.py.
"""

from __future__ import annotations

import pytest

from fileproto.server.policy import (
    EMPTY,
    FIRST_QUANTUM,
    LONG,
    LONG_ANSWER,
    NEW,
    QUANTUM,
    STARVATION_BOUND,
    Quantum,
    RunQueue,
)
from fileproto.trace import Preemption
from tests.helpers.schedule import Conn

pytestmark = pytest.mark.smoke


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


def test_mlfq_a_get_of_a_large_file_waits_with_the_long_transfers_from_its_start() -> None:
    queue: RunQueue[Conn] = RunQueue(schedule="mlfq")
    running = Conn("running")
    queue.push(running)
    drain(queue)
    queue.push(served_for(running, QUANTUM))  # long, arrived first
    queue.push(Conn("big-get", answer_size=LONG_ANSWER))
    queue.push(Conn("small-get", answer_size=LONG_ANSWER - 1))
    queue.push(Conn("upload"))  # its size is unknown until its end
    assert drain(queue) == ["small-get", "upload", "running", "big-get"]


def test_a_large_get_gets_a_long_transfers_quantum_in_its_first_turn() -> None:
    queue: RunQueue[Conn] = RunQueue(schedule="mlfq")
    big = Conn("big-get", answer_size=LONG_ANSWER)
    queue.push(big)
    assert queue.pop() is big
    queue.serving(big.service)
    queue.push(Conn("upload"))
    turn = Quantum(queue.waiting, big.service.seq, "mlfq", big.service.attained)
    assert turn(0.0) is None and turn(FIRST_QUANTUM) is None  # a new upload waits
    assert turn(QUANTUM) is Preemption.SHORTER


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

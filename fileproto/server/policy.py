"""How the pools share their workers, decided here and nowhere else: who runs next
(the schedules), when a worker lets go of a connection whose bytes still move (the
quantum), how long a worker waits for a connection whose socket would block, when it
gives the connection back, and how a slow reader is told from a stalled one
(docs/architecture.md, "The server session and the dispatch modes" and "Scheduling").

The session decides the protocol: what to answer, and every deadline. These rules only
decide which connection a worker spends its time on. Each comes with its reason, and
the measurement behind it where there is one.
"""

from __future__ import annotations

import ctypes
import heapq
import itertools
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, Generic, Protocol, TypeVar

from fileproto.trace import Preemption

#: Seconds a worker waits for a socket that would block before it gives the connection
#: back: short, so that twenty slow links each delivering ten bursts a second take a
#: fiftieth of one worker (20 x 10 x 1 ms).
HOLD = 0.001
#: A client whose exchange has moved FAST_RATE or more since its first byte (or that
#: began less than FAST_HOLD ago) is fast: it is only behind because it waits for a
#: core (fifty clients on two cores), and its worker waits up to FAST_HOLD for it.
#: Giving it back would interleave fast transfers (every client then finishes late:
#: measured 3-4x the per-client time of the 50-client matrix cases) and make a process
#: pool's session travel for nothing.
FAST_RATE = 8 << 20
FAST_HOLD = 0.05


def is_fast(moved: int, elapsed: float) -> bool:
    """The pace rule: fast or slow, from the bytes an exchange moved both ways and the
    seconds since its first byte (``ServerSession.pace``). Too early to tell (a client
    starting up among many) counts as fast."""
    return elapsed < FAST_HOLD or moved >= FAST_RATE * elapsed


@dataclass(frozen=True, slots=True)
class Hold:
    """How long a worker waits for a socket that would block, and whether its client
    is fast (then it may be kept longer: ``keeps``)."""

    seconds: float
    fast: bool


def hold(moved: int, elapsed: float) -> Hold:
    """The wait for a socket that would block, by the client's pace."""
    fast = is_fast(moved, elapsed)
    return Hold(FAST_HOLD if fast else HOLD, fast)


def gives_back_at_once(writing: bool, idle: bool, left: float) -> bool:
    """Between requests, with the deadline further off than a hold: the next request
    may be far off, and a client that sends it at once must queue behind the others,
    not keep its worker."""
    return not writing and idle and left > HOLD


def keeps(held: Hold, someone_waits: bool) -> bool:
    """After a hold in which the socket did not move: keep a fast client while no other
    connection waits for a worker (its pace falls while it waits, so a client that
    stops is given back all the same); give back every other."""
    return held.fast and not someone_waits


def reader_moved(before: int | None, after: int | None) -> bool:
    """The slow-or-stalled reader test: the client took some of what waited in the send
    queue (``sockets.unsent_bytes``, or a transport's buffer) between two looks. A slow
    reader makes progress without the kernel ever reporting room to send (it does so
    only once half the buffer is free); a stalled one takes nothing. None: the system
    cannot say, which counts as no progress."""
    return before is not None and after is not None and after < before


#: The schedules of the pools' run queue (``--schedule``), each in a sentence for
#: ``fileproto serve --help`` (docs/architecture.md, "Scheduling").
SCHEDULES: dict[str, str] = {
    "mlfq": "a multilevel feedback queue: a LIST or DELETE runs first, then new requests, "
    "then long transfers in arrival order; a worker that has served a connection for a "
    "quantum gives it back when one with less service (or a long transfer that came "
    "first) waits",
    "rr": "round robin (processor sharing): a worker that has served a connection for a "
    "quantum gives it back whenever any other waits, to the back of the queue",
    "fifo": "first come, first served: a worker keeps a connection while its bytes move, "
    "so a short request waits for the long transfers taken before it",
}
DEFAULT_SCHEDULE = "mlfq"
#: The quanta: seconds a worker serves a connection before it may give it back to one
#: that should run first. A new request's first (FIRST_QUANTUM) is what every request
#: gets before anyone knows it is long: it lets a small transfer (an UPLOAD of a MiB or
#: so: the quantum is asked after each piece, and a piece is up to ``recv_size``, 1 MiB)
#: finish before the long ones go on, and it is what N equal uploads arriving at once
#: pay in their mean, as a first round of N quanta per worker (one worker, 50 x 10 MiB
#: uploads, a 10 ms transfer each: a 2 ms first quantum measured 1.37x-1.52x fifo's mean
#: per client, 5 ms 1.2x for 5 x 10 MiB).
#: A long transfer's (QUANTUM) decides how long a short request waits for a busy worker
#: to let go, and how often a transfer pays for being let go: in the process pool, the
#: session's journey there and back (benchmarks/handoff_cost.py: 0.46 ms with a 512 KiB
#: piece in hand, 40 us between requests, on a busy 2-core machine), near 2% of 20 ms.
FIRST_QUANTUM = 0.001
QUANTUM = 0.02
#: A GET of a file this large or larger is long from its start: its size is known before
#: a worker takes it (``ServerSession.asks_for``), and it cannot end within a first
#: quantum, so it goes straight to the long transfers, in arrival order. Without this,
#: fifty downloads arriving together each had a first quantum before the first of them
#: went on: fifty quanta added to every client's time (10 MiB, one worker: 1.46x to
#: 1.63x fifo's mean per client). An UPLOAD says its size only at its end.
LONG_ANSWER = 1 << 20
#: The starvation bound: the long transfer first in line is passed over by at most this
#: many new requests in a row before it runs again. Each of those runs at most its first
#: quantum before it yields to the earlier transfer, so once taken, a connection waits at
#: most STARVATION_BOUND first quanta (32 ms) of connections that came after it, per
#: worker, however many keep coming.
STARVATION_BOUND = 32
#: A connection's key in the run queue: its level, then its arrival (``Service.seq``).
#: Level 0: a whole request that asks little (LIST, DELETE: ``ServerSession.asks_little``);
#: level 1 (NEW): any other request with less than FIRST_QUANTUM of service; level 2
#: (LONG): a transfer that has had more. One integer, so a worker process reads the
#: queue's head in one load from shared memory.
NEW = 1 << 48
LONG = 2 << 48
EMPTY = (1 << 62) - 1


@dataclass(slots=True)
class Service:
    """What the run queue knows of a connection's current request: its place in arrival
    order and the worker time it has had (a new request starts again at zero)."""

    seq: int = -1
    attained: float = 0.0
    #: The connection's requests finished when ``seq`` was given: more means a new one.
    served: int = 0


class Scheduled(Protocol):
    """What waits in a run queue: a connection with its scheduling record."""

    @property
    def service(self) -> Service: ...

    @property
    def served(self) -> int: ...

    @property
    def short(self) -> bool: ...

    @property
    def answer_size(self) -> int | None: ...


class Waiting:
    """What a worker reads of the run queue, in cells: how many connections wait, the key
    of the one that runs next, and the key of the connection that should give way first
    when one waits that should run before it (the one that arrived last of those being
    served: a single worker yields, not every worker at once). The process pool's cells
    are in shared memory, so that its worker processes read what their parent keeps.
    Written only by the run queue."""

    def __init__(self, cells: ctypes.Array[ctypes.c_longlong] | None = None) -> None:
        self.cells = cells if cells is not None else (ctypes.c_longlong * 3)(*CELLS)

    def someone_waits(self) -> bool:
        """Does another connection wait for a worker? Computed here only."""
        return self.cells[0] > 0

    def head(self) -> int:
        """The key of the connection that runs next (EMPTY: none waits)."""
        return int(self.cells[1])

    def yields_first(self, key: int) -> bool:
        """Is the connection of ``key`` (as served) the one to give way? With nobody
        served on record, any is."""
        return key >= self.cells[2]


#: The cells' values with nothing waiting and nothing served.
CELLS = (0, EMPTY, -1)


def shared_cells(make: Callable[..., Any]) -> ctypes.Array[ctypes.c_longlong]:
    """The cells of ``Waiting`` made by ``make`` (a multiprocessing context's RawArray)."""
    cells: ctypes.Array[ctypes.c_longlong] = make(ctypes.c_longlong, list(CELLS))
    return cells


class Quantum:
    """A worker's turn under a preemptive schedule: called with the time after each piece
    moved, it says why to give the connection back, or None. It costs no system call
    (the clock is the driver's, read anyway; the queue's head is a memory load), and it
    never gives back while nobody waits."""

    __slots__ = ("began", "key", "quantum", "rr", "waiting")

    def __init__(
        self,
        waiting: Waiting,
        seq: int,
        schedule: str,
        attained: float = 0.0,
        *,
        quantum: float | None = None,
    ) -> None:
        self.waiting = waiting
        #: After a quantum in this turn the connection is long.
        self.key = LONG | seq
        self.rr = schedule == "rr"
        #: ``attained``: the worker time its request has had before this turn.
        self.quantum = quantum_for(schedule, attained) if quantum is None else quantum
        self.began: float | None = None

    def __call__(self, now: float) -> Preemption | None:
        if self.began is None:
            self.began = now
            return None
        if now - self.began < self.quantum:
            return None
        if self.rr:
            if self.waiting.someone_waits() and self.waiting.yields_first(self.key):
                return Preemption.TURN
            return None
        head = self.waiting.head()
        if head >= self.key or not self.waiting.yields_first(self.key):
            return None
        return Preemption.SHORTER if head < LONG else Preemption.EARLIER


def preemptive(schedule: str) -> bool:
    return schedule != "fifo"


def is_long(attained: float) -> bool:
    """Level 1: a request that has had its first quantum of worker time."""
    return attained >= FIRST_QUANTUM


def long_answer(size: int | None) -> bool:
    """A GET whose file is LONG_ANSWER or more is long from the start."""
    return size is not None and size >= LONG_ANSWER


def quantum_for(schedule: str, attained: float) -> float:
    """A turn's quantum: a new request's first, then a long transfer's (rr: always the
    long one)."""
    return QUANTUM if schedule == "rr" or is_long(attained) else FIRST_QUANTUM


S = TypeVar("S", bound=Scheduled)


class RunQueue(Generic[S]):
    """Who runs next among the connections that wait for a worker (``SCHEDULES``).
    fifo and rr: first come, first served (each push of a connection given back is a new
    place, behind those waiting). mlfq: a request that asks little, then other requests
    with less than their first quantum of service, then long transfers, each level in
    arrival order, except that the first long transfer is passed over at most
    STARVATION_BOUND times in a row. The dispatcher pushes; a free worker pops.
    Thread-safe."""

    def __init__(self, waiting: Waiting | None = None, schedule: str = DEFAULT_SCHEDULE) -> None:
        if schedule not in SCHEDULES:
            raise ValueError(f"unknown schedule {schedule!r}; choose from {', '.join(SCHEDULES)}")
        self.waiting = waiting if waiting is not None else Waiting()
        self.schedule = schedule
        self._levels: tuple[list[tuple[int, S]], ...] = ([], [], [])
        self._seq = itertools.count()
        #: Level-0 pops in a row while a long transfer waits.
        self._passed = 0
        #: The keys (as long transfers) of the connections being served, each counted.
        self._served: dict[int, int] = {}
        self._lock = threading.Lock()

    def push(self, item: S) -> None:
        service = item.service
        new = service.seq < 0 or service.served != item.served
        # Only mlfq has levels; outside the lock, as a GET's size is an lstat.
        long = new and self.schedule == "mlfq" and long_answer(item.answer_size)
        with self._lock:
            if new:
                # A new request: a new place in arrival order, no service yet (or, for a
                # GET of a large file, its first quantum counted as had: see LONG_ANSWER).
                service.seq, service.served = next(self._seq), item.served
                service.attained = FIRST_QUANTUM if long else 0.0
            elif self.schedule != "mlfq":
                service.seq = next(self._seq)  # given back: behind those waiting
            self._add(item)

    def push_front(self, item: S) -> None:
        """Put back a connection that a worker never took: it keeps its turn."""
        with self._lock:
            self._add(item)

    def _add(self, item: S) -> None:
        heapq.heappush(self._levels[self._level_of(item)], (item.service.seq, item))
        self._publish()

    def _level_of(self, item: S) -> int:
        if self.schedule != "mlfq":
            return 1  # one level: arrival order
        if is_long(item.service.attained):
            return 2
        return 0 if item.short else 1

    def serving(self, service: Service) -> None:
        """A worker begins a turn with the connection of ``service``."""
        with self._lock:
            key = LONG | service.seq
            self._served[key] = self._served.get(key, 0) + 1
            self.waiting.cells[2] = max(self._served)

    def served_turn(self, service: Service) -> None:
        """The turn ``serving`` began is over."""
        with self._lock:
            key = LONG | service.seq
            left = self._served.get(key, 0) - 1
            if left > 0:
                self._served[key] = left
            else:
                self._served.pop(key, None)
            self.waiting.cells[2] = max(self._served, default=-1)

    def pop(self) -> S | None:
        """The connection to run next, or None when none waits."""
        with self._lock:
            level = self._next_level()
            if level is None:
                return None
            _, item = heapq.heappop(self._levels[level])
            self._passed = self._passed + 1 if level < 2 and self._levels[2] else 0
            self._publish()
            return item

    def _next_level(self) -> int | None:
        little, new, long = self._levels
        if long and self._passed >= STARVATION_BOUND:
            return 2
        return 0 if little else 1 if new else 2 if long else None

    def _publish(self) -> None:
        cells = self.waiting.cells
        cells[0] = len(self)
        level = self._next_level()
        cells[1] = EMPTY if level is None else level * NEW | self._levels[level][0][0]

    def __len__(self) -> int:
        return sum(len(level) for level in self._levels)

    def __iter__(self) -> Iterator[S]:
        """What waits now (a copy), level by level in arrival order."""
        with self._lock:
            return iter([item for level in self._levels for _, item in sorted(level)])

"""How the pools share their workers, decided here and nowhere else: who runs next,
how long a worker waits for a connection whose socket would block, when it gives the
connection back, and how a slow reader is told from a stalled one
(docs/architecture.md, "The server session and the dispatch modes").

The session decides the protocol: what to answer, and every deadline. These rules only
decide which connection a worker spends its time on. Each comes with its reason, and
the measurement behind it where there is one.
"""

from __future__ import annotations

import ctypes
import threading
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Generic, TypeVar

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


class Waiting:
    """How many connections wait for a worker, in a cell a worker can read. A ctypes
    int: the process pool's is in shared memory, so that its worker processes read the
    count their parent keeps. Written only by the run queue."""

    def __init__(self, cell: ctypes.c_int | None = None) -> None:
        self.cell = cell if cell is not None else ctypes.c_int(0)

    def someone_waits(self) -> bool:
        """Does another connection wait for a worker? Computed here only."""
        return self.cell.value > 0


T = TypeVar("T")


class RunQueue(Generic[T]):
    """Who runs next: the connections that wait for a worker, first come, first served
    (one given back waits behind those already waiting, so no client keeps the front).
    The dispatcher pushes; a free worker pops. Thread-safe."""

    def __init__(self, waiting: Waiting | None = None) -> None:
        self.waiting = waiting if waiting is not None else Waiting()
        self._items: deque[T] = deque()
        self._lock = threading.Lock()

    def push(self, item: T) -> None:
        with self._lock:
            self._items.append(item)
            self.waiting.cell.value = len(self._items)

    def push_front(self, item: T) -> None:
        """Put back a connection that a worker never took: it keeps its turn."""
        with self._lock:
            self._items.appendleft(item)
            self.waiting.cell.value = len(self._items)

    def pop(self) -> T | None:
        """The connection to run next, or None when none waits."""
        with self._lock:
            if not self._items:
                return None
            item = self._items.popleft()
            self.waiting.cell.value = len(self._items)
            return item

    def __len__(self) -> int:
        return len(self._items)

    def __iter__(self) -> Iterator[T]:
        """What waits now (a copy)."""
        with self._lock:
            return iter(list(self._items))

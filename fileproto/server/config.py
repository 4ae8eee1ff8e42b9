"""Settings shared by every server kind, each with the reason for its default."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from fileproto.server.policy import DEFAULT_SCHEDULE
from fileproto.session import Limits

#: ``ready``: a selector holds waiting connections and workers get only those with a
#: request; ``accept``: a worker owns a connection from accept to close (the classic).
Dispatch = Literal["ready", "accept"]
DISPATCHES: tuple[Dispatch, ...] = ("ready", "accept")
#: Seconds between a server loop's looks at its stop flag (and the pause after a failed
#: accept): how late a stop is noticed at most.
POLL = 0.2
#: The event-loop kind's loops: ``auto`` takes uvloop when it is installed.
LOOPS: tuple[str, ...] = ("auto", "asyncio", "uvloop")
#: How a server's one line on stdout begins, once it accepts connections: fixtures and
#: scripts wait for it.
LISTENING_PREFIX = "listening on "
#: The kernel queues this many connections not yet accepted, so 50 clients arriving at
#: once are queued, not refused.
DEFAULT_BACKLOG = 1024
#: Open connections at most; past it a new one is answered 'server busy' and closed.
DEFAULT_MAX_CONNECTIONS = 10_000


@dataclass(frozen=True)
class ServerConfig:
    root: str
    limits: Limits = field(default_factory=Limits)
    #: Bytes asked of each recv() (the event loop's read buffer too); bounds the memory
    #: a connection holds at once. The parser's cost is per piece, so uploads want large
    #: pieces (256 KiB measured 15-20% slower per 100 MiB upload than 1 MiB).
    recv_size: int = 1 << 20
    dispatch: Dispatch = "ready"
    #: Who runs next among the connections that wait for a worker (``policy.SCHEDULES``).
    schedule: str = DEFAULT_SCHEDULE
    #: The event-loop kind's loop: ``auto`` (uvloop when installed), ``asyncio``, ``uvloop``.
    loop: str = "auto"
    verbose: bool = False
    #: Append what happens to each connection to this file, as JSON lines (docs/trace.md).
    trace: str | None = None
    #: The listening socket's backlog.
    backlog: int = DEFAULT_BACKLOG


#: What the receive and send buffers of all connections may take together. Large
#: buffers make single transfers fast (the parser's cost is per piece: 256 KiB pieces
#: measured 15-20% slower per 100 MiB upload than 1 MiB), but 50 workers with 1 MiB
#: buffers held over 200 MiB; with many workers each gets a share instead (50 workers:
#: 512 KiB, and the thread server's peak under 50 x 100 MiB measured 100 MiB).
BUFFER_BUDGET = 96 << 20
_LARGEST = 1 << 20
_SMALLEST = 64 << 10


def buffer_sizes(workers: int) -> tuple[int, int]:
    """(recv_size, read_chunk) for a server with this many workers."""
    share = BUFFER_BUDGET // max(1, workers) // 3  # a recv buffer, a decoded and an encoded chunk
    recv = _LARGEST
    while recv > share and recv > _SMALLEST:
        recv //= 2
    return recv, recv * 3 // 4  # read_chunk: a multiple of 3 whose base64 fills a recv

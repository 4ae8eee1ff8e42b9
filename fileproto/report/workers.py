"""A case's client requests as rows, and its server workers by readable names.

The server's trace names a worker as it knows it ("thread:0", "process:41235",
"loop:41240": docs/trace.md); a reader gets "thread 1", "process 2", "loop 1", numbered
in the order each worker first took a connection in the case. Rows can be in the order
the clients began to connect, or by worker (the worker that first served the request,
the workers in that same order) and, within a worker, by when its service began: the
order in which that worker took its clients.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from fileproto.report.cases import Case
from fileproto.report.phases import SERVED, Segment
from fileproto.report.requests import Request
from fileproto.trace import ServerEvent

#: How rows can be ordered: by worker and when service began, or by connect time.
ORDERS = ("service", "connect")


def worker_names(events: Iterable[ServerEvent]) -> dict[str, str]:
    """The trace's worker ids to readable names, numbered per kind of worker in the
    order each first appears (a worker id without a kind is called "worker")."""
    names: dict[str, str] = {}
    numbers: dict[str, int] = {}
    for event in sorted(events, key=lambda e: e.at):
        worker = event.worker
        if not worker or worker in names:
            continue
        kind, colon, _ = worker.partition(":")
        kind = kind if colon and kind else "worker"
        numbers[kind] = numbers.get(kind, 0) + 1
        names[worker] = f"{kind} {numbers[kind]}"
    return names


@dataclass(frozen=True)
class Row:
    """One client request: its phases (workers by their readable names), the worker
    that first served it and when that service began (None: never served, or no
    server events)."""

    request: Request
    segments: tuple[Segment, ...]
    worker: str | None
    served_at: float | None
    #: When a worker let go of it while its bytes still moved, its quantum over
    #: (``given_back`` with ``preempted``: docs/trace.md).
    preempted: tuple[float, ...] = ()

    @property
    def workers(self) -> list[str]:
        """Every worker that served it, in order, each once."""
        return list(
            dict.fromkeys(s.worker for s in self.segments if s.phase == SERVED and s.worker)
        )


def rows(case: Case, order: str = "service") -> list[Row]:
    """The case's requests as rows, in ``order`` (:data:`ORDERS`). Without server
    events there is no service to order by: connect order."""
    if order not in ORDERS:
        raise ValueError(f"unknown order {order!r}; choose from {', '.join(ORDERS)}")
    names = worker_names(case.server_events)
    joined = case.conn_events()
    out = []
    for request in sorted(case.requests, key=lambda r: (r.connect, r.client)):
        events = joined.get(request.port) if request.port is not None else None
        segments = tuple(
            Segment(s.phase, s.start, s.end, names.get(s.worker, s.worker) if s.worker else None)
            for s in case.segments(request, events)
        )
        served = next((s for s in segments if s.phase == SERVED), None)
        preempted = tuple(
            e.at
            for e in events or ()
            if e.preempted and request.connect <= e.at <= request.end
        )  # fmt: skip
        out.append(
            Row(request, segments, served.worker if served else None,
                served.start if served else None, preempted)
        )  # fmt: skip
    if order == "connect":
        return out
    rank = {name: i for i, name in enumerate(names.values())}
    # Never served (refused, failed before a worker took it): after the others, in
    # connect order (a stable sort keeps it).
    return sorted(
        out,
        key=lambda r: (
            (0, rank.get(r.worker or "", len(rank)), r.served_at)
            if r.served_at is not None
            else (1, 0, 0.0)
        ),
    )


def bands(ordered: list[Row]) -> list[tuple[str, int, int]]:
    """(worker, first row, last row) of each run of rows first served by one worker."""
    out: list[tuple[str, int, int]] = []
    for i, row in enumerate(ordered):
        if row.worker is None:
            continue
        if out and out[-1][0] == row.worker and out[-1][2] == i - 1:
            out[-1] = (row.worker, out[-1][1], i)
        else:
            out.append((row.worker, i, i))
    return out

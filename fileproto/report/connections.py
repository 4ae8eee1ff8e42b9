"""Each connection of a server trace, its time split by what it waited for: to be
accepted, for a worker, on the server's own work, for the client to send, for the
client to read, or for a next request (docs/trace.md, "A trace read on its own").

From the events of one connection, in time order:

- ``accepted`` with ``accept_wait_s``: the wait in the listen queue, before it;
- after ``accepted``: queued for a worker until ``taken`` (the classic dispatch hands
  the connection to a worker at once), or waiting for the request until its
  ``header`` (the readiness dispatch reads headers without a worker);
- ``header`` with no worker holding the connection: queued until ``taken``;
- ``taken``: served until ``given_back`` or ``closed``, except the ``waited``
  stretches inside it (the worker or loop held the connection and waited on the
  client: for the rest of a request, "read"; for room to send, "write");
- ``given_back`` "read" or "write": waiting for the client to send or to read until
  ``ready``, then queued until ``taken``;
- waiting for a request ("idle" give-backs and waits): before the connection's first
  request it is the client's sending (it opened the connection to ask); between
  requests it is idle, unless the answer before it ended with bytes still in the
  server's buffers (``buffered``): then the client was still reading that answer.

Each stretch belongs to a request: a request's time runs from when the connection
began waiting for it (the first: from the connection's start, its wait to be accepted
included) to its answer, and the client's reading of the answer's buffered tail; idle
time belongs to the connection alone.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from fileproto.report.phases import (
    CLIENT_READING,
    CLIENT_SENDING,
    IDLE,
    QUEUED,
    SERVED,
    WAITING_TO_CONNECT,
    Segment,
)
from fileproto.trace import Ev, ServerEvent, Why

#: The phases of a connection, in order, with their keys in ``--json``.
PHASE_KEYS = {
    WAITING_TO_CONNECT: "accept_wait_s",
    QUEUED: "queued_s",
    SERVED: "served_s",
    CLIENT_SENDING: "client_send_s",
    CLIENT_READING: "client_read_s",
    IDLE: "idle_s",
}
CONNECTION_PHASES = tuple(PHASE_KEYS)
#: Segments a connection keeps for drawing; its phase totals count every one.
SEGMENT_BOUND = 4096

# Stretches whose phase is known only later: waiting for a request (the client's
# sending, idle, or reading an answer's tail), and the wait after ``accepted``.
_FOR_REQUEST = "for a request"
_AFTER_ACCEPT = "after accept"
_WAIT_PHASES: dict[str, str] = {
    Why.READ: CLIENT_SENDING,
    Why.WRITE: CLIENT_READING,
    Why.IDLE: _FOR_REQUEST,
}


@dataclass
class RequestPhases:
    """One request of a connection: its command and answer, and its seconds per phase."""

    number: int
    cmd: str | None = None
    status: str | None = None
    seconds: dict[str, float] = field(default_factory=dict)
    start: float | None = None
    end: float | None = None

    @property
    def total_s(self) -> float:
        return sum(self.seconds.values())

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "request": self.number,
            "cmd": self.cmd,
            "status": self.status,
            "start_s": _r(self.start),
            "total_s": _r(self.total_s),
        }
        out.update({key: _r(self.seconds.get(p, 0.0)) for p, key in PHASE_KEYS.items()
                    if p != IDLE})  # fmt: skip
        return out


@dataclass
class ConnectionPhases:
    """One connection: from its start (the end of its handshake when the trace tells
    the wait to be accepted, else ``accepted``) to ``closed`` (or the trace's end)."""

    conn: str
    peer: str | None
    start: float
    end: float
    seconds: dict[str, float]
    requests: list[RequestPhases]
    segments: list[Segment]
    segments_dropped: int = 0
    #: False: the trace does not say how long it waited to be accepted.
    accept_wait_known: bool = True
    workers: tuple[str, ...] = ()
    closed: str | None = None
    deadline: str | None = None
    #: No ``closed`` in the trace: the server was stopped, or the trace was cut.
    open: bool = False
    refused: bool = False
    #: How many times a worker gave it back (none: the classic dispatch, or a loop).
    given_back: int = 0
    #: When a worker let it go preempted, and why (docs/architecture.md, "Scheduling").
    preempted: tuple[tuple[float, str], ...] = ()

    @property
    def total_s(self) -> float:
        return self.end - self.start

    @property
    def preempted_by_reason(self) -> dict[str, int]:
        """How many times it was preempted, per reason, in the order they first came."""
        return dict(Counter(why for _, why in self.preempted))

    def share(self, phase: str) -> float:
        total = self.total_s
        return self.seconds.get(phase, 0.0) / total if total > 0 else 0.0

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"conn": self.conn, "peer": self.peer,
                               "total_s": _r(self.total_s)}  # fmt: skip
        for phase, key in PHASE_KEYS.items():
            unknown = phase == WAITING_TO_CONNECT and not self.accept_wait_known
            out[key] = None if unknown else _r(self.seconds.get(phase, 0.0))
        out.update(
            {
                "start_s": _r(self.start),
                "end_s": _r(self.end),
                "workers": list(self.workers),
                "closed": self.closed,
                "deadline": self.deadline,
                "open": self.open,
                "refused": self.refused,
                "given_back": self.given_back,
                "preempted": [{"at_s": _r(at), "why": why} for at, why in self.preempted],
                "requests": [r.as_dict() for r in self.requests],
            }
        )
        return out


def _r(value: float | None) -> float | None:
    return None if value is None else round(value, 6)


class _Builder:
    """The phases of one connection from its events (in any order: sorted here)."""

    def __init__(self, events: Sequence[ServerEvent]) -> None:
        self.events = sorted(events, key=lambda e: e.at)
        # (phase, start, end, worker, request index or None)
        self.spans: list[list[Any]] = []
        self.pending: list[int] = []  # spans waiting for a request, phase not yet known
        self.unassigned: list[int] = []  # spans made while no request was in progress
        self.requests: list[RequestPhases] = []
        self.in_request = False
        self.buffered = False
        self.cursor = 0.0
        self.phase = _AFTER_ACCEPT
        self.worker: str | None = None
        self.held = False

    def _span(self, until: float) -> None:
        if until <= self.cursor:
            return
        index = len(self.spans)
        request = len(self.requests) - 1 if self.in_request else None
        self.spans.append([self.phase, self.cursor, until, self.worker, request])
        if self.phase == _FOR_REQUEST:
            self.pending.append(index)
        if request is None:
            self.unassigned.append(index)
        self.cursor = until

    def _resolve(self, header_follows: bool, deadline: str | None = None) -> None:
        """What the pending waits for a request were, now that it came (or the
        connection closed), and which request the unassigned stretches belong to."""
        if self.buffered:
            waited = CLIENT_READING
        elif header_follows:
            waited = CLIENT_SENDING if not self.requests else IDLE
        else:
            waited = CLIENT_SENDING if deadline == "header" else IDLE
        for i in self.pending:
            self.spans[i][0] = waited
        self.pending = []
        answered = len(self.requests) - 1
        for i in self.unassigned:
            span = self.spans[i]
            if span[0] == IDLE:
                continue
            if span[0] == CLIENT_READING and self.buffered and answered >= 0:
                span[4] = answered  # the tail of the answer before
            elif header_follows:
                span[4] = len(self.requests)  # the request about to begin
        self.unassigned = []

    def build(self, end_of_trace: float) -> ConnectionPhases:
        events = self.events
        first = events[0]
        opened = next((e for e in events if e.ev in (Ev.ACCEPTED, Ev.REFUSED)), None)
        peer = next((e.peer for e in events if e.peer), None)
        raw = opened.extra.get("accept_wait_s") if opened is not None else None
        wait = None if isinstance(raw, bool) or not isinstance(raw, int | float) else float(raw)
        known = wait is not None
        at = opened.at if opened is not None else first.at
        start = at - wait if wait is not None else at
        self.cursor = start
        if known:
            self.phase = WAITING_TO_CONNECT
            self._span(at)
            self.phase = _AFTER_ACCEPT
        workers: dict[str, None] = {}
        closed: ServerEvent | None = None
        refused = opened is not None and opened.ev == Ev.REFUSED
        for event in events:
            if event is opened:
                continue
            if refused or closed is not None:
                break
            if event.ev in (Ev.WAITED, Ev.GIVEN_BACK):
                # A worker's wait on the client (a give-back tells the one just before it).
                self._waited(event)
                if event.ev == Ev.WAITED:
                    continue
            if self.phase == _AFTER_ACCEPT:
                # Taken first: the classic dispatch queued it for a worker; a header
                # first: the readiness dispatch waited for the request.
                self.phase = QUEUED if event.ev == Ev.TAKEN else _FOR_REQUEST
            self._span(event.at)
            self._event(event, workers)
            if event.ev == Ev.CLOSED:
                closed = event
        end = closed.at if closed is not None else (at if refused else end_of_trace)
        if self.phase == _AFTER_ACCEPT:
            self.phase = _FOR_REQUEST
        if not refused:
            self._span(end)
        deadline = closed.extra.get("deadline") if closed is not None else None
        last_sent = closed.extra.get("last_sent_s") if closed is not None else None
        if self.buffered and isinstance(last_sent, int | float) and closed is not None:
            self._drained(closed.at - float(last_sent))
        self._resolve(False, deadline if isinstance(deadline, str) else None)
        return self._result(first.conn, peer, start, max(end, start), known, workers,
                            closed, refused)  # fmt: skip

    def _drained(self, at: float) -> None:
        """The buffered tail of the last answer had all left the server at ``at`` (the
        kernel's last data sent): the waits for a request until then were the client
        taking that tail; what came after is told as if nothing had been buffered."""
        answered = len(self.requests) - 1 if self.requests else None
        still = []
        for i in self.pending:
            span = self.spans[i]
            if span[2] <= at:
                span[0], span[4] = CLIENT_READING, answered
                continue
            if span[1] < at:
                self.spans.append([CLIENT_READING, span[1], at, span[3], answered])
                span[1] = at
            still.append(i)
        self.pending = still
        self.buffered = False

    def _waited(self, event: ServerEvent) -> None:
        seconds = event.extra.get("waited_s")
        if isinstance(seconds, bool) or not isinstance(seconds, int | float):
            return
        began = max(self.cursor, event.at - float(seconds))
        self._span(began)
        held = self.phase
        self.phase = _WAIT_PHASES.get(str(event.extra.get("why")), CLIENT_SENDING)
        self._span(event.at)
        self.phase = held

    def _event(self, event: ServerEvent, workers: dict[str, None]) -> None:
        ev = event.ev
        if ev == Ev.TAKEN:
            self.phase, self.worker, self.held = SERVED, event.worker, True
            if event.worker:
                workers[event.worker] = None
        elif ev == Ev.GIVEN_BACK:
            why = str(event.extra.get("why"))
            self.phase, self.worker, self.held = _WAIT_PHASES.get(why, CLIENT_SENDING), None, False
        elif ev == Ev.READY and self.phase in (CLIENT_SENDING, CLIENT_READING):
            self.phase = QUEUED
        elif ev == Ev.HEADER:
            self._resolve(True)
            self.buffered = False
            cmd = event.extra.get("cmd")
            self.requests.append(RequestPhases(len(self.requests) + 1,
                                               cmd if isinstance(cmd, str) else None))  # fmt: skip
            self.in_request = True
            if not self.held:
                self.phase = QUEUED
        elif ev == Ev.RESPONSE:
            if not self.in_request:  # an answer with no header seen (an early error)
                self._resolve(True)
                self.requests.append(RequestPhases(len(self.requests) + 1))
            request = self.requests[-1]
            cmd, status = event.extra.get("cmd"), event.extra.get("status")
            request.cmd = cmd if isinstance(cmd, str) else request.cmd
            request.status = status if isinstance(status, str) else None
            self.in_request = False
            self.buffered = False
        elif ev == Ev.BUFFERED:
            self.buffered = True

    def _result(
        self, conn: str, peer: str | None, start: float, end: float, known: bool,
        workers: dict[str, None], closed: ServerEvent | None, refused: bool,
    ) -> ConnectionPhases:  # fmt: skip
        seconds: dict[str, float] = {}
        segments: list[Segment] = []
        dropped = 0
        for phase, begin, until, worker, request in sorted(self.spans, key=lambda s: s[1]):
            seconds[phase] = seconds.get(phase, 0.0) + (until - begin)
            if request is not None and 0 <= request < len(self.requests):
                mine = self.requests[request]
                mine.seconds[phase] = mine.seconds.get(phase, 0.0) + (until - begin)
                mine.start = begin if mine.start is None else min(mine.start, begin)
                mine.end = until if mine.end is None else max(mine.end, until)
            last = segments[-1] if segments else None
            if last is not None and last.phase == phase and last.worker == worker:
                segments[-1] = Segment(phase, last.start, until, worker)
            elif len(segments) < SEGMENT_BOUND:
                segments.append(Segment(phase, begin, until, worker))
            else:
                dropped += 1
        reason = closed.extra.get("reason") if closed is not None else None
        deadline = closed.extra.get("deadline") if closed is not None else None
        return ConnectionPhases(
            conn, peer, start, end, seconds, self.requests, segments, dropped, known,
            tuple(workers), reason if isinstance(reason, str) else None,
            deadline if isinstance(deadline, str) else None,
            open=closed is None and not refused, refused=refused,
            given_back=sum(1 for e in self.events if e.ev == Ev.GIVEN_BACK),
            preempted=tuple((e.at, e.preempted) for e in self.events if e.preempted),
        )  # fmt: skip


def connection_phases(
    events: Sequence[ServerEvent], end_of_trace: float | None = None
) -> ConnectionPhases:
    """The phases of one connection from its events (those of one ``conn``)."""
    if not events:
        raise ValueError("a connection needs at least one event")
    last = max(e.at for e in events)
    return _Builder(events).build(last if end_of_trace is None else max(last, end_of_trace))


def connections(raw_events: Iterable[dict[str, Any]]) -> Iterator[ConnectionPhases]:
    """Every connection of a trace, from its events in file order (``at`` seconds): each
    is told as soon as it closed, so memory holds the open connections only; the
    connections still open at the trace's end come last, ended there."""
    open_events: dict[str, list[ServerEvent]] = {}
    done: set[str] = set()
    last = 0.0
    for raw in raw_events:
        event = ServerEvent.of(raw)
        if event is None:
            continue
        last = max(last, event.at)
        if event.conn in done:
            if event.ev not in ("accepted", "refused"):
                continue  # a line written after the connection's close
            done.discard(event.conn)  # an id used again (a trace of several runs)
        mine = open_events.setdefault(event.conn, [])
        mine.append(event)
        if event.ev in (Ev.CLOSED, Ev.REFUSED):
            yield connection_phases(open_events.pop(event.conn), event.at)
            done.add(event.conn)
    for mine in open_events.values():
        yield connection_phases(mine, last)

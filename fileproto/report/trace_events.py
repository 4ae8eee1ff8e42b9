"""A run's timelines in the Chrome Trace Event format, for the Perfetto UI
(ui.perfetto.dev, "Open trace file") and chrome://tracing.

One process per case (``process_name`` is the case's id). In it, per client, ``cat``
"client", two tracks side by side: "client N" with the phases of its requests as the
client saw them (connecting, sending, waiting for first byte, receiving), and, when the
server was traced, "client N: at the server" with the same requests as the server
handled them (waiting to be accepted, queued for a worker, being served by a worker,
waiting on the client: :mod:`.phases`). Then one track per server worker, ``cat``
"server", named as a reader names it ("thread 1", "process 2": :mod:`.workers`, the
trace's own id in each slice's args), with a "serving conn N" slice from each time the
worker took the connection to when it gave it back, answered or closed it. A flow
(Perfetto's ``bind_id`` with ``flow_out``/``flow_in``) leads from the client's wait
that a take ended to the worker's slice, so a reader follows a client to the worker
that served it. Client tracks are in the order of :func:`.workers.rows` (by worker and
when service began, or by connect time), worker tracks in the order they first took a
connection.

The format allows complete slices on one track only if they nest perfectly, so slices
that would overlap (one asyncio loop serves many connections at once) go on further
tracks of the same name ("loop 1 #2"). The waits of a connection that no worker holds
and the LIST probes (several in flight when the server is slow) are async slices
(``ph`` "b"/"e", one id per connection or probe), which the viewers stack per process:
"waiting for a worker" (accepted, or ``ready`` after a give-back, until taken), "waiting
on the client" (given back mid-request or mid-response, until ``ready``), and "idle"
between requests; a probe held back by the bound of probes in flight has its wait to be
sent nested in it, and a probe cut off by the case's end says so. Refusals and deadline
closes are instant events.

Times are microseconds from the case's start (the go, an instant event "go"); a case
with events from before its start (connections accepted before the go) is shifted
later as a whole, its go with it, since the viewers drop negative times.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from fileproto.report.cases import Case
from fileproto.report.phases import SERVED, give_back_end
from fileproto.report.probes import held_back, in_order
from fileproto.report.requests import CLIENT_PHASES
from fileproto.report.workers import Row, rows, worker_names
from fileproto.trace import Ev, ServerEvent, Why

_US = 1e6
#: The async slices of a connection held by no worker (docs/trace.md's events).
WAITING_FOR_WORKER = "waiting for a worker"  # accepted, or ready, until taken
WAITING_ON_CLIENT = "waiting on the client"  # given back mid-request/response, until ready
GIVEN_BACK = "given back: the client, then a worker"  # until taken, in a trace without ready
IDLE = "idle: the next request, then a worker"  # given back between requests, until taken
#: Track order inside a case: clients, then the server's workers.
_SORT_CLIENT, _SORT_SERVER = 0, 100_000


@dataclass
class _Track:
    """One named track, split into lanes so that no two slices of a lane overlap."""

    name: str
    cat: str
    sort: int
    lanes: list[float] = field(default_factory=list)  # end of each lane's last slice
    tids: list[int] = field(default_factory=list)


@dataclass
class _Slice:
    """A complete slice; ``flow`` holds its flow keys (bind_id, flow_out or flow_in)."""

    name: str
    start: float
    end: float
    args: dict[str, Any]
    flow: dict[str, Any] = field(default_factory=dict)


class _Process:
    def __init__(self, pid: int, name: str, sort: int, shift: float = 0.0) -> None:
        self.pid = pid
        #: Seconds added to every time of the case: none is negative then.
        self.shift = shift
        self.events: list[dict[str, Any]] = [
            {"ph": "M", "name": "process_name", "pid": pid, "tid": 0, "args": {"name": name}},
            {"ph": "M", "name": "process_sort_index", "pid": pid, "tid": 0,
             "args": {"sort_index": sort}},
        ]  # fmt: skip
        self.tracks: dict[str, _Track] = {}
        self._next_tid = 1

    def track(self, name: str, cat: str, sort: int) -> _Track:
        if name not in self.tracks:
            self.tracks[name] = _Track(name, cat, sort)
        return self.tracks[name]

    def _lane(self, track: _Track, start: float, end: float) -> int:
        """The tid of the first lane free at ``start`` (a new lane if none is)."""
        for i, busy_until in enumerate(track.lanes):
            if busy_until <= start:
                track.lanes[i] = end
                return track.tids[i]
        tid = self._next_tid
        self._next_tid += 1
        lane = len(track.lanes)
        track.lanes.append(end)
        track.tids.append(tid)
        label = track.name if lane == 0 else f"{track.name} #{lane + 1}"
        self.events.append(
            {"ph": "M", "name": "thread_name", "pid": self.pid, "tid": tid,
             "args": {"name": label}}
        )  # fmt: skip
        self.events.append(
            {"ph": "M", "name": "thread_sort_index", "pid": self.pid, "tid": tid,
             "args": {"sort_index": track.sort + lane}}
        )  # fmt: skip
        return tid

    def ts(self, at: float) -> float:
        return round((at + self.shift) * _US, 3)

    def slices(self, track: _Track, parts: Sequence[_Slice]) -> None:
        """Consecutive slices (one request's phases) on one lane of the track."""
        if not parts:
            return
        tid = self._lane(track, parts[0].start, parts[-1].end)
        for part in parts:
            self.events.append(
                {
                    "ph": "X",
                    "cat": track.cat,
                    "name": part.name,
                    "pid": self.pid,
                    "tid": tid,
                    "ts": self.ts(part.start),
                    "dur": round(max(0.0, part.end - part.start) * _US, 3),
                    "args": part.args,
                    **part.flow,
                }
            )

    def instant(self, name: str, cat: str, at: float, args: dict[str, Any]) -> None:
        self.events.append(
            {"ph": "i", "s": "p", "cat": cat, "name": name, "pid": self.pid, "tid": 0,
             "ts": self.ts(at), "args": args}
        )  # fmt: skip

    def span(
        self, name: str, cat: str, ident: str, start: float, end: float, args: dict[str, Any]
    ) -> None:
        """A nestable async slice: begin and end paired by (cat, id)."""
        for ph, at in (("b", start), ("e", end)):
            self.events.append(
                {"ph": ph, "cat": cat, "name": name, "id": ident, "pid": self.pid, "tid": 0,
                 "ts": self.ts(at), "args": args if ph == "b" else {}}
            )  # fmt: skip

    def wait(self, name: str, conn: str, start: float, end: float, args: dict[str, Any]) -> None:
        self.span(name, "server", f"{self.pid}:{conn}", start, end, args)


class _Flows:
    """Flow ids, unique in the whole trace (the viewers pair them across processes)."""

    def __init__(self) -> None:
        self.next = 1

    def link(self, source: _Slice, target: _Slice) -> None:
        source.flow = {"bind_id": self.next, "flow_out": True}
        target.flow = {"bind_id": self.next, "flow_in": True}
        self.next += 1


def _merged(row: Row) -> list[_Slice]:
    """The row's server phases, a slice per stretch of one phase with one worker (the
    phases split at every event, e.g. at a response)."""
    out: list[_Slice] = []
    for segment in row.segments:
        last = out[-1] if out else None
        if (
            last is not None
            and (last.name, last.args.get("worker"))
            == (_phase_name(segment.phase, segment.worker), segment.worker)
            and last.end == segment.start
        ):
            last.end = segment.end
            continue
        args: dict[str, Any] = {"op": row.request.op, "port": row.request.port}
        if segment.worker:
            args["worker"] = segment.worker
        out.append(
            _Slice(_phase_name(segment.phase, segment.worker), segment.start, segment.end, args)
        )
    return out


def _phase_name(phase: str, worker: str | None) -> str:
    return f"{phase} ({worker})" if phase == SERVED and worker else phase


def _client_tracks(
    process: _Process,
    ordered: Sequence[Row],
    serving: dict[tuple[str, float], _Slice],
    flows: _Flows,
) -> None:
    """Per client, in the rows' order: its own phases, and the server's beside them,
    each take linked to the worker's slice it began."""
    rank: dict[int, int] = {}
    for row in ordered:
        rank.setdefault(row.request.client, len(rank))
    for row in sorted(ordered, key=lambda r: (rank[r.request.client], r.request.connect)):
        request = row.request
        sort = _SORT_CLIENT + rank[request.client] * 10
        track = process.track(f"client {request.client}", "client", sort)
        base = {"op": request.op, "port": request.port, "ok": request.ok}
        parts = [_Slice(phase, start, end, dict(base))
                 for phase, start, end in request.client_phases()]  # fmt: skip
        if not parts:
            parts = [_Slice("connecting", request.connect, request.connect, dict(base))]
        if request.error:
            parts[-1].args["error"] = request.error
        process.slices(track, parts)
        server_side = _merged(row) if _traced(row) else []
        for before, part in itertools.pairwise(server_side):
            worker = part.args.get("worker")
            target = serving.get((worker, part.start)) if isinstance(worker, str) else None
            if target is not None and not target.flow:
                flows.link(before, target)
        if server_side:
            beside = process.track(f"client {request.client}: at the server", "client",
                                   sort + 1)  # fmt: skip
            process.slices(beside, server_side)


def _traced(row: Row) -> bool:
    """The row's phases are the server's (its events were joined in)."""
    return any(s.phase not in CLIENT_PHASES for s in row.segments)


def _server_tracks(
    process: _Process, events: Sequence[ServerEvent], end_of_case: float
) -> list[tuple[str, _Slice]]:
    """The waits and instants of each connection; returns the workers' slices, (worker
    id, slice), for :func:`_worker_tracks` to place once flows are linked to them."""
    by_conn: dict[str, list[ServerEvent]] = {}
    for event in sorted(events, key=lambda e: e.at):
        by_conn.setdefault(event.conn, []).append(event)
    serving: list[tuple[str, float, float, dict[str, Any]]] = []
    for conn, mine in by_conn.items():
        peer = next((e.peer for e in mine if e.peer), None)
        waiting: tuple[str, float] | None = None  # (what it waits for, since)
        held: tuple[str, float] | None = None  # (worker, since)
        answered_by: str | None = None  # the worker that sent the last response
        for i, event in enumerate(mine):
            if event.ev == Ev.REFUSED:
                # Its own peer: a trace from before refusals had ids of their own gave
                # every refusal the conn "-".
                args = {"conn": conn, "peer": event.peer, **_plain(event.extra)}
                process.instant("refused", "server", event.at, args)
                continue
            if waiting is not None and event.ev in (Ev.TAKEN, Ev.READY, Ev.CLOSED):
                name, since = waiting
                if event.ev == Ev.READY and name == WAITING_ON_CLIENT:
                    process.wait(name, conn, since, event.at, {"conn": conn, "peer": peer})
                    waiting = (WAITING_FOR_WORKER, event.at)
                elif event.ev == Ev.TAKEN or (event.ev == Ev.CLOSED and event.at > since):
                    process.wait(name, conn, since, event.at, {"conn": conn, "peer": peer})
                    waiting = None
            if event.ev == Ev.ACCEPTED:
                waiting = (WAITING_FOR_WORKER, event.at)
            elif event.ev == Ev.GIVEN_BACK:
                waiting = (_given_back_wait(mine, i), event.at)
            if event.ev == Ev.TAKEN:
                held, answered_by = (event.worker or "worker ?", event.at), None
            elif event.ev in (Ev.GIVEN_BACK, Ev.RESPONSE, Ev.CLOSED) and held is not None:
                args = {"conn": conn, "peer": peer, "ended by": event.ev, **_plain(event.extra)}
                serving.append((held[0], held[1], event.at, args))
                answered_by = held[0] if event.ev == Ev.RESPONSE else None
                held = None
            elif event.ev == Ev.HEADER and held is None and answered_by is not None:
                # After a response the worker kept the connection (no give-back): the
                # next request's header starts its next slice.
                held, answered_by = (answered_by, event.at), None
            if event.preempted:
                name = f"conn {conn} preempted: {event.preempted}"
                process.instant(name, "server", event.at, {"peer": peer, **_plain(event.extra)})
            if event.ev == Ev.CLOSED and event.extra.get("deadline"):
                name = f"conn {conn} closed: {event.extra['deadline']} deadline"
                process.instant(name, "server", event.at, {"peer": peer, **_plain(event.extra)})
        if held is not None:
            serving.append((held[0], held[1], max(held[1], end_of_case),
                            {"conn": conn, "peer": peer, "ended by": "end of trace"}))  # fmt: skip
    return [
        (worker, _Slice(f"serving conn {args['conn']}", start, end, {**args, "worker": worker}))
        for worker, start, end, args in sorted(serving, key=lambda s: s[1])
    ]


def _worker_tracks(
    process: _Process, serving: Sequence[tuple[str, _Slice]], names: dict[str, str]
) -> None:
    """A track per worker, by its readable name, in the order the workers first took a
    connection."""
    order = {worker: i for i, worker in enumerate(names)}
    for worker, part in serving:
        name = names.get(worker, worker)
        sort = _SORT_SERVER + 10 * order.get(worker, len(order))
        process.slices(process.track(name, "server", sort), [part])


def _given_back_wait(events: Sequence[ServerEvent], i: int) -> str:
    """The async slice a connection given back at ``events[i]`` waits in."""
    if events[i].extra.get("why") == Why.IDLE:
        return IDLE
    return GIVEN_BACK if give_back_end(events, i) == "taken" else WAITING_ON_CLIENT


def _plain(extra: Any) -> dict[str, Any]:
    return {str(k): v for k, v in dict(extra).items() if isinstance(v, str | int | float | bool)}


def _probe_track(process: _Process, case: Case) -> None:
    """Probes overlap (several in flight when the server is slow): async slices, which
    the viewers stack on one track, one id per probe; a probe held back by the bound has
    its wait to be sent nested in it, and one cut off by the case's end ends there."""
    end_of_case = case.end
    for number, (probe, late) in enumerate(zip(in_order(case), held_back(case), strict=True)):
        args: dict[str, Any] = {"ok": probe.ok, "due": probe.due, "late": late}
        if probe.corrected_s is not None:
            args["latency from due (ms)"] = round(probe.corrected_s * 1000, 3)
        else:
            args["cut off by the case's end, after waiting (ms)"] = round(
                probe.waited_s(end_of_case) * 1000, 3
            )
        if probe.uncorrected_s is not None:
            args["latency from start (ms)"] = round(probe.uncorrected_s * 1000, 3)
        began = probe.start
        end = probe.done if probe.done is not None else max(probe.due, end_of_case)
        ident = f"{process.pid}:probe:{number}"
        name = "LIST probe" if not probe.cut_off else "LIST probe (cut off by the end)"
        process.span(name, "client", ident, probe.due, end, args)
        if late:
            sent = began if began is not None else end
            process.span("held back by the bound: not yet sent", "client", ident, probe.due,
                         max(probe.due, sent), {})  # fmt: skip


def render_trace_events(cases: Iterable[Case], *, order: str = "service") -> dict[str, Any]:
    """The trace as a JSON object ({"traceEvents": [...], ...}) of every case that has a
    timeline, client tracks in ``order`` (:data:`.workers.ORDERS`); ValueError if none
    has."""
    chosen = [c for c in cases if c.has_timeline]
    if not chosen:
        raise ValueError(
            "no case has a timeline (runs record one per case in extra_info['timeline'])"
        )
    events: list[dict[str, Any]] = []
    flows = _Flows()
    for number, case in enumerate(chosen, start=1):
        process = _Process(number, case.id, number, shift=max(0.0, -_earliest(case)))
        process.instant("go", "client", 0.0, {"what": "the case's start: every client released"})
        end_of_case = max([r.end for r in case.requests] + [case.result.wall_time_s])
        serving = _server_tracks(process, case.server_events, end_of_case)
        names = worker_names(case.server_events)
        by_start = {(names.get(w, w), part.start): part for w, part in serving}
        _client_tracks(process, rows(case, order), by_start, flows)
        _worker_tracks(process, serving, names)
        if case.probes:
            _probe_track(process, case)
        events += process.events
    return {
        "traceEvents": events,
        "displayTimeUnit": "ms",
        "otherData": {
            "source": "fileproto report --trace-events",
            "time": "microseconds from each case's start (the instant 'go'); a case with "
            "events before its start is shifted later as a whole",
        },
    }


def _earliest(case: Case) -> float:
    """The earliest time of the case (negative: before its start)."""
    times = [r.connect for r in case.requests] + [p.due for p in case.probes]
    times += [e.at for e in case.server_events]
    return min(times, default=0.0)

"""A run's timelines in the Chrome Trace Event format, for the Perfetto UI
(ui.perfetto.dev, "Open trace file") and chrome://tracing.

One process per case (``process_name`` is the case's id). In it, one track (a "thread")
per client, ``cat`` "client", with the phases of its requests as complete slices
(``ph`` "X"): connecting, sending, waiting for first byte, receiving; one track per
server worker, ``cat`` "server", with a "serving conn N" slice from each time the worker
took the connection to when it gave it back, answered or closed it. The format allows
complete slices on one track only if they nest perfectly, so slices that would overlap
(one asyncio loop serves many connections at once) go on further tracks of the same
name ("loop:812 #2"). The waits of a connection that no worker holds and the LIST
probes (several in flight when the server is slow) are async slices (``ph`` "b"/"e",
one id per connection or probe), which the viewers stack per process: "waiting for a
worker" (accepted, or ``ready`` after a give-back, until taken), "waiting on the client"
(given back mid-request or mid-response, until ``ready``), and "idle" between requests;
refusals and deadline closes are instant events.
Times are microseconds from the case's start.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from fileproto.report.cases import Case
from fileproto.report.phases import give_back_end
from fileproto.trace import Ev, GiveBackWhy, ServerEvent

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


class _Process:
    def __init__(self, pid: int, name: str, sort: int) -> None:
        self.pid = pid
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

    def slices(
        self, track: _Track, parts: Sequence[tuple[str, float, float, dict[str, Any]]]
    ) -> None:
        """Consecutive slices (one request's phases) on one lane of the track."""
        if not parts:
            return
        tid = self._lane(track, parts[0][1], parts[-1][2])
        for name, start, end, args in parts:
            self.events.append(
                {
                    "ph": "X",
                    "cat": track.cat,
                    "name": name,
                    "pid": self.pid,
                    "tid": tid,
                    "ts": round(start * _US, 3),
                    "dur": round(max(0.0, end - start) * _US, 3),
                    "args": args,
                }
            )

    def instant(self, name: str, cat: str, at: float, args: dict[str, Any]) -> None:
        self.events.append(
            {"ph": "i", "s": "p", "cat": cat, "name": name, "pid": self.pid, "tid": 0,
             "ts": round(at * _US, 3), "args": args}
        )  # fmt: skip

    def span(
        self, name: str, cat: str, ident: str, start: float, end: float, args: dict[str, Any]
    ) -> None:
        """A nestable async slice: begin and end paired by (cat, id)."""
        for ph, at in (("b", start), ("e", end)):
            self.events.append(
                {"ph": ph, "cat": cat, "name": name, "id": ident, "pid": self.pid, "tid": 0,
                 "ts": round(at * _US, 3), "args": args if ph == "b" else {}}
            )  # fmt: skip

    def wait(self, name: str, conn: str, start: float, end: float, args: dict[str, Any]) -> None:
        self.span(name, "server", f"{self.pid}:{conn}", start, end, args)


def _client_tracks(process: _Process, case: Case) -> None:
    by_client: dict[int, list[Any]] = {}
    for request in case.requests:
        by_client.setdefault(request.client, []).append(request)
    for client in sorted(by_client):
        track = process.track(f"client {client}", "client", _SORT_CLIENT + client * 10)
        for request in sorted(by_client[client], key=lambda r: r.connect):
            base = {"op": request.op, "port": request.port, "ok": request.ok}
            parts = [
                (phase, start, end, dict(base)) for phase, start, end in request.client_phases()
            ]
            if not parts:
                parts = [("connecting", request.connect, request.connect, dict(base))]
            if request.error:
                parts[-1][3]["error"] = request.error
            process.slices(track, parts)


def _server_tracks(process: _Process, events: Sequence[ServerEvent], end_of_case: float) -> None:
    by_conn: dict[str, list[ServerEvent]] = {}
    for event in sorted(events, key=lambda e: e.at):
        by_conn.setdefault(event.conn, []).append(event)
    workers = sorted({e.worker for e in events if e.worker})
    sort_of = {w: _SORT_SERVER + 10 * i for i, w in enumerate(workers)}
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
            if event.ev == Ev.CLOSED and event.extra.get("deadline"):
                name = f"conn {conn} closed: {event.extra['deadline']} deadline"
                process.instant(name, "server", event.at, {"peer": peer, **_plain(event.extra)})
        if held is not None:
            serving.append((held[0], held[1], max(held[1], end_of_case),
                            {"conn": conn, "peer": peer, "ended by": "end of trace"}))  # fmt: skip
    for worker, start, end, args in sorted(serving, key=lambda s: s[1]):
        track = process.track(worker, "server", sort_of.get(worker, _SORT_SERVER + 9_999))
        process.slices(track, [(f"serving conn {args['conn']}", start, end, args)])


def _given_back_wait(events: Sequence[ServerEvent], i: int) -> str:
    """The async slice a connection given back at ``events[i]`` waits in."""
    if events[i].extra.get("why") == GiveBackWhy.IDLE:
        return IDLE
    return GIVEN_BACK if give_back_end(events, i) == Ev.TAKEN else WAITING_ON_CLIENT


def _plain(extra: Any) -> dict[str, Any]:
    return {str(k): v for k, v in dict(extra).items() if isinstance(v, str | int | float | bool)}


def _probe_track(process: _Process, case: Case) -> None:
    """Probes overlap (several in flight when the server is slow): async slices, which
    the viewers stack on one track, one id per probe, its wait to be sent nested in it."""
    for number, probe in enumerate(sorted(case.probes, key=lambda p: p.due)):
        args: dict[str, Any] = {"ok": probe.ok, "due": probe.due}
        args["latency from due (ms)"] = round(probe.corrected_s * 1000, 3)
        if probe.uncorrected_s is not None:
            args["latency from start (ms)"] = round(probe.uncorrected_s * 1000, 3)
        began = probe.start
        end = max(probe.due, probe.done if probe.done is not None else began or probe.due)
        ident = f"{process.pid}:probe:{number}"
        process.span("LIST probe", "client", ident, probe.due, end, args)
        if began is not None and began > probe.due:
            process.span("late: not yet sent", "client", ident, probe.due, began, {})


def render_trace_events(cases: Iterable[Case]) -> dict[str, Any]:
    """The trace as a JSON object ({"traceEvents": [...], ...}) of every case that has a
    timeline; ValueError if none has."""
    chosen = [c for c in cases if c.has_timeline]
    if not chosen:
        raise ValueError(
            "no case has a timeline (runs record one per case in extra_info['timeline'])"
        )
    events: list[dict[str, Any]] = []
    for number, case in enumerate(chosen, start=1):
        process = _Process(number, case.id, number)
        _client_tracks(process, case)
        end_of_case = max([r.end for r in case.requests] + [case.result.wall_time_s])
        _server_tracks(process, case.server_events, end_of_case)
        if case.probes:
            _probe_track(process, case)
        events += process.events
    return {
        "traceEvents": events,
        "displayTimeUnit": "ms",
        "otherData": {
            "source": "fileproto report --trace-events",
            "time": "microseconds from each case's start",
        },
    }

"""A run's cases as the report reads them: the record, its rounds' durations, and the
timelines when the run recorded them (``timeline`` and ``server_events`` in a case's
extra_info: each client request's phases, the LIST probes, the server's trace events).

:func:`load_cases` reads the benchmark document itself rather than only the records:
the timelines and the server's events are large, optional and read only here, and the
rounds' durations (``stats.data``) are what the rank test of :mod:`.findings` compares.
Every timeline field is optional: a run without timelines (docs/full-run.json) reads as
cases with ``timeline`` None. Malformed timeline entries are skipped, never guessed at.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from fileproto.report.phases import Segment, client_segments, server_segments
from fileproto.report.requests import Request
from fileproto.results import LoadResult
from fileproto.results.document import Document, load_document
from fileproto.trace import Ev, ServerEvent, lenient_number


@dataclass(frozen=True)
class Probe:
    """One LIST probe: due on the schedule, sent (maybe late), answered, failed, or cut
    off by the case's end (no ``done``: docs/trace.md, "Probes cut off")."""

    due: float
    sent: float | None
    first_byte: float | None
    done: float | None
    ok: bool
    #: When its connection began (the probe's actual start); older records lack it.
    connect: float | None = None
    #: Held back by the bound of probes in flight, as recorded; None in older records
    #: (:func:`.probes.held_back` then tells it from the times).
    late: bool | None = None

    @property
    def cut_off(self) -> bool:
        """Still waiting, or not yet sent, when the case ended: no answer, no failure."""
        return self.done is None

    @property
    def corrected_s(self) -> float | None:
        """Latency from when it was due (what a client on the schedule felt); None for
        a probe cut off (its latency is unknown: :meth:`waited_s` is a bound)."""
        return None if self.done is None else self.done - self.due

    @property
    def start(self) -> float | None:
        """When the probe actually began: its connection's start, else its send."""
        return self.connect if self.connect is not None else self.sent

    @property
    def uncorrected_s(self) -> float | None:
        """Latency from when it actually began (hides a stall's queue), as the record's
        probe_sent_s counts it; None if it never began or was cut off."""
        if self.start is None or self.done is None:
            return None
        return self.done - self.start

    def waited_s(self, end: float) -> float:
        """How long it had waited from its due time by ``end`` (the case's end): for a
        probe cut off, a bound from below of its latency."""
        return max(0.0, end - self.due)

    @classmethod
    def of(cls, raw: Any) -> Probe | None:
        if not isinstance(raw, Mapping):
            return None
        due = lenient_number(raw.get("due"))
        if due is None:
            return None
        late = raw.get("late")
        return cls(
            due,
            lenient_number(raw.get("sent")),
            lenient_number(raw.get("first_byte")),
            lenient_number(raw.get("done")),
            raw.get("ok") is True,
            lenient_number(raw.get("connect")),
            late if isinstance(late, bool) else None,
        )


@dataclass(frozen=True)
class Case:
    """A case of the run: its record and what the report reads beside it."""

    result: LoadResult
    #: Seconds per timed round (pytest-benchmark's stats.data), for the rank test.
    durations: tuple[float, ...]
    #: The benchmark's name and param ("thread-UPLOAD-10MiB-c50-w1").
    name: str = ""
    param: str = ""
    requests: tuple[Request, ...] = ()
    probes: tuple[Probe, ...] = ()
    #: Timeline entries left out at the bound (timeline["dropped"]).
    dropped: int = 0
    #: False: the run recorded no timeline for this case.
    has_timeline: bool = False
    server_events: tuple[ServerEvent, ...] = ()
    server_events_dropped: int = 0
    #: The extra_info as recorded (for figures the record may add later).
    info: Mapping[str, Any] = field(default_factory=dict)

    @property
    def id(self) -> str:
        """The param when there is one (unique in a run), else the record's id."""
        return self.param or self.result.id

    @property
    def end(self) -> float:
        """The last moment the timeline knows of: the case ended no earlier."""
        marks = [r.end for r in self.requests]
        for probe in self.probes:
            marks += [
                m for m in (probe.due, probe.connect, probe.sent, probe.done) if m is not None
            ]
        return max(marks, default=0.0)

    def matches(self, wanted: str) -> bool:
        return wanted in (self.param, self.name, self.result.id)

    def conn_events(self) -> dict[int, list[ServerEvent]]:
        """The server's events per client port (joined on ``peer``), in time order."""
        port_of: dict[str, int] = {}
        for event in self.server_events:
            port = event.peer_port
            if port is not None and event.ev == Ev.ACCEPTED:
                port_of.setdefault(event.conn, port)
        joined: dict[int, list[ServerEvent]] = {}
        for event in sorted(self.server_events, key=lambda e: e.at):
            # A refusal joins by its own peer: its conn ("refused-PID-N") has no
            # "accepted" event to name the port.
            port = event.peer_port if event.ev == Ev.REFUSED else port_of.get(event.conn)
            if port is not None:
                joined.setdefault(port, []).append(event)
        return joined

    def segments(self, request: Request, events: Sequence[ServerEvent] | None) -> list[Segment]:
        """The request's time split into phases: with the server's events of its
        connection, the server's (:func:`.phases.server_segments`); else the client's
        own, split by what TCP told it (:func:`.phases.client_segments`)."""
        if not events:
            return client_segments(request)
        return server_segments(request, events)


def _timeline(info: Mapping[str, Any]) -> tuple[tuple[Request, ...], tuple[Probe, ...], int, bool]:
    raw = info.get("timeline")
    if not isinstance(raw, Mapping):
        return (), (), 0, False
    clients = raw.get("clients")
    probes = raw.get("probes")
    requests = tuple(
        r for r in (Request.of(x) for x in (clients if isinstance(clients, list) else [])) if r
    )
    found = tuple(
        p for p in (Probe.of(x) for x in (probes if isinstance(probes, list) else [])) if p
    )
    dropped = raw.get("dropped")
    return requests, found, dropped if isinstance(dropped, int) else 0, True


def _events(info: Mapping[str, Any]) -> tuple[tuple[ServerEvent, ...], int]:
    raw = info.get("server_events")
    events = tuple(
        e for e in (ServerEvent.of(x) for x in (raw if isinstance(raw, list) else [])) if e
    )
    dropped = info.get("server_events_dropped")
    return events, dropped if isinstance(dropped, int) else 0


def _durations(bench: Mapping[str, Any]) -> tuple[float, ...]:
    stats = bench.get("stats")
    data = stats.get("data") if isinstance(stats, Mapping) else None
    if not isinstance(data, list):
        return ()
    return tuple(float(x) for x in data if lenient_number(x) is not None)


def load_cases(source: Document | Any) -> list[Case]:
    """The matrix cases of a benchmark document (or file), in file order."""
    document = load_document(source)
    out = []
    for index, bench in enumerate(document["benchmarks"]):
        if not isinstance(bench, Mapping):
            raise ValueError(f"benchmarks[{index}] is not an object")
        info = bench.get("extra_info")
        if not isinstance(info, Mapping) or "operation" not in info:
            continue
        name = str(bench.get("name") or bench.get("fullname") or f"benchmarks[{index}]")
        requests, probes, dropped, has_timeline = _timeline(info)
        events, events_dropped = _events(info)
        out.append(
            Case(
                result=LoadResult.from_extra_info(info, name),
                durations=_durations(bench),
                name=name,
                param=str(bench.get("param") or ""),
                requests=requests,
                probes=probes,
                dropped=dropped,
                has_timeline=has_timeline,
                server_events=events,
                server_events_dropped=events_dropped,
                info=info,
            )
        )
    return out


def cases_of(results: Iterable[LoadResult]) -> list[Case]:
    """Cases from bare records (no rounds' durations, no timelines)."""
    return [Case(result=r, durations=(), name=r.name, info=r.extra_info()) for r in results]

"""What one round of a load did: every client's outcome and the round's wall time."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from fileproto.results import LoadResult, size_mib_of
from fileproto.results.felt import Background, Percentiles
from fileproto.results.timeline import ClientSpan, ProbeSpan, TcpSpan, Timeline
from fileproto.stress.spec import LoadSpec


@dataclass
class ClientOutcome:
    """One client worker's transfer. Mutable: verification may turn a success into a
    failure after the round (the server stored other bytes)."""

    index: int
    ok: bool
    seconds: float
    size: int
    name: str
    error: str | None = None
    error_kind: str | None = None
    #: File bytes moved, also by a transfer that did not finish.
    moved: int = 0
    #: Seconds from the request's first byte sent to the answer's first byte, and to
    #: its end; None when no answer came.
    ttfb: float | None = None
    total: float | None = None
    #: The request's phases, time.monotonic() seconds (the same clock in every process
    #: of the machine): connecting began, connected, fully sent, first byte, done; and
    #: the client's local port. None: not reached (connect: no request was made).
    connect: float | None = None
    connected: float | None = None
    sent: float | None = None
    first_byte: float | None = None
    done: float | None = None
    port: int | None = None
    #: What TCP told the client of the request (fileproto/timing.py's Phases, as plain
    #: objects: they cross from client processes).
    sending: dict[str, float] | None = None
    waiting: dict[str, float] | None = None
    unsent_at_sent: int | None = None


@dataclass
class RoundOutcome:
    """One round: all clients started together; the round ended with the last one."""

    spec: LoadSpec
    clients: list[ClientOutcome]
    wall_time: float
    verified: bool
    #: The load generator's process, or its client processes summed (peak RSS).
    client_peak_rss: int = 0
    interrupted: bool = False
    notes: list[str] = field(default_factory=list)
    #: The LIST probe's latencies during the round (a failure counts as its timeout);
    #: None: no probe ran.
    probe_latencies: list[float] | None = None
    probe_failures: int = 0
    #: The connections held open beside the clients, if any.
    background: Background | None = None
    #: The round's start, the go (time.monotonic()); every client is due then, and
    #: the timeline counts from it. None: not known (the figures are then from each
    #: request's first byte sent).
    started: float | None = None
    #: The probe's latencies from each probe's actual start (uncorrected), how many it
    #: sent late because ``probe_in_flight`` were waiting, and each probe's phases.
    probe_sent_latencies: list[float] | None = None
    probe_late: int = 0
    probe_in_flight: int | None = None
    probe_spans: list[ProbeSpan] = field(default_factory=list)
    #: Probes due before the round ended, and of them answered and cut off by its end.
    probe_due: int = 0
    probe_answered: int = 0
    probe_cut_off: int = 0
    #: Our server's trace events of the round (docs/trace.md), if it was traced.
    server_events: Sequence[Mapping[str, Any]] | None = None
    server_events_dropped: int = 0

    @property
    def successes(self) -> int:
        return sum(o.ok for o in self.clients)

    @property
    def failures(self) -> int:
        return self.spec.clients - self.successes

    @property
    def avg_time(self) -> float:
        times = [o.seconds for o in self.clients if o.ok]
        return sum(times) / len(times) if times else 0.0

    @property
    def throughput(self) -> float:
        """Per-client throughput (file bytes / that client's time), averaged: the
        classic table's figure."""
        rates = [o.size / o.seconds for o in self.clients if o.ok and o.seconds > 0]
        return sum(rates) / len(rates) if rates else 0.0

    @property
    def aggregate(self) -> float:
        moved = sum(o.size for o in self.clients if o.ok)
        return moved / self.wall_time if self.wall_time > 0 else 0.0

    @property
    def moved(self) -> int:
        """File bytes the successful clients moved."""
        return sum(o.size for o in self.clients if o.ok)

    @property
    def moved_all(self) -> int:
        """File bytes every client moved, unfinished transfers included."""
        return sum(o.moved for o in self.clients)

    @property
    def failure_kinds(self) -> dict[str, int]:
        kinds: dict[str, int] = {}
        for o in self.clients:
            if not o.ok:
                kind = o.error_kind or "unknown"
                kinds[kind] = kinds.get(kind, 0) + 1
        return kinds

    @property
    def ttfbs(self) -> list[float]:
        """Time to first byte from each request's first byte sent (uncorrected)."""
        return [o.ttfb for o in self.clients if o.ttfb is not None]

    @property
    def totals(self) -> list[float]:
        return [o.total for o in self.clients if o.total is not None]

    @property
    def ttfbs_due(self) -> list[float]:
        """Time to first byte from the round's start: every client was due then, so
        time spent waiting to connect counts too (no coordinated omission)."""
        if self.started is None:
            return self.ttfbs
        return [
            o.first_byte - self.started
            for o in self.clients
            if o.ttfb is not None and o.first_byte is not None
        ]

    @property
    def totals_due(self) -> list[float]:
        if self.started is None:
            return self.totals
        return [
            o.done - self.started
            for o in self.clients
            if o.total is not None and o.done is not None
        ]

    def timeline(self) -> Timeline | None:
        """Each request's phases and each probe's, from the round's start; bounded."""
        if self.started is None:
            return None
        start = self.started

        def at(moment: float | None) -> float | None:
            return None if moment is None else round(moment - start, 6)

        clients = [
            ClientSpan(
                o.index,
                self.spec.operation,
                o.port,
                o.ok,
                None if o.ok else f"{o.error_kind}: {o.error}",
                round(o.connect - start, 6),
                at(o.connected),
                at(o.sent),
                at(o.first_byte),
                at(o.done),
                TcpSpan.of(o.sending, o.waiting, o.unsent_at_sent),
            )
            for o in sorted(self.clients, key=lambda o: o.index)
            if o.connect is not None
        ]
        return Timeline.bounded(clients, self.probe_spans)

    @property
    def first_error(self) -> str | None:
        for o in sorted(self.clients, key=lambda o: o.index):
            if not o.ok:
                return f"client {o.index}: {o.error_kind}: {o.error}"
        return None

    def result(
        self,
        server_kind: str,
        server_workers: int | str,
        *,
        dispatch: str | None = None,
        scenario: str | None = None,
    ) -> LoadResult:
        """This round's figures as a results record (docs/architecture.md, "Benchmark
        semantics")."""
        spec = self.spec
        moved_Bps = self.moved_all / self.wall_time if self.wall_time > 0 else 0.0
        offered = spec.clients * spec.rate if spec.rate else None
        return LoadResult(
            operation=spec.operation,
            size_mib=size_mib_of(spec.source.size),
            size_bytes=spec.source.size,
            client_workers=spec.clients,
            server_workers=server_workers,
            server_kind=server_kind,
            method=spec.method,
            dialect=spec.dialect,
            avg_time_s=self.avg_time,
            throughput_Bps=self.throughput,
            aggregate_Bps=self.aggregate,
            wall_time_s=self.wall_time,
            successes=self.successes,
            failures=self.failures,
            verified=self.verified,
            first_error=self.first_error,
            client_peak_rss_bytes=self.client_peak_rss,
            interrupted=self.interrupted,
            dispatch=dispatch,
            scenario=scenario,
            rate_Bps=spec.rate,
            deadline_s=spec.deadline,
            moved_bytes=self.moved_all,
            moved_Bps=moved_Bps,
            offered_Bps=offered,
            ratio_to_offered=moved_Bps / offered if offered else None,
            failure_kinds=self.failure_kinds,
            ttfb_s=Percentiles.of(self.ttfbs_due),
            request_s=Percentiles.of(self.totals_due),
            probe_s=None if self.probe_latencies is None else Percentiles.of(self.probe_latencies),
            probe_failures=None if self.probe_latencies is None else self.probe_failures,
            background=self.background,
            ttfb_sent_s=Percentiles.of(self.ttfbs) if self.started is not None else None,
            request_sent_s=Percentiles.of(self.totals) if self.started is not None else None,
            probe_sent_s=(
                None
                if self.probe_sent_latencies is None
                else Percentiles.of(self.probe_sent_latencies)
            ),
            probe_late=None if self.probe_latencies is None else self.probe_late,
            probe_in_flight=None if self.probe_latencies is None else self.probe_in_flight,
            probe_due=None if self.probe_latencies is None else self.probe_due,
            probe_answered=None if self.probe_latencies is None else self.probe_answered,
            probe_cut_off=None if self.probe_latencies is None else self.probe_cut_off,
            timeline=self.timeline(),
            server_events=self.server_events,
            server_events_dropped=None
            if self.server_events is None
            else self.server_events_dropped,
        )


def merge_rounds(
    rounds: list[RoundOutcome],
    server_kind: str,
    server_workers: int | str,
    *,
    dispatch: str | None = None,
    scenario: str | None = None,
) -> LoadResult:
    """One case's record over its rounds (see LoadResult.merge); the percentiles are
    over every request and probe of every round, the timeline the last round's."""
    merged = LoadResult.merge(
        [
            r.result(server_kind, server_workers, dispatch=dispatch, scenario=scenario)
            for r in rounds
        ]
    )
    probes = [r.probe_latencies for r in rounds if r.probe_latencies is not None]
    sent = [r.probe_sent_latencies for r in rounds if r.probe_sent_latencies is not None]
    timed = all(r.started is not None for r in rounds)
    return dataclasses.replace(
        merged,
        ttfb_s=Percentiles.of([t for r in rounds for t in r.ttfbs_due]),
        request_s=Percentiles.of([t for r in rounds for t in r.totals_due]),
        probe_s=Percentiles.of([t for p in probes for t in p]) if probes else None,
        ttfb_sent_s=Percentiles.of([t for r in rounds for t in r.ttfbs]) if timed else None,
        request_sent_s=Percentiles.of([t for r in rounds for t in r.totals]) if timed else None,
        probe_sent_s=Percentiles.of([t for p in sent for t in p]) if sent else None,
    )

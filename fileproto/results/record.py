"""One case's figures (docs/architecture.md, "Benchmark semantics") and their
``extra_info`` form.

A :class:`LoadResult` is what one load (an operation, a file size, N client workers)
measured against one server, over one or more rounds. Its ``extra_info`` form is what
pytest-benchmark saves with the case; the keys and their meaning are fixed, because
``pytest-benchmark compare`` and ``fileproto report`` read runs saved long ago
(``tests/data/old-full-run.json`` is one).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from fileproto.results.felt import Background, Percentiles, pooled, sum_counts
from fileproto.results.keys import KEYS, KNOWN, NULLABLE, OPTIONAL, REQUIRED
from fileproto.results.timeline import Timeline
from fileproto.units import MIB


def case_id(
    kind: str, operation: str, size_mib: int | float, clients: int, server_workers: int | str | None
) -> str:
    """A classic case's name: thread-UPLOAD-10MiB-c5-w1; without ``-w`` when the server's
    workers are not ours to name (None)."""
    name = f"{kind}-{operation}-{size_mib}MiB-c{clients}"
    return name if server_workers is None else f"{name}-w{server_workers}"


def size_mib_of(size_bytes: int) -> int | float:
    """The recorded size in MiB: a whole number, or a fraction to 3 decimals (0.5)."""
    return size_bytes // MIB if size_bytes % MIB == 0 else round(size_bytes / MIB, 3)


@dataclass(frozen=True)
class LoadResult:
    """A case's outcome. Times are seconds, rates bytes per second; over several rounds,
    times and rates are averaged and counts summed (:meth:`merge`)."""

    operation: str
    size_mib: int | float
    size_bytes: int
    client_workers: int
    #: An int, or "external" for a server we did not start.
    server_workers: int | str
    server_kind: str
    #: How the client workers ran: "thread" or "process".
    method: str
    #: Average per-client time of the clients that succeeded.
    avg_time_s: float
    #: Per-client throughput (file bytes / that client's time), averaged: the classic
    #: table's figure.
    throughput_Bps: float
    #: All bytes moved / the case's wall time.
    aggregate_Bps: float
    wall_time_s: float
    successes: int
    failures: int
    #: Every transferred file was compared byte for byte, and none failed.
    verified: bool
    first_error: str | None
    dialect: str | None = None
    #: Client memory: the load generator's process, or its client processes summed.
    client_peak_rss_bytes: int | None = None
    rounds: int | None = None
    interrupted: bool | None = None
    #: Peak resident memory summed over the server's processes (ours only).
    server_peak_rss_bytes: int | None = None
    #: The machine's ceiling for the same bytes, measured in the same run (fileproto.load.limit).
    limit_time_s: float | None = None
    limit_Bps: float | None = None
    ratio_to_limit: float | None = None
    # -- what clients felt, and clients that wait; None in older runs ----------------
    #: The server's dispatch: "ready", "accept", or "loop" (the event-loop kind).
    dispatch: str | None = None
    #: A slow-client case's scenario ("idle", "slow-links", or a stress run's own);
    #: None for a classic case. The report puts these cases in a table of their own.
    scenario: str | None = None
    #: Each client's link rate, both directions (bytes/s on the wire).
    rate_Bps: float | None = None
    #: Seconds after the go when clients still running were stopped ("deadline").
    deadline_s: float | None = None
    #: File bytes every client moved, unfinished transfers included (an unfinished
    #: upload counts what it handed to its socket).
    moved_bytes: int | None = None
    #: moved_bytes / the case's wall time.
    moved_Bps: float | None = None
    #: What the links could carry: clients x rate_Bps.
    offered_Bps: float | None = None
    #: moved_Bps / offered_Bps. The rate counts wire bytes and files travel as base64
    #: (4 wire bytes per 3 file bytes), so every link busy the whole case reads 0.75.
    ratio_to_offered: float | None = None
    #: Failed clients by kind ("deadline", "server error", "reset", ...).
    failure_kinds: Mapping[str, int] | None = None
    #: Per request of the case: time to the first response byte, and to its end,
    #: from the case's start (every client is due then: docs/trace.md). Runs without
    #: ``ttfb_sent_s`` measured these from the request's first byte sent instead.
    ttfb_s: Percentiles | None = None
    request_s: Percentiles | None = None
    #: The LIST probe's latency (a new connection every 100 ms) from the time the
    #: schedule said it was due, so a server that stops answering shows in every probe
    #: it kept waiting (no coordinated omission); a probe unanswered within its timeout
    #: counts as that timeout, and as a probe failure. Runs without ``probe_sent_s``
    #: measured it from each probe's actual start, one probe at a time.
    probe_s: Percentiles | None = None
    probe_failures: int | None = None
    #: Idle, slowloris and parked connections held open beside the clients.
    background: Background | None = None
    # -- latency without coordinated omission, and timelines (docs/trace.md) ----------
    #: The same figures uncorrected: from each request's (probe's) actual first byte
    #: sent (connection start), as most load tools report them.
    ttfb_sent_s: Percentiles | None = None
    request_sent_s: Percentiles | None = None
    probe_sent_s: Percentiles | None = None
    #: Probes not sent when due because ``probe_in_flight`` were already waiting:
    #: sent later (their latency still counts from the due time) or, at the case's
    #: end, never.
    probe_late: int | None = None
    probe_in_flight: int | None = None
    #: Each request's and probe's phases (the last round's), bounded.
    timeline: Timeline | None = None
    #: Our server's trace events of the case (the last round's), bounded; ``at`` is
    #: seconds from the case's start.
    server_events: Sequence[Mapping[str, Any]] | None = None
    server_events_dropped: int | None = None
    #: The time per client of each round with a client that succeeded, in the order
    #: they ran: what the verdicts compare (fileproto.results.verdict).
    round_times_s: Sequence[float] | None = None
    #: Probes due before the case ended: each answered OK, failed (probe_failures) or
    #: cut off, still waiting or unsent at the end (docs/trace.md, "Probes cut off").
    probe_due: int | None = None
    probe_answered: int | None = None
    probe_cut_off: int | None = None
    #: The pool's schedule (``fileproto serve --schedule``: "mlfq", "rr", "fifo"): the
    #: one chosen with ``--fileproto-schedule``, else the default; None where no run
    #: queue decides, or in a run that did not record it.
    schedule: str | None = None
    #: Keys of extra_info this version does not know, kept as they were.
    extra: Mapping[str, Any] = field(default_factory=dict)
    #: The benchmark's name; not part of extra_info.
    name: str = ""

    @property
    def failed(self) -> bool:
        """True if the case gets the failure marker in the tables."""
        return self.failures > 0 or not self.verified

    @property
    def id(self) -> str:
        """e.g. thread-UPLOAD-10MiB-c5-w1, as the matrix names its cases."""
        return case_id(
            self.server_kind,
            self.operation,
            self.size_mib,
            self.client_workers,
            self.server_workers,
        )

    # -- rounds, and figures added after the run ------------------------------------

    @classmethod
    def merge(cls, rounds: Sequence[LoadResult]) -> LoadResult:
        """One case over its rounds: times and rates averaged, counts summed, the
        clients' peak memory the highest, verified only if every round was. A record
        that merged several rounds already weighs as many."""
        if not rounds:
            raise ValueError("no rounds to merge")
        weights = [r.rounds or 1 for r in rounds]
        count = sum(weights)

        def mean(key: str) -> float:
            return (
                sum(w * float(getattr(r, key)) for w, r in zip(weights, rounds, strict=True))
                / count
            )

        peaks = [r.client_peak_rss_bytes for r in rounds if r.client_peak_rss_bytes is not None]

        def total(key: str) -> Any:
            values = [getattr(r, key) for r in rounds if getattr(r, key) is not None]
            return sum(values) if values else None

        def average(key: str) -> float | None:
            pairs = zip(weights, rounds, strict=True)
            known = [(w, float(getattr(r, key))) for w, r in pairs if getattr(r, key) is not None]
            return sum(w * v for w, v in known) / sum(w for w, _ in known) if known else None

        backgrounds = [r.background for r in rounds if r.background is not None]
        kinds = [r.failure_kinds for r in rounds if r.failure_kinds is not None]
        return dataclasses.replace(
            rounds[-1],
            avg_time_s=mean("avg_time_s"),
            throughput_Bps=mean("throughput_Bps"),
            aggregate_Bps=mean("aggregate_Bps"),
            wall_time_s=mean("wall_time_s"),
            successes=sum(r.successes for r in rounds),
            failures=sum(r.failures for r in rounds),
            client_peak_rss_bytes=max(peaks) if peaks else None,
            verified=all(r.verified for r in rounds),
            first_error=next((r.first_error for r in rounds if r.first_error), None),
            rounds=count,
            interrupted=any(bool(r.interrupted) for r in rounds),
            moved_bytes=total("moved_bytes"),
            moved_Bps=average("moved_Bps"),
            ratio_to_offered=average("ratio_to_offered"),
            failure_kinds=sum_counts(kinds) if kinds else None,
            # Without the raw values, a bound: each figure the worst round's, counts summed
            # (fileproto.stress.merge_rounds pools the raw values instead).
            ttfb_s=pooled([r.ttfb_s for r in rounds]),
            request_s=pooled([r.request_s for r in rounds]),
            probe_s=pooled([r.probe_s for r in rounds]),
            probe_failures=total("probe_failures"),
            ttfb_sent_s=pooled([r.ttfb_sent_s for r in rounds]),
            request_sent_s=pooled([r.request_sent_s for r in rounds]),
            probe_sent_s=pooled([r.probe_sent_s for r in rounds]),
            probe_late=total("probe_late"),
            probe_due=total("probe_due"),
            probe_answered=total("probe_answered"),
            probe_cut_off=total("probe_cut_off"),
            background=Background.merge(backgrounds) if backgrounds else None,
            round_times_s=[t for r in rounds for t in r.times_of_rounds()],
        )

    def times_of_rounds(self) -> list[float]:
        """The time per client of each round that had one (a round in which every client
        failed has none). An older run of several rounds did not keep them: empty."""
        if self.round_times_s is not None:
            times = list(self.round_times_s)
        elif (self.rounds or 1) == 1:
            times = [self.avg_time_s]
        else:
            times = []
        return [t for t in times if t > 0]

    def with_server_peak(self, peak_rss: int) -> LoadResult:
        return dataclasses.replace(self, server_peak_rss_bytes=peak_rss)

    def with_limit(self, seconds: float, throughput: float) -> LoadResult:
        """Add the machine's ceiling for this size; the ratio is our time over it."""
        return dataclasses.replace(
            self,
            limit_time_s=seconds,
            limit_Bps=throughput,
            ratio_to_limit=self.avg_time_s / seconds if seconds else None,
        )

    # -- extra_info -----------------------------------------------------------------

    def extra_info(self) -> dict[str, Any]:
        """The benchmark's extra_info: every known key in its fixed order; optional
        keys only when known (a stress run has no server memory), then unknown ones."""
        info: dict[str, Any] = {}
        for key in KEYS:
            value = getattr(self, key)
            if value is not None or key in REQUIRED:
                info[key] = _jsonable(value)
        info.update(self.extra)
        return info

    @classmethod
    def from_extra_info(cls, info: Mapping[str, Any], name: str = "") -> LoadResult:
        """Read one benchmark's ``extra_info``; ValueError names the benchmark and the
        fields that are missing or of the wrong type."""
        missing = [key for key in REQUIRED if key not in info]
        if missing:
            raise ValueError(
                f"benchmark {name!r}: extra_info lacks required field(s) {', '.join(missing)}"
            )
        values: dict[str, Any] = {"name": name}
        for key, convert in (*REQUIRED.items(), *OPTIONAL.items()):
            raw = info.get(key)
            if raw is None and key in NULLABLE:
                values[key] = None
                continue
            try:
                values[key] = convert(raw)
            except (TypeError, ValueError) as exc:
                raise ValueError(f"benchmark {name!r}: extra_info field {key!r}: {exc}") from None
        values["extra"] = {k: v for k, v in info.items() if k not in KNOWN}
        return cls(**values)


# -- field converters: strict enough that a table never shows a wrong-looking number ------


def _jsonable(value: Any) -> Any:
    """A field as extra_info holds it: the nested records as plain dicts."""
    if isinstance(value, Percentiles | Background | Timeline):
        return value.as_dict()
    if isinstance(value, Mapping):
        return dict(value)
    if isinstance(value, tuple | list):
        return [_jsonable(v) for v in value]
    return value

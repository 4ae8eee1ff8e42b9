"""Runs of the same loads under different schedules, side by side (``fileproto report
RUN.json --beside OTHER.json``; docs/architecture.md, "Scheduling").

Each run records its pools' schedule (``--fileproto-schedule``: mlfq, rr, fifo); the
event loops interleave on their own and show as ``loop``. For every load the runs share
(operation, size, clients, server workers), one row per server and schedule: the LIST
probe's latency from its due time, the mean time per client and how the clients' times
spread (first come, first served finishes clients one after another; sharing finishes
them together), the mean against fifo's, and the timelines where the interleaving shows
on the worker lanes. Findings say in words what each schedule bought and what it cost.
"""

from __future__ import annotations

import functools
import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from fileproto.report.cases import Case
from fileproto.report.htmlparts import STYLE, escape, figure, png_uri, table
from fileproto.report.timeline import render_timeline_png, title_of
from fileproto.results.record import LoadResult

#: The schedule the others are measured against (today's order, before preemption).
BASELINE = "fifo"
HEADERS = (
    "server",
    "schedule",
    "LIST probe p50",
    "p99",
    "probes failed",
    "mean per client",
    "clients' times: min to max",
    "sd",
    "mean / fifo's",
)
TEXT = frozenset({"server", "schedule"})


def schedule_of(result: LoadResult) -> str:
    """The schedule a case ran under: the recorded one, ``loop`` for an event loop,
    ``default`` for a pool of a run that did not record it."""
    if result.schedule:
        return result.schedule
    return "loop" if result.dispatch == "loop" else "default"


@dataclass(frozen=True)
class Side:
    """One case of a load: a server under one schedule."""

    case: Case

    @property
    def result(self) -> LoadResult:
        return self.case.result

    @property
    def schedule(self) -> str:
        return schedule_of(self.result)

    @property
    def times(self) -> list[float]:
        """Each client's time (from the go to the end of its transfer) that succeeded,
        from the timeline (its last round)."""
        return sorted(r.done for r in self.case.requests if r.ok and r.done is not None)


@dataclass(frozen=True)
class Load:
    """A load the runs share, and its cases."""

    operation: str
    size_mib: float
    clients: int
    workers: int
    sides: tuple[Side, ...]

    @property
    def title(self) -> str:
        workers = f"{self.workers} worker{'' if self.workers == 1 else 's'}"
        return f"{self.clients} clients {self.operation} {self.size_mib:g} MiB on {workers}"

    def baseline(self, kind: str) -> Side | None:
        return next(
            (s for s in self.sides if s.result.server_kind == kind and s.schedule == BASELINE),
            None,
        )


def loads(runs: Sequence[Sequence[Case]]) -> list[Load]:
    """The loads of the classic cases, each with its cases from every run, by server
    kind then run order."""
    found: dict[tuple[str, float, int, int], list[Side]] = {}
    for run in runs:
        for case in run:
            r = case.result
            if r.scenario is not None or not isinstance(r.server_workers, int):
                continue
            key = (r.operation, r.size_mib, r.client_workers, r.server_workers)
            found.setdefault(key, []).append(Side(case))
    order = {kind: i for i, kind in enumerate(dict.fromkeys(
        s.result.server_kind for sides in found.values() for s in sides
    ))}  # fmt: skip
    return [
        Load(*key, sides=tuple(sorted(sides, key=lambda s: order[s.result.server_kind])))
        for key, sides in sorted(found.items())
        if len({s.schedule for s in sides}) > 1
    ]


def _seconds(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value * 1000:.0f} ms" if value < 1 else f"{value:.2f} s"


def row(load: Load, side: Side) -> list[str]:
    r = side.result
    probe = r.probe_s
    times = side.times
    base = load.baseline(r.server_kind)
    ratio = "-"
    if base is not None and base.result.avg_time_s > 0 and r.avg_time_s > 0:
        ratio = f"{r.avg_time_s / base.result.avg_time_s:.2f}x"
    return [
        r.server_kind,
        side.schedule,
        _seconds(probe.p50 if probe else None),
        _seconds(probe.p99 if probe else None),
        str(r.probe_failures or 0),
        _seconds(r.avg_time_s),
        f"{_seconds(times[0])} to {_seconds(times[-1])}" if times else "-",
        _seconds(statistics.pstdev(times)) if len(times) > 1 else "-",
        ratio,
    ]


def findings(load: Load) -> list[str]:
    """What each schedule bought and cost against fifo on the same server, in words."""
    out = []
    for side in load.sides:
        base = load.baseline(side.result.server_kind)
        if base is None or side is base or side.schedule == "loop":
            continue
        r, b = side.result, base.result
        if not (r.probe_s and b.probe_s and r.avg_time_s > 0 and b.avg_time_s > 0):
            continue
        mine, theirs = side.times, base.times
        spread = ""
        if len(mine) > 1 and len(theirs) > 1:
            spread = (
                f"; the clients finished between {_seconds(mine[0])} and {_seconds(mine[-1])} "
                f"(fifo: {_seconds(theirs[0])} to {_seconds(theirs[-1])})"
            )
        failed = (r.probe_failures or 0, b.probe_failures or 0)
        out.append(
            f"{r.server_kind}, {side.schedule}: the LIST probe's p99 {_seconds(r.probe_s.p99)} "
            f"against fifo's {_seconds(b.probe_s.p99)} ({failed[0]} failed against "
            f"{failed[1]}); the mean time per client {_seconds(r.avg_time_s)}, "
            f"{r.avg_time_s / b.avg_time_s:.2f}x fifo's{spread}."
        )
    for side in load.sides:
        if side.schedule == "loop" and side.result.probe_s is not None:
            out.append(
                f"{side.result.server_kind} (event loops, which interleave every connection "
                f"by themselves): probe p99 {_seconds(side.result.probe_s.p99)}, mean per "
                f"client {_seconds(side.result.avg_time_s)}."
            )
    return out


def _draw(case: Case, path: Path) -> None:
    render_timeline_png(case, path)


def render_schedules_html(runs: Sequence[Sequence[Case]], sources: Sequence[str]) -> str:
    """The page: per load, the table, the findings and every case's timeline."""
    found = loads(runs)
    parts = [
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>",
        f"<title>Schedules side by side</title><style>{STYLE}</style></head><body>",
        "<h1>Schedules side by side</h1>",
        "<p>Runs: " + ", ".join(f"<code>{escape(s)}</code>" for s in sources) + ". Probe "
        "latency from each LIST's due time; a client's time from the go to the end of its "
        "transfer (the timeline's last round); the black ticks on a timeline are "
        "preemptions (docs/trace.md).</p>",
    ]
    if not found:
        parts.append("<p>The runs share no load under two schedules.</p>")
    for load in found:
        parts.append(f"<h2>{escape(load.title)}</h2>")
        rows = [row(load, side) for side in load.sides]
        marked = [bool(s.result.probe_failures) for s in load.sides]
        parts.append(table(HEADERS, rows, marked, TEXT, "schedules"))
        parts.append(
            '<ul class="notes">' + "".join(f"<li>{escape(f)}</li>" for f in findings(load))
            + "</ul>"
        )  # fmt: skip
        for side in load.sides:
            if not side.case.requests:
                continue
            uri = png_uri(functools.partial(_draw, side.case))
            caption = f"{title_of(side.case)}, {side.schedule}"
            parts.append(figure(uri, caption, caption, "timeline"))
    parts.append("</body></html>")
    return "\n".join(parts)

"""The LIST probes of a case's timeline as the reports show them (docs/trace.md): which
the bound of probes in flight held back, which were cut off by the case's end, and the
waits their percentiles count when the record has no figures of its own."""

from __future__ import annotations

from collections.abc import Sequence

from fileproto.load.latency import PROBE_IN_FLIGHT
from fileproto.report.cases import Case, Probe
from fileproto.results.felt import Percentiles, counted_waits


def in_order(case: Case) -> list[Probe]:
    return sorted(case.probes, key=lambda p: p.due)


def held_back(case: Case) -> list[bool]:
    """Per probe (in due order): held back by the bound of probes in flight. As the
    record says where it says so; in a record from before it did, from the times: when
    the probe was due, ``in_flight`` probes due before it were still waiting, or one due
    before it was not yet sent (probes go out in schedule order)."""
    probes = in_order(case)
    if all(p.late is not None for p in probes):
        return [bool(p.late) for p in probes]
    bound = case.result.probe_in_flight or PROBE_IN_FLIGHT
    out: list[bool] = []
    waiting: list[float | None] = []  # when each earlier probe still out there ended
    latest_start = float("-inf")  # of the earlier probes; +inf once one never started
    for probe in probes:
        due = probe.due
        waiting = [end for end in waiting if end is None or end > due]
        inferred = latest_start > due or len(waiting) >= bound
        out.append(probe.late if probe.late is not None else inferred)
        start = probe.start
        latest_start = max(latest_start, float("inf") if start is None else start)
        if start is not None:
            waiting.append(probe.done)
    return out


def probe_waits(case: Case) -> tuple[Percentiles | None, Percentiles | None]:
    """(from the due times, from the actual starts) over the timeline's probes, counted
    as the record counts them (:func:`fileproto.results.felt.counted_waits`)."""
    end = case.end
    ended = [p for p in case.probes if not p.cut_off]
    cut = [p for p in case.probes if p.cut_off]
    due = counted_waits([p.corrected_s or 0.0 for p in ended], [p.waited_s(end) for p in cut])
    sent = counted_waits(
        [s for s in (p.uncorrected_s for p in ended) if s is not None],
        [end - p.start for p in cut if p.start is not None],
    )
    return Percentiles.of(due), Percentiles.of(sent)


def counts(probes: Sequence[Probe], late: Sequence[bool]) -> dict[str, int]:
    """How many were due, answered, failed, cut off and late (the timeline's own)."""
    return {
        "due": len(probes),
        "answered": sum(p.ok for p in probes),
        "failed": sum(not p.ok and not p.cut_off for p in probes),
        "cut off": sum(p.cut_off for p in probes),
        "late": sum(late),
    }

"""Responsiveness under load: the LIST probe's latency, timed from each probe's due
time (docs/trace.md) and, where the record has it, from its actual start beside."""

from __future__ import annotations

from collections.abc import Sequence

from fileproto.load.latency import PROBE_TIMEOUT
from fileproto.report.cases import Case
from fileproto.report.findings.index import Index, dispatches_of, model_of
from fileproto.report.findings.topics import Finding
from fileproto.report.findings.words import clients, ms, workers
from fileproto.report.order import size_text
from fileproto.report.probes import probe_waits
from fileproto.results.felt import Percentiles, percentiles_of

#: Where a record keeps the probe's latency timed from each probe's actual start (the
#: uncorrected figure beside probe_s, which is timed from each probe's due time).
UNCORRECTED_KEYS = ("probe_sent_s",)


def probe_figures(case: Case) -> tuple[Percentiles | None, Percentiles | None]:
    """(corrected, uncorrected) LIST probe latency as the record holds them: probe_s and,
    if the record has it, its uncorrected figure; from the timeline's probes, counted
    the same way (docs/trace.md, "Probes cut off"), only when the record has no probe
    figures (the timeline is the last round's, and bounded)."""
    uncorrected: Percentiles | None = case.result.probe_sent_s
    if uncorrected is None:
        for key in UNCORRECTED_KEYS:
            raw = case.info.get(key)
            if isinstance(raw, dict):
                try:
                    uncorrected = percentiles_of(raw)
                except (TypeError, ValueError):
                    continue
                break
    if case.result.probe_s is not None:
        return case.result.probe_s, uncorrected
    if case.probes:
        return probe_waits(case)
    return None, uncorrected


#: Fewer probes than this in a case are too few for a p99 to rank it by.
FEW_PROBES = 10


def _worst_caveat(worst: Percentiles, others: Sequence[Percentiles]) -> str:
    """Why the worst case's rank is weak, if it is: a p99 shared with other cases (as
    at the probe timeout, in runs that counted a waiting probe as the timeout), or a
    handful of probes."""
    notes = []
    tied = sum(1 for p in others if abs(p.p99 - worst.p99) < 1e-9)
    if tied > 1:
        at = f", the {PROBE_TIMEOUT:g} s probe timeout" if worst.p99 >= PROBE_TIMEOUT else ""
        notes.append(f"{tied} cases share this p99{at}; this one has the highest p50")
    if worst.count < FEW_PROBES:
        notes.append(f"only {worst.count} probes, too few for a p99 to rank cases by")
    return f" ({'; '.join(notes)})" if notes else ""


def _uncorrected_run(cases: Sequence[Case]) -> bool:
    """The run predates timing probes from their due time: no case has probe_sent_s."""
    measured = [c for c in cases if c.result.probe_s is not None]
    return bool(measured) and not any(
        c.result.probe_sent_s is not None or any(k in c.info for k in UNCORRECTED_KEYS)
        for c in measured
    )


def _unanswered(case: Case) -> str:
    failures = case.result.probe_failures
    return f" ({failures} unanswered within {PROBE_TIMEOUT:g} s)" if failures else ""


def _probe_text(corrected: Percentiles, uncorrected: Percentiles | None) -> str:
    if corrected.count == 1:
        # One sample: no percentiles to speak of.
        text = f"{ms(corrected.p50)} (one probe)"
        if uncorrected is not None:
            text += f" ({ms(uncorrected.p50)} timed from its start instead of its due time)"
        return text
    count = f"{corrected.count} probes"
    text = f"p50 {ms(corrected.p50)}, p99 {ms(corrected.p99)}, max {ms(corrected.max)} over {count}"
    if uncorrected is not None:
        text += (
            f" (timed from each probe's start instead of its due time: p99 {ms(uncorrected.p99)})"
        )
    return text


def responsiveness(index: Index, cases: Sequence[Case]) -> list[Finding]:
    out = []
    classic = [c for c in index.cases if not c.result.scenario]
    for model in index.models:
        mine = [(c, probe_figures(c)) for c in classic if index.model(c) == model]
        mine = [(c, f) for c, f in mine if f[0] is not None]
        if len(mine) < 2:
            continue
        light = min(mine, key=lambda x: (x[0].result.client_workers, x[0].result.size_mib,
                                         x[0].result.avg_time_s))  # fmt: skip
        # The worst by p99, then p50, as the record has them (docs/trace.md).
        heavy = max(mine, key=lambda x: (x[1][0].p99, x[1][0].p50) if x[1][0] else (0.0, 0.0))
        lc, (lp, lu) = light
        hc, (hp, hu) = heavy
        assert lp is not None and hp is not None
        where = (
            f"{clients(lc.result.client_workers)} ({lc.result.operation} "
            f"{size_text(lc.result.size_mib)} MiB)"
        )
        if hc is lc:
            out.append(
                Finding(
                    "responsiveness",
                    f"{model}: the LIST probe (a new connection every 100 ms) was answered "
                    f"in {_probe_text(lp, lu)} beside {where}: its lightest load was "
                    "also its worst.",
                )
            )
            continue
        out.append(
            Finding(
                "responsiveness",
                f"{model}: the LIST probe (a new connection every 100 ms) was answered in "
                f"{_probe_text(lp, lu)}, beside {clients(lc.result.client_workers)} "
                f"({lc.result.operation} {size_text(lc.result.size_mib)} MiB); at its worst, "
                f"{_probe_text(hp, hu)}{_unanswered(hc)}"
                f"{_worst_caveat(hp, [f[0] for _, f in mine if f[0] is not None])}, beside "
                f"{clients(hc.result.client_workers)} ({hc.result.operation} "
                f"{size_text(hc.result.size_mib)} MiB on {workers(hc.result.server_workers)}).",
            )
        )
    if _uncorrected_run(classic):
        measured = [c for c in classic if c.result.probe_s is not None]
        out.append(
            Finding(
                "responsiveness",
                f"The {len(measured)} cases' probe figures count from each probe's actual "
                "start: the run predates timing from the due time, so a stalled server shows "
                "in one sample per stall (coordinated omission), not in every probe it kept "
                "waiting.",
            )
        )
    out += _scenarios(cases)
    return out


def _scenarios(cases: Sequence[Case]) -> list[Finding]:
    """Per slow-client scenario: the models from the most responsive to the least, with
    each case's probe count; cases with a handful of probes, or tied at the probe
    timeout, are said to be so rather than ranked."""
    out = []
    slow = [c for c in cases if c.result.scenario]
    dispatches = dispatches_of(slow)
    scenarios = list(dict.fromkeys(c.result.scenario for c in slow))
    if _uncorrected_run(slow):
        measured = [c for c in slow if c.result.probe_s is not None]
        out.append(
            Finding(
                "responsiveness",
                f"The {len(measured)} slow-client cases' probe figures count from each "
                "probe's actual start, one probe at a time: the run predates timing from the "
                "due time, so a stalled server shows in one sample per stall (coordinated "
                "omission), and a case holds only as many probes as fit one after another.",
            )
        )
    for scenario in scenarios:
        ranked, few, timed_out = [], [], []
        for case in (c for c in slow if c.result.scenario == scenario):
            corrected, _ = probe_figures(case)
            if corrected is None:
                continue
            failures = case.result.probe_failures
            name = f"{model_of(case.result, dispatches)} on {workers(case.result.server_workers)}"
            count = f"{corrected.count} probe{'' if corrected.count == 1 else 's'}"
            fail_text = f", {failures} unanswered" if failures else ""
            text = (
                f"{name} p50 {ms(corrected.p50)}, p99 {ms(corrected.p99)} over {count}{fail_text}"
            )
            if corrected.p99 >= PROBE_TIMEOUT:
                timed_out.append((corrected.p50, text))
            elif corrected.count < FEW_PROBES:
                few.append((corrected.p99, text))
            else:
                ranked.append((corrected.p99, text))
        parts = []
        if ranked:
            ranked.sort(key=lambda p: p[0])
            parts.append("best to worst by p99: " + "; ".join(t for _, t in ranked))
        if few:
            few.sort(key=lambda p: p[0])
            parts.append(
                f"too few probes to rank (under {FEW_PROBES} each): " + "; ".join(t for _, t in few)
            )
        if timed_out:
            timed_out.sort(key=lambda p: p[0])
            parts.append(
                f"p99 at the {PROBE_TIMEOUT:g} s probe timeout, so not ranked by it (by p50): "
                + "; ".join(t for _, t in timed_out)
            )
        if parts:
            out.append(
                Finding(
                    "responsiveness", f"Scenario {scenario}: LIST probe, " + ". ".join(parts) + "."
                )
            )
    return out

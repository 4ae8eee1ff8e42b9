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
from fileproto.results.felt import Percentiles, percentiles_of

#: Where a record keeps the probe's latency timed from each probe's actual start (the
#: uncorrected figure beside probe_s, which is timed from each probe's due time).
UNCORRECTED_KEYS = ("probe_sent_s",)


def probe_figures(case: Case) -> tuple[Percentiles | None, Percentiles | None]:
    """(corrected, uncorrected) LIST probe latency: from the timeline's probes when
    present (from when each was due, and from when it was sent), else the record's
    probe_s and, if the record has it, its uncorrected figure."""
    if case.probes:
        due = [p.corrected_s for p in case.probes]
        sent = [p.uncorrected_s for p in case.probes if p.uncorrected_s is not None]
        return Percentiles.of(due), Percentiles.of(sent)
    uncorrected: Percentiles | None = None
    for key in UNCORRECTED_KEYS:
        raw = case.info.get(key)
        if isinstance(raw, dict):
            try:
                uncorrected = percentiles_of(raw)
            except (TypeError, ValueError):
                continue
            break
    return case.result.probe_s, uncorrected


def _unanswered(case: Case) -> str:
    failures = case.result.probe_failures
    return f" ({failures} unanswered within {PROBE_TIMEOUT:g} s)" if failures else ""


def _probe_text(corrected: Percentiles, uncorrected: Percentiles | None) -> str:
    count = f"{corrected.count} probe{'' if corrected.count == 1 else 's'}"
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
        heavy = max(mine, key=lambda x: x[1][0].p99 if x[1][0] else 0.0)
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
                f"{_probe_text(hp, hu)}{_unanswered(hc)}, beside "
                f"{clients(hc.result.client_workers)} ({hc.result.operation} "
                f"{size_text(hc.result.size_mib)} MiB on {workers(hc.result.server_workers)}).",
            )
        )
    measured = [c for c in classic if c.result.probe_s is not None]
    if measured and not any(c.probes or "probe_sent_s" in c.info for c in measured):
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
    """Per slow-client scenario: the models from the most responsive to the least."""
    out = []
    slow = [c for c in cases if c.result.scenario]
    dispatches = dispatches_of(slow)
    scenarios = list(dict.fromkeys(c.result.scenario for c in slow))
    for scenario in scenarios:
        parts = []
        for case in (c for c in slow if c.result.scenario == scenario):
            corrected, _ = probe_figures(case)
            if corrected is None:
                continue
            failures = case.result.probe_failures
            fail_text = f", {failures} unanswered" if failures else ""
            parts.append(
                (
                    corrected.p99,
                    f"{model_of(case.result, dispatches)} on {workers(case.result.server_workers)}"
                    f" p99 {ms(corrected.p99)}{fail_text}",
                )
            )
        if parts:
            parts.sort(key=lambda p: p[0])
            out.append(
                Finding(
                    "responsiveness",
                    f"Scenario {scenario}: LIST probe, best to worst: "
                    + "; ".join(text for _, text in parts)
                    + ".",
                )
            )
    return out

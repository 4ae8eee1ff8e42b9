"""Failed clients: how many, and per case their kinds and first error; and in the
slow-client scenarios, which models' clients completed."""

from __future__ import annotations

from collections.abc import Sequence

from fileproto.report.cases import Case
from fileproto.report.findings.index import dispatches_of, model_of
from fileproto.report.findings.topics import Finding
from fileproto.report.findings.words import clients, workers
from fileproto.report.order import size_text
from fileproto.results import LoadResult

#: Failed cases listed one by one; the rest are counted.
FAILURES_LISTED = 8


def failures(cases: Sequence[Case]) -> list[Finding]:
    total = sum(c.result.successes + c.result.failures for c in cases)
    failed = [c for c in cases if c.result.failed]
    if not failed:
        return [
            Finding(
                "failures",
                f"No client failed: {total:,} clients in {len(cases)} cases, every "
                "transferred file verified byte for byte.",
            )
        ]
    dispatches = dispatches_of(cases)
    lost = sum(c.result.failures for c in failed)
    out = [
        Finding(
            "failures",
            f"{lost:,} of {total:,} clients failed, in {len(failed)} of {len(cases)} cases.",
        )
    ]
    for case in failed[:FAILURES_LISTED]:
        r = case.result
        text = (
            f"{model_of(r, dispatches)}, {_scenario(r)}{r.operation} {size_text(r.size_mib)} "
            f"MiB, {clients(r.client_workers)} on {workers(r.server_workers)}: "
            f"{r.failures} of {r.successes + r.failures} failed"
        )
        if r.failure_kinds:
            text += " (" + ", ".join(f"{k} {v}" for k, v in r.failure_kinds.items()) + ")"
        if not r.verified and not r.failures:
            text += "; not every file was verified byte for byte"
        if r.first_error:
            text += f"; first error: {' '.join(r.first_error.split())}"
        out.append(Finding("failures", text + "."))
    if len(failed) > FAILURES_LISTED:
        out.append(
            Finding("failures", f"... and {len(failed) - FAILURES_LISTED} more failed cases.")
        )
    return out


def _scenario(r: LoadResult) -> str:
    return f"scenario {r.scenario}, " if r.scenario else ""


def slow_completion(cases: Sequence[Case]) -> list[Finding]:
    """Slow-client scenarios: who finished, per scenario."""
    slow = [c for c in cases if c.result.scenario]
    dispatches = dispatches_of(slow)
    out = []
    for scenario in dict.fromkeys(c.result.scenario for c in slow):
        mine = [c for c in slow if c.result.scenario == scenario]
        done = sorted(mine, key=lambda c: -c.result.successes / max(1, c.result.client_workers))
        parts = [
            f"{model_of(c.result, dispatches)} on {workers(c.result.server_workers)} "
            f"{c.result.successes}/{c.result.successes + c.result.failures}"
            for c in done
        ]
        out.append(
            Finding(
                "slow clients",
                f"Scenario {scenario}: clients completed, most to fewest: "
                + "; ".join(parts)
                + ".",
            )
        )
    return out

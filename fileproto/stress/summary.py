"""``fileproto stress``: what a run prints and saves: summaries, failures, the JSON."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from fileproto import __version__
from fileproto.results import EXTERNAL, LoadResult
from fileproto.results.document import BenchmarkEntry, benchmark_document
from fileproto.results.felt import Background, Percentiles
from fileproto.stress.display import rate
from fileproto.stress.plan import rate_text
from fileproto.stress.runner import LoadRounds
from fileproto.units import MIB


def benchmark_json(
    results: Sequence[LoadRounds],
    kind: str,
    workers: int | str,
    options: dict[str, Any],
    server: str,
    *,
    dispatch: str | None = None,
    scenario: str | None = None,
) -> dict[str, Any]:
    """The run as pytest-benchmark JSON: one benchmark per load, figures in extra_info,
    stats of the rounds' wall times."""
    entries = []
    for run in results:
        if not run.rounds:
            continue
        result = run.result(kind, workers, dispatch=dispatch, scenario=scenario)
        name = f"stress[{result.id}]"
        entries.append(
            BenchmarkEntry(
                group=f"{kind} {result.operation}",
                name=name,
                fullname=f"fileproto stress::{name}",
                param=result.id,
                extra_info=result.extra_info(),
                options={"iterations": 1, "timer": "perf_counter", **options},
                durations=[r.wall_time for r in run.rounds],
            )
        )
    return benchmark_document(
        entries,
        version=f"fileproto {__version__}",
        fileproto={"command": "stress", "server": server},
    )


def summary_lines(results: Sequence[LoadRounds]) -> list[str]:
    """Per load (over its rounds): counts, average time, aggregate throughput and the
    clients' peak memory; then the whole run."""
    lines = []
    moved = 0
    wall = 0.0
    for run in results:
        if not run.rounds:
            continue
        result = run.result(EXTERNAL, EXTERNAL)
        ok_bytes = sum(r.moved for r in run.rounds)
        load_wall = sum(r.wall_time for r in run.rounds)
        moved += ok_bytes
        wall += load_wall
        count = len(run.rounds)
        over = f" over {count} rounds" if count > 1 else ""
        note = " [interrupted]" if result.interrupted else ""
        peak = (result.client_peak_rss_bytes or 0) / MIB
        lines.append(
            f"{run.load.describe()}{over}: {result.successes} ok, {result.failures} "
            f"failed; avg {result.avg_time_s:.3f} s per client; aggregate "
            f"{rate(result.aggregate_Bps)} ({ok_bytes / MIB:,.1f} MiB in {load_wall:.3f} s); "
            f"client peak RSS {peak:,.1f} MiB{note}"
        )
    if len(lines) > 1 and wall > 0:
        lines.append(
            f"all cases: {moved / MIB:,.1f} MiB in {wall:.3f} s of case time, "
            f"aggregate {rate(moved / wall)}"
        )
    return lines


def failure_lines(results: Sequence[LoadRounds]) -> list[str]:
    """The failure count and the first error of each kind."""
    failed = sum(r.failures for r in results)
    if not failed:
        return []
    total = sum(r.transfers for r in results)
    counts: dict[str, int] = {}
    first: dict[str, str] = {}
    for run in results:
        for outcome in run.rounds:
            for client in sorted(outcome.clients, key=lambda c: c.index):
                if client.ok:
                    continue
                kind = client.error_kind or "unknown"
                counts[kind] = counts.get(kind, 0) + 1
                first.setdefault(
                    kind,
                    f"{run.load.describe()}, client {client.index}: "
                    f"{' '.join((client.error or '').split())}",
                )
    lines = [f"{failed} of {total} client transfer(s) failed; first error of each kind:"]
    lines += [f"  {kind} (x{counts[kind]}): {first[kind]}" for kind in counts]
    return lines


def seconds_text(value: float) -> str:
    """Latencies as people read them: 0.8 ms, 45.4 ms, 1.234 s."""
    return f"{value * 1000:.1f} ms" if value < 1 else f"{value:.3f} s"


def percentiles_text(figures: Percentiles) -> str:
    return "  ".join(
        f"{name} {seconds_text(getattr(figures, name)):>9}" for name in ("p50", "p90", "p99", "max")
    )


def _plural(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"


def background_text(background: Background) -> str:
    """The connections held open, and what the server did to them: how many it closed,
    after how long (median, longest), and its error answers."""
    closed = ", ".join(
        f"{role} {n}{_after(background.closed_after_s.get(role))}"
        for role, n in background.closed_by_server.items()
    )
    errors = ", ".join(f"{why} {n}" for why, n in background.errors.items())
    text = f"{background.describe(', ')} held open; closed by the server: {closed or 'none'}"
    if errors:
        text += f"; answered with errors: {errors}"
    if background.connect_failures:
        text += f"; {background.connect_failures} could not connect"
    return text


def _after(figures: Percentiles | None) -> str:
    if figures is None:
        return ""
    return f" (after {seconds_text(figures.p50)}, longest {seconds_text(figures.max)})"


def felt_block(title: str, result: LoadResult) -> list[str]:
    """What the clients of one case felt, as a few indented lines."""
    lines = [f"  {title}:"]
    # The figures from the due time (the case's start; a probe's place in the schedule),
    # each with the uncorrected one from the actual send under it (docs/trace.md).
    for label, figures, sent in (
        ("time to first byte", result.ttfb_s, result.ttfb_sent_s),
        ("request total", result.request_s, result.request_sent_s),
    ):
        if figures is not None:
            count = _plural(figures.count, "request")
            since = "; from the case's start" if sent is not None else ""
            lines.append(f"    {label:<19} {percentiles_text(figures)}  ({count}{since})")
        if sent is not None:
            lines.append(f"    {'  from its send':<19} {percentiles_text(sent)}")
    if result.ttfb_s is None:
        lines.append("    no request was answered")
    if result.probe_s is not None:
        failed = result.probe_failures or 0
        late = ""
        if result.probe_sent_s is not None:
            held = result.probe_late or 0
            late = (
                f", {held} held back by the bound of {result.probe_in_flight} in flight"
                if held
                else ""
            ) + "; from each due time"
        counted = f"{_plural(result.probe_s.count, 'probe')}, {failed} failed"
        if result.probe_due is not None:
            # Every probe due is answered, failed or cut off by the end (docs/trace.md).
            counted = (
                f"{result.probe_due} due: {result.probe_answered or 0} answered, {failed} "
                f"failed, {result.probe_cut_off or 0} cut off by the end; "
                f"{result.probe_s.count} counted"
            )
        lines.append(
            f"    {'LIST probe':<19} {percentiles_text(result.probe_s)}  ({counted}{late})"
        )
        if result.probe_sent_s is not None:
            lines.append(f"    {'  from its send':<19} {percentiles_text(result.probe_sent_s)}")
    background = result.background
    if background is not None:
        lines.append(f"    {'background':<19} {background_text(background)}")
    if result.rate_Bps and result.offered_Bps:
        link = rate_text(result.rate_Bps)
        lines.append(
            f"    {'links':<19} {link} each: moved {rate(result.moved_Bps or 0)} = "
            f"{result.ratio_to_offered or 0:.2f} of {result.client_workers} x {link} "
            "(base64: 0.75 is every link busy throughout)"
        )
    stopped = (result.failure_kinds or {}).get("deadline", 0)
    if result.deadline_s is not None:
        lines.append(
            f"    {'deadline':<19} {result.deadline_s:g} s: "
            f"{_plural(stopped, 'client')} still running then, stopped"
        )
    return lines


def felt_lines(results: Sequence[LoadRounds]) -> list[str]:
    """The "what clients felt" block under the table: per load, the requests' time to
    first byte and total, the LIST probe, the background connections and the links."""
    lines = []
    for run in results:
        if not run.rounds:
            continue
        over = f" over {len(run.rounds)} rounds" if len(run.rounds) > 1 else ""
        lines += felt_block(f"{run.load.describe()}{over}", run.result(EXTERNAL, EXTERNAL))
    return ["what clients felt:", *lines] if lines else []

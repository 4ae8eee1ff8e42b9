"""``fileproto stress``: what a run prints and saves: summaries, failures, the JSON."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from fileproto import __version__
from fileproto.results import EXTERNAL
from fileproto.results.document import BenchmarkEntry, benchmark_document
from fileproto.stress.display import rate
from fileproto.stress.runner import LoadRounds
from fileproto.testfiles import MIB


def benchmark_json(
    results: Sequence[LoadRounds],
    kind: str,
    workers: int | str,
    options: dict[str, Any],
    server: str,
) -> dict[str, Any]:
    """The run as pytest-benchmark JSON: one benchmark per load, figures in extra_info,
    stats of the rounds' wall times."""
    entries = []
    for run in results:
        if not run.rounds:
            continue
        result = run.result(kind, workers)
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

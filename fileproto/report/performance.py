"""docs/performance.md, written from the committed runs: never by hand.

``python -m fileproto.report.performance docs/full-run.json --slow docs/slow-run.json
--output docs/performance.md`` writes the page: each run dated by its own ``datetime``,
the machine it ran on (its ``machine_info``), the commands that make such a run, its
totals, then the report ``fileproto report --md`` writes (the answer, the findings, the
tables). The slow-client run is set against the cases the code defines
(``fileproto.cases.slowclients``), so the page says which of them the run holds.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from fileproto.cases.slowclients import SCENARIOS, slow_cases
from fileproto.report.answer_render import cores_of, explained
from fileproto.report.cases import Case, load_cases
from fileproto.report.compose import report_markdown
from fileproto.report.slow import render_slow_markdown, split
from fileproto.report.verdicts import document_verdicts
from fileproto.results import LoadResult
from fileproto.results.document import Document, load_document, load_references
from fileproto.server.registry import CLASSIC_KINDS
from fileproto.units import MIB

COMMAND = "python -m fileproto.report.performance"
FULL_RUN = "pytest -m full --benchmark-json=docs/full-run.json --fileproto-report=report"


def full_run_command(kinds: Sequence[str]) -> str:
    """The command that makes such a run: the kinds named when they are not the default."""
    if tuple(kinds) == CLASSIC_KINDS:
        return FULL_RUN
    return f"{FULL_RUN} --fileproto-kinds {','.join(kinds)}"


SLOW_RUN = (
    "pytest -m slowclients --fileproto-kinds thread,process,asyncio "
    "--benchmark-json=docs/slow-run.json"
)


def run_date(document: Document) -> str:
    """The run's own date and time (UTC), from pytest-benchmark's ``datetime``."""
    stamp = document.get("datetime")
    if not isinstance(stamp, str):
        raise ValueError("the run has no 'datetime': it is not a pytest-benchmark JSON")
    return datetime.fromisoformat(stamp).strftime("%Y-%m-%d %H:%M UTC")


def machine(document: Document) -> str:
    found = document.get("machine_info")
    info: Mapping[str, Any] = found if isinstance(found, Mapping) else {}
    cpu: Mapping[str, Any] = info["cpu"] if isinstance(info.get("cpu"), Mapping) else {}
    brand = cpu.get("brand_raw") or info.get("processor") or "an unnamed CPU"
    cores = cores_of(document)
    python = info.get("python_version", "?")
    return f"{brand}, {cores or '?'} cores, Python {python}, loopback"


def _totals(results: Sequence[LoadResult]) -> str:
    ok = sum(r.successes for r in results)
    failed = sum(r.failures for r in results)
    verified = (
        "every file verified byte for byte"
        if all(r.verified for r in results)
        else ("not every file verified")
    )
    return f"{len(results)} cases, {ok:,} clients succeeded, {failed:,} failed, {verified}."


def _limits(document: Document) -> str:
    parts = [
        f"{ref['size_mib']:g} MiB in {ref['time_s']:.3f} s "
        f"({ref['throughput_Bps'] / MIB:,.0f} MiB/s)"
        for ref in load_references(document)
        if ref.get("reference") == "limit"
    ]
    if not parts:
        return ""
    return (
        "The machine's ceiling in the same run (the simplest pipeline that moves the same "
        f"bytes, `pytest -m limit`): {', '.join(parts)}.\n"
    )


def _kept_events(cases: Sequence[Case]) -> str:
    """Which cases the file keeps the server's events of, when it keeps some but not all
    (a run's whole events are several times the rest of it): what the report tells from
    them rests on those."""
    classic = [c for c in cases if not c.result.scenario]
    kept = [c for c in classic if c.server_events]
    if not kept or len(kept) == len(classic):
        return ""
    sizes = ", ".join(f"{s:g}" for s in sorted({c.result.size_mib for c in kept}))
    clients = ", ".join(str(n) for n in sorted({c.result.client_workers for c in kept}))
    return (
        f"The file keeps the server's events of {len(kept)} of its {len(classic)} cases "
        f"({sizes} MiB, {clients} clients): the reasons under the answer, the queued time "
        "in the findings and the timelines' queued and served phases come from those.\n"
    )


def _report(document: Document, views: Sequence[Case]) -> str:
    verdicts = document_verdicts(document, [c.result for c in views])
    return report_markdown(views, verdicts, explained(document, views, verdicts))


def full_section(document: Document, source: str) -> str:
    views = load_cases(document)
    classic, _ = split(c.result for c in views)
    kinds = list(dict.fromkeys(r.server_kind for r in classic))
    return "\n".join(
        [
            "## The classic matrix",
            "",
            f"Run on {run_date(document)} ({source}), {machine(document)}. {_totals(classic)}",
            _limits(document) + _kept_events(views),
            "```sh",
            full_run_command(kinds),
            "```",
            "",
            _report(document, views),
        ]
    )


def slow_section(document: Document, source: str) -> str:
    _, slow = split(c.result for c in load_cases(document))
    kinds = sorted({r.server_kind for r in slow})
    defined = slow_cases(kinds)
    ran = sorted({r.scenario for r in slow if r.scenario})
    missing = [s.name for s in SCENARIOS if s.name not in ran]
    held = f"{len(slow)} of the {len(defined)} cases the code defines for {', '.join(kinds)}"
    if missing:
        held += f" (this run has no {', '.join(missing)} scenario: run the command again)"
    scenarios = "\n".join(f"- **{s.name}**: {s.description}" for s in SCENARIOS)
    return "\n".join(
        [
            "## Clients that wait",
            "",
            f"Run on {run_date(document)} ({source}), {machine(document)}: {held}.",
            "The scenarios, each a case per kind, dispatch and server worker count:",
            "",
            scenarios,
            "",
            "```sh",
            SLOW_RUN,
            "```",
            "",
            render_slow_markdown(slow),
        ]
    )


def performance_page(
    full: Document, full_source: str, slow: Document | None = None, slow_source: str = ""
) -> str:
    command = f"{COMMAND} {full_source}" + (f" --slow {slow_source}" if slow else "")
    head = [
        "# Performance",
        "",
        f"Written by `{command} --output docs/performance.md` from the committed runs; "
        "run it again after committing a new run, rather than editing this page. What the "
        "figures mean: docs/architecture.md (what a case measures) and docs/statistics.md "
        "(the verdicts).",
        "",
    ]
    parts = [*head, full_section(full, full_source)]
    if slow is not None:
        parts += ["", slow_section(slow, slow_source)]
    return "\n".join(parts).rstrip() + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog=COMMAND,
        description="Write docs/performance.md from a committed benchmark JSON (and, "
        "optionally, a slow-client run), dated by each run's own datetime.",
    )
    parser.add_argument("run", type=Path, help="the matrix run (pytest -m full --benchmark-json)")
    parser.add_argument("--slow", type=Path, help="the slow-client run (pytest -m slowclients)")
    parser.add_argument("--output", type=Path, help="where to write the page (default: stdout)")
    args = parser.parse_args(argv)
    try:
        full = load_document(args.run)
        slow = load_document(args.slow) if args.slow else None
        page = performance_page(full, str(args.run), slow, str(args.slow or ""))
    except (OSError, ValueError) as exc:
        print(f"{COMMAND}: {exc}", file=sys.stderr)
        return 2
    if args.output is None:
        sys.stdout.write(page)
    else:
        args.output.write_text(page, encoding="utf-8")
        print(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

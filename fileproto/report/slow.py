"""The slow-client table: cases with a scenario (``pytest -m slowclients``, or
``fileproto stress`` with --rate/--idle/--slowloris/--parked), as Markdown, aligned text
and CSV. The classic table (:mod:`.tables`) does not show these cases.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterable, Sequence

from fileproto.cases.slowclients import DISPATCH_LABELS, SCENARIOS
from fileproto.load.latency import Percentiles
from fileproto.report.order import kind_order, rank, server_workers_key
from fileproto.report.tables import MARK
from fileproto.report.units import latency_cell, throughput_cell
from fileproto.results import LoadResult
from fileproto.units import MIB

TITLE = "slow clients"
SLOW_HEADERS = (
    "No",
    "Kind",
    "Dispatch",
    "Workers",
    "Scenario",
    "Completed",
    "Failed",
    "Aggregate MiB/s",
    "Ratio",
    "LIST p50 ms",
    "LIST p99 ms",
    "LIST max ms",
    "LIST fails",
    "TTFB p99 ms",
)
#: Left-aligned columns (the others are numbers).
HEADERS_SLOW_TEXT = _TEXT_COLUMNS = frozenset({"Kind", "Dispatch", "Scenario"})
NONE = "—"
LEGEND = (
    "Workers: the server's. Aggregate: file bytes all clients moved, unfinished transfers "
    "included, per second of the case. Ratio: Aggregate / (clients x link rate), the "
    "share of the links' capacity the server used; files travel as "
    "base64 (4 bytes on the wire per 3 of the file), so about 0.75 means every link was "
    "busy for the whole case (short transfers get a little more: a link starts with a "
    "tenth of a second's bytes in hand). LIST: a new connection every 100 ms sends LIST while the "
    "case runs; one not answered within 5 s counts as 5 s, and as a failure; one still "
    "waiting when the case ends is cut off, not a failure. TTFB: milliseconds from the "
    "case's start (in runs older than timelines: from the request's first byte sent) to "
    "the answer's first byte (an upload is "
    "answered once its body is in). A case ends when its last client is done, or at its "
    "deadline, where clients still running are stopped and count as 'deadline' failures."
)


def is_slow(case: LoadResult) -> bool:
    return case.scenario is not None


def split(cases: Iterable[LoadResult]) -> tuple[list[LoadResult], list[LoadResult]]:
    """(classic cases, slow-client cases)."""
    classic: list[LoadResult] = []
    slow: list[LoadResult] = []
    for case in cases:
        (slow if is_slow(case) else classic).append(case)
    return classic, slow


def model_label(case: LoadResult) -> str:
    """A concurrency model: kind and dispatch, e.g. "thread accept", "asyncio loop"."""
    return f"{case.server_kind} {case.dispatch}" if case.dispatch else case.server_kind


def sort_slow(cases: Iterable[LoadResult]) -> list[LoadResult]:
    """By scenario (the matrix's order first), kind, dispatch, server workers."""
    scenarios = tuple(s.name for s in SCENARIOS)
    kinds = kind_order()
    return sorted(
        cases,
        key=lambda c: (
            rank(c.scenario or "", scenarios),
            rank(c.server_kind, kinds),
            rank(c.dispatch or "", DISPATCH_LABELS),
            server_workers_key(c.server_workers),
        ),
    )


def aggregate_Bps(case: LoadResult) -> float:
    """What the table calls aggregate: every byte moved (older runs: completed ones)."""
    return case.moved_Bps if case.moved_Bps is not None else case.aggregate_Bps


def _ms(figures: Percentiles | None, name: str) -> str:
    return NONE if figures is None else latency_cell(getattr(figures, name))


def _row(number: int, case: LoadResult) -> list[str]:
    probe = case.probe_s
    return [
        str(number),
        case.server_kind,
        case.dispatch or NONE,
        str(case.server_workers),
        case.scenario or NONE,
        str(case.successes),
        f"{case.failures} {MARK}" if case.failed else str(case.failures),
        throughput_cell(aggregate_Bps(case)),
        NONE if case.ratio_to_offered is None else f"{case.ratio_to_offered:.2f}",
        _ms(probe, "p50"),
        _ms(probe, "p99"),
        _ms(probe, "max"),
        NONE if case.probe_failures is None else str(case.probe_failures),
        NONE if case.ttfb_s is None else latency_cell(case.ttfb_s.p99),
    ]


def _problem(number: int, case: LoadResult) -> str:
    clients = case.successes + case.failures
    kinds = ", ".join(f"{kind} {n}" for kind, n in (case.failure_kinds or {}).items())
    text = (
        f"{MARK} No {number} ({model_label(case)}, {_workers(case.server_workers)}, "
        f"{case.scenario}): {case.failures} of {clients} clients failed"
    )
    if kinds:
        text += f" (by kind: {kinds})"
    if not case.verified and not case.failures:
        text += "; not every transferred file was verified byte for byte"
    if case.first_error:
        text += f". First error: {' '.join(case.first_error.split())}"
    return text


def _workers(count: int | str) -> str:
    return f"{count} server worker{'' if count == 1 else 's'}"


def _describe(cases: Sequence[LoadResult]) -> list[str]:
    """What the scenarios were: clients, size, rate, background, deadline."""
    seen: dict[str, str] = {}
    for case in cases:
        parts = [f"{case.client_workers} clients {case.operation} {case.size_mib:g} MiB"]
        if case.rate_Bps:
            parts.append(f"at {case.rate_Bps / MIB:g} MiB/s each")
        background = case.background
        if background is not None and background.opened:
            # Every role (fileproto.results.felt.ROLES), stalled readers included.
            parts.append(f"beside {background.describe()} connections")
        if case.deadline_s is not None:
            parts.append(f"deadline {case.deadline_s:g} s")
        seen.setdefault(case.scenario or NONE, ", ".join(parts))
    return [f"{name}: {text}" for name, text in seen.items()]


def _md_cell(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")


def render_slow_markdown(cases: Iterable[LoadResult]) -> str:
    """The slow-client table as one ``### slow clients`` Markdown section."""
    ordered = sort_slow(cases)
    if not ordered:
        return ""
    align = [":---" if h in _TEXT_COLUMNS else "---:" for h in SLOW_HEADERS]
    lines = [
        f"### {TITLE}",
        "",
        *(f"- {_md_cell(line)}" for line in _describe(ordered)),
        "",
        "| " + " | ".join(SLOW_HEADERS) + " |",
        "|" + "|".join(align) + "|",
        *("| " + " | ".join(_row(n, c)) + " |" for n, c in enumerate(ordered, start=1)),
    ]
    notes = [f"- {_md_cell(_problem(n, c))}" for n, c in enumerate(ordered, start=1) if c.failed]
    lines += ["", *notes] if notes else []
    lines += ["", LEGEND]
    return "\n".join(lines) + "\n"


def render_slow_text(cases: Iterable[LoadResult]) -> str:
    """The same table as plain aligned text, for terminals."""
    ordered = sort_slow(cases)
    if not ordered:
        return ""
    rows = [_row(n, c) for n, c in enumerate(ordered, start=1)]
    failed_at = SLOW_HEADERS.index("Failed")
    for row in rows:  # the marker goes after the aligned row
        row[failed_at] = row[failed_at].removesuffix(f" {MARK}")
    table = _align([list(SLOW_HEADERS), ["-" * len(h) for h in SLOW_HEADERS], *rows])
    table[2:] = [
        line + f" {MARK}" if case.failed else line
        for line, case in zip(table[2:], ordered, strict=True)
    ]
    notes = [_problem(n, c) for n, c in enumerate(ordered, start=1) if c.failed]
    lines = [TITLE, "=" * len(TITLE), *_describe(ordered), "", *table]
    lines += ["", *notes] if notes else []
    lines += ["", LEGEND]
    return "\n".join(lines) + "\n"


def slow_table(
    cases: Iterable[LoadResult],
) -> tuple[list[str], list[list[str]], list[bool], list[str]]:
    """(what the scenarios were, rows, which rows are marked, the marked rows' notes),
    for renderers of their own (the HTML report)."""
    ordered = sort_slow(cases)
    rows = [_row(n, c) for n, c in enumerate(ordered, start=1)]
    notes = [_problem(n, c) for n, c in enumerate(ordered, start=1) if c.failed]
    return _describe(ordered), rows, [c.failed for c in ordered], notes


def _align(rows: list[list[str]]) -> list[str]:
    widths = [max(len(row[i]) for row in rows) for i in range(len(SLOW_HEADERS))]
    left = [h in _TEXT_COLUMNS for h in SLOW_HEADERS]
    return [
        "  ".join(
            cell.ljust(w) if is_left else cell.rjust(w)
            for cell, w, is_left in zip(row, widths, left, strict=True)
        ).rstrip()
        for row in rows
    ]


def _figure(field: str, name: str) -> Callable[[LoadResult], object]:
    def get(case: LoadResult) -> object:
        figures: Percentiles | None = getattr(case, field)
        return None if figures is None else getattr(figures, name)

    return get


def _counts(field: str) -> Callable[[LoadResult], object]:
    def get(case: LoadResult) -> object:
        counts = getattr(case, field) if field == "failure_kinds" else None
        if field != "failure_kinds" and case.background is not None:
            counts = getattr(case.background, field)
        return ";".join(f"{k}:{v}" for k, v in (counts or {}).items())

    return get


def _plain(name: str) -> Callable[[LoadResult], object]:
    return lambda case: getattr(case, name)


SLOW_CSV: tuple[tuple[str, Callable[[LoadResult], object]], ...] = (
    *((name, _plain(name)) for name in (
        "server_kind", "dispatch", "server_workers", "scenario", "operation", "size_mib",
        "client_workers", "rate_Bps", "deadline_s", "successes", "failures",
    )),
    ("failure_kinds", _counts("failure_kinds")),
    *((name, _plain(name)) for name in (
        "verified", "wall_time_s", "aggregate_Bps", "moved_bytes", "moved_Bps",
        "offered_Bps", "ratio_to_offered",
    )),
    *((f"{field}_{name}", _figure(f"{field}_s", name))
      for field in ("ttfb", "request", "probe") for name in ("count", "p50", "p90", "p99", "max")),
    ("probe_failures", _plain("probe_failures")),
    ("background_opened", lambda c: None if c.background is None else c.background.opened),
    ("background_closed_by_server", _counts("closed_by_server")),
    ("background_errors", _counts("errors")),
    ("server_peak_rss_bytes", _plain("server_peak_rss_bytes")),
)  # fmt: skip
SLOW_CSV_COLUMNS = tuple(name for name, _ in SLOW_CSV)


def _csv_value(value: object) -> object:
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else value


def render_slow_csv(cases: Iterable[LoadResult]) -> str:
    """One row per slow-client case, percentiles and counts flattened into columns
    (counts by kind as ``kind:n;kind:n``)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(SLOW_CSV_COLUMNS)
    for case in sort_slow(cases):
        writer.writerow([_csv_value(get(case)) for _, get in SLOW_CSV])
    return out.getvalue()

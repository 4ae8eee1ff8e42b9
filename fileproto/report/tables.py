"""The results table as Markdown, aligned text and CSV: pure functions of the cases.
The tables say throughput in MiB/s and time in seconds (:mod:`.units`); the CSV keeps
the record's plain numbers (bytes per second), for scripts."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable

from fileproto.report.order import kind_label, sections, size_text, sort_results
from fileproto.report.units import THROUGHPUT, TIME, throughput_cell, time_cell
from fileproto.results import LoadResult

#: Marks a case with failed clients or unverified files, in every table.
MARK = "⚠"

HEADERS = (
    "No",
    "Operation",
    "Size (MiB)",
    "Client Workers",
    "Server Workers",
    f"Avg Time ({TIME})",
    f"Throughput ({THROUGHPUT})",
    f"Aggregate ({THROUGHPUT})",
    "Client Success",
    "Client Fail",
)
CSV_COLUMNS = (
    "server_kind",
    "operation",
    "size_mib",
    "client_workers",
    "server_workers",
    "avg_time_s",
    "throughput_Bps",
    "aggregate_Bps",
    "successes",
    "failures",
    "verified",
    "server_peak_rss_bytes",
    "client_peak_rss_bytes",
)


def _row(number: int, case: LoadResult) -> list[str]:
    fail = f"{case.failures} {MARK}" if case.failed else str(case.failures)
    return [
        str(number),
        case.operation,
        size_text(case.size_mib),
        str(case.client_workers),
        str(case.server_workers),
        time_cell(case.avg_time_s),
        throughput_cell(case.throughput_Bps),
        throughput_cell(case.aggregate_Bps),
        str(case.successes),
        fail,
    ]


def _problem(number: int, case: LoadResult) -> str:
    """The footnote of a marked row: what went wrong, and the first error seen."""
    parts = []
    if case.failures:
        parts.append(f"{case.failures} of {case.successes + case.failures} clients failed")
    if not case.verified:
        parts.append("not every transferred file was verified byte for byte")
    text = (
        f"{MARK} No {number} ({case.operation} {size_text(case.size_mib)} MiB, "
        f"{case.client_workers} client / {case.server_workers} server workers): " + "; ".join(parts)
    )
    if case.first_error:
        text += f". First error: {' '.join(case.first_error.split())}"  # keep it one line
    return text


def _md_cell(text: str) -> str:
    # A pipe or a newline inside a cell would break the table (error messages have both).
    return " ".join(text.split()).replace("|", "\\|")


# Operation reads best left-aligned; every other column is a number.
_MD_ALIGN = tuple(":---" if header == "Operation" else "---:" for header in HEADERS)


def render_markdown(cases: Iterable[LoadResult]) -> str:
    """The classic results table, one ``### <kind>`` section per server kind."""
    blocks = []
    for kind, section in sections(cases):
        lines = [
            f"### {kind_label(kind)}",
            "",
            "| " + " | ".join(HEADERS) + " |",
            "|" + "|".join(_MD_ALIGN) + "|",
        ]
        notes = []
        for number, case in enumerate(section, start=1):
            lines.append("| " + " | ".join(_row(number, case)) + " |")
            if case.failed:
                notes.append(f"- {_md_cell(_problem(number, case))}")
        if notes:
            lines += ["", *notes]
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks) + "\n" if blocks else "No matrix cases.\n"


def _align(rows: list[list[str]]) -> list[str]:
    """Columns padded to their widest cell; Operation left-aligned, numbers right."""
    widths = [max(len(row[i]) for row in rows) for i in range(len(HEADERS))]
    return [
        "  ".join(
            cell.ljust(w) if i == 1 else cell.rjust(w)
            for i, (cell, w) in enumerate(zip(row, widths, strict=True))
        )
        for row in rows
    ]


def render_text(cases: Iterable[LoadResult]) -> str:
    """The same table as plain aligned text, for terminals."""
    blocks = []
    for kind, section in sections(cases):
        rows = [_row(number, case) for number, case in enumerate(section, start=1)]
        for row in rows:
            # The marker goes after the aligned table, so fail counts line up with the rest.
            row[-1] = row[-1].removesuffix(f" {MARK}")
        header = list(HEADERS)
        rule = ["-" * len(h) for h in HEADERS]
        title = kind_label(kind)
        table = _align([header, rule, *rows])
        table[2:] = [
            line + f" {MARK}" if case.failed else line
            for line, case in zip(table[2:], section, strict=True)
        ]
        lines = [title, "=" * len(title), *table]
        notes = [_problem(n, c) for n, c in enumerate(section, start=1) if c.failed]
        lines += ["", *notes] if notes else []
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks) + "\n" if blocks else "No matrix cases.\n"


def table_sections(
    cases: Iterable[LoadResult],
) -> list[tuple[str, list[list[str]], list[bool], list[str]]]:
    """Per server kind: (title, rows, which rows are marked, the marked rows' notes), for
    renderers of their own (the HTML report)."""
    out = []
    for kind, section in sections(cases):
        rows = [_row(number, case) for number, case in enumerate(section, start=1)]
        notes = [_problem(n, c) for n, c in enumerate(section, start=1) if c.failed]
        out.append((kind_label(kind), rows, [c.failed for c in section], notes))
    return out


def _csv_value(value: object) -> object:
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else value


def render_csv(cases: Iterable[LoadResult]) -> str:
    """One header row, then one row per case; plain numbers, empty cell for unknown."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for case in sort_results(cases):
        writer.writerow([_csv_value(getattr(case, column)) for column in CSV_COLUMNS])
    return out.getvalue()

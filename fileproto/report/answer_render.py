"""The answer (:mod:`.answer`) and its why (:mod:`.why`) as aligned text for a
terminal, as Markdown, and as an HTML section: the same table, the same words, each
output read from one benchmark document by :func:`explained`.

One unit per quantity: time per client in seconds, sizes in MiB, ratios as plain
numbers (the best is 1.00).
"""

from __future__ import annotations

import html
import math
import re
import textwrap
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from fileproto.cases.comparisons import Stated
from fileproto.report.answer import (
    BEST,
    OPEN,
    SAME,
    STATISTICS_DOC,
    Answer,
    Row,
    answer,
    cell_title,
    column_text,
    decided_line,
    legend,
    not_run_line,
    summary,
)
from fileproto.report.cases import Case
from fileproto.report.verdicts import document_verdicts
from fileproto.report.why import Link, Reason, reasons, without_reasons
from fileproto.results.document import Document

TITLE = "The answer: time per client relative to the best for each load"
HEADERS = ("Operation", "Size (MiB)", "Clients")
BEST_HEADER = "Best time (s)"
WIDTH = 96


@dataclass(frozen=True)
class Explained:
    """The table and the sentences under it."""

    answer: Answer
    reasons: list[Reason]
    #: Why there are no sentences ("" when there are, or nothing to explain).
    note: str


def cores_of(document: Document) -> int | None:
    info = document.get("machine_info")
    cpu = info.get("cpu") if isinstance(info, Mapping) else None
    count = cpu.get("count") if isinstance(cpu, Mapping) else None
    return count if isinstance(count, int) and not isinstance(count, bool) else None


def explained(
    document: Document, cases: Sequence[Case], verdicts: Sequence[Stated] | None = None
) -> Explained | None:
    """The answer of a benchmark document whose cases are ``cases`` (``verdicts``: the
    document's, read if not given); None without any classic case to put in the table."""
    results = [c.result for c in cases]
    if verdicts is None:
        verdicts = document_verdicts(document, results)
    table = answer(results, verdicts)
    if not table.rows:
        return None
    found = reasons(cases, verdicts, cores_of(document))
    return Explained(table, found, "" if found else without_reasons(cases))


def _first(a: Answer) -> str:
    """The answer in words, above the table: the best per load, and how firmly."""
    return " ".join(t for t in (summary(a), decided_line(a)) if t)


def _best_time(row: Row) -> str:
    return f"{row.best.avg_time_s:.3f}"


def _lines_under(e: Explained) -> list[str]:
    """The legend and the models that did not run."""
    return [line for line in (legend(e.answer), not_run_line(e.answer)) if line]


# -- text ----------------------------------------------------------------------------------


def render_answer_text(e: Explained) -> str:
    a = e.answer
    cells = [
        [*row.label, *(row.cells[c].text if c in row.cells else "" for c in a.columns),
         _best_time(row)]
        for row in a.rows
    ]  # fmt: skip
    workers = [str(w) for _, w in a.columns]
    header = [*HEADERS, *workers, BEST_HEADER]
    widths = [max(len(r[i]) for r in [header, *cells]) for i in range(len(header))]
    # Each model's name spans its worker columns, above them.
    spans, start = [], len(HEADERS)
    for model in a.models:
        n = len(a.workers_of(model))
        width = sum(widths[start : start + n]) + 2 * (n - 1)
        spans.append(model.center(max(width, len(model))))
        start += n
    pad = sum(widths[: len(HEADERS)]) + 2 * len(HEADERS)
    model_line = " " * pad + "  ".join(spans) + "   (server workers)"

    def line(row: Sequence[str]) -> str:
        return "  ".join(
            cell.ljust(w) if i == 0 else cell.rjust(w)
            for i, (cell, w) in enumerate(zip(row, widths, strict=True))
        )

    out = [TITLE, "=" * len(TITLE), *textwrap.wrap(_first(a), WIDTH), ""]
    out += [model_line.rstrip(), line(header)]
    out.append("  ".join("-" * w for w in widths))
    out += [line(r) for r in cells]
    out.append("")
    for text in _lines_under(e):
        out += textwrap.wrap(text, WIDTH)
    if e.reasons:
        out += ["", "Why", "---"]
        for reason in e.reasons:
            out += textwrap.wrap(reason.plain(), WIDTH, initial_indent="- ",
                                 subsequent_indent="  ", break_on_hyphens=False)  # fmt: skip
    elif e.note:
        out += ["", *textwrap.wrap(e.note, WIDTH)]
    return "\n".join(out) + "\n"


# -- Markdown ------------------------------------------------------------------------------


def render_answer_markdown(e: Explained) -> str:
    a = e.answer
    header = [*HEADERS, *(column_text(c) for c in a.columns), BEST_HEADER]
    lines = [f"## {TITLE}", "", _first(a), "", "| " + " | ".join(header) + " |"]
    lines.append("|" + "|".join(":---" if i == 0 else "---:" for i in range(len(header))) + "|")
    for row in a.rows:
        cells = [*row.label, *(row.cells[c].text if c in row.cells else "" for c in a.columns),
                 _best_time(row)]  # fmt: skip
        lines.append("| " + " | ".join(cells) + " |")
    for text in _lines_under(e):
        lines += ["", text]
    if e.reasons:
        lines += ["", "**Why**", ""]
        lines += [f"- {r.plain()}" for r in e.reasons]
    elif e.note:
        lines += ["", e.note]
    return "\n".join(lines) + "\n"


# -- HTML ----------------------------------------------------------------------------------

STYLE = """
#answer h2 { margin-top: 0.6em; }
table.answer { font-size: 13px; margin: 0.3em 0 0.4em; }
table.answer th, table.answer td { padding: 0.12em 0.45em; }
table.answer td.cell { min-width: 3.6em; text-align: right; white-space: nowrap; }
table.answer td.best { font-weight: 700; }
table.answer td.open { color: #555; font-style: italic; }
table.answer th.model { border-bottom: 2px solid #999; }
table.answer tr.first td { border-top: 2px solid #bbb; }
table.answer td.group { vertical-align: middle; }
#answer p { margin: 0.25em 0; font-size: 13.5px; max-width: 75em; }
#answer ul.why { margin: 0.3em 0; padding-left: 1.3em; font-size: 13.5px; }
#answer ul.why li { margin: 0.15em 0; }
"""

#: Colours of the cells: the best, the same as it, and the heat of a slower one from
#: just above the margin to eight times the best and more.
BEST_COLOUR = "#7fc98f"
SAME_COLOUR = "#c9e8cf"
_COOL, _HOT, _HOTTEST = (0xFD, 0xF0, 0xDC), (0xEC, 0x8A, 0x5E), 8.0


def heat(ratio: float, strength: float = 1.0) -> str:
    """A slower cell's colour: pale at 1, deep orange at eight times the best; an open
    one's at half the strength."""
    t = 0.0
    if math.isfinite(ratio) and ratio > 1:
        t = strength * min(1.0, math.log(ratio) / math.log(_HOTTEST))
    return "#" + "".join(f"{round(c + (h - c) * t):02x}" for c, h in zip(_COOL, _HOT, strict=True))


def _e(text: object) -> str:
    return html.escape(str(text), quote=True)


def _code(text: str) -> str:
    """Escaped text with options and the statistics page as code."""
    escaped = _e(text)
    escaped = re.sub(r"(--[a-z][\w-]*(?: [\w,]+)?)", r"<code>\1</code>", escaped)
    return escaped.replace(STATISTICS_DOC, f"<code>{STATISTICS_DOC}</code>")


def timeline_anchor(case_id: str) -> str:
    return f"timeline-{case_id}"


def _reason_html(reason: Reason, drawn: set[str]) -> str:
    out = []
    for part in reason.parts:
        if isinstance(part, Link):
            if part.case in drawn:
                out.append(
                    f'(<a href="#{_e(timeline_anchor(part.case))}" '
                    f'title="{_e(part.case)}">{_e(part.label)}</a>)'
                )
            else:
                out.append(f"({_e(part.case)})")
        else:
            out.append(_e(part))
    return "".join(out)


def _cell_html(row: Row, column: tuple[str, int]) -> str:
    cell = row.cells.get(column)
    if cell is None:
        return '<td class="cell none" title="not run">·</td>'
    colour = {BEST.key: BEST_COLOUR, SAME.key: SAME_COLOUR}.get(cell.mark.key) or heat(
        cell.ratio, 0.5 if cell.mark is OPEN else 1.0
    )
    return (
        f'<td class="cell {cell.mark.key}" data-case="{_e(cell.result.id)}" '
        f'style="background:{colour}" title="{_e(cell_title(cell, row.best))}">'
        f"{_e(cell.text)}</td>"
    )


def render_answer_html(e: Explained, drawn: Sequence[str] = ()) -> str:
    """The section; reasons link to the timelines of the cases in ``drawn``."""
    a = e.answer
    models = "".join(
        f'<th class="model" colspan="{len(a.workers_of(m))}">{_e(m)}</th>' for m in a.models
    )
    top = (
        f'<tr><th colspan="{len(HEADERS)}">Load</th>{models}<th rowspan="2">{BEST_HEADER}</th></tr>'
    )
    second = "".join(f"<th>{_e(h)}</th>" for h in HEADERS) + "".join(
        f'<th title="server workers">{w}</th>' for _, w in a.columns
    )
    body = []
    groups: dict[tuple[str, str], int] = {}
    for row in a.rows:
        groups[row.label[:2]] = groups.get(row.label[:2], 0) + 1
    previous: tuple[str, str] | None = None
    for row in a.rows:
        op, size, clients = row.label
        cells = "".join(_cell_html(row, c) for c in a.columns)
        lead = ""
        if row.label[:2] != previous:
            # The operation and size once per group of rows, across its client counts.
            n = groups[row.label[:2]]
            lead = (f'<td class="text group" rowspan="{n}">{_e(op)}</td>'
                    f'<td class="group" rowspan="{n}">{_e(size)}</td>')  # fmt: skip
        css = ' class="first"' if previous is not None and row.label[:2] != previous else ""
        previous = row.label[:2]
        body.append(f"<tr{css}>{lead}<td>{_e(clients)}</td>{cells}<td>{_best_time(row)}</td></tr>")
    table = (
        f'<table class="answer"><thead>{top}<tr>{second}</tr></thead>'
        f"<tbody>{''.join(body)}</tbody></table>"
    )
    words = [f'<p class="legend">{_code(legend(a))}</p>']
    if not_run_line(a):
        words.append(f'<p class="not-run">{_code(not_run_line(a))}</p>')
    if e.reasons:
        shown = set(drawn)
        items = "".join(f"<li>{_reason_html(r, shown)}</li>" for r in e.reasons)
        words.append(f'<p><strong>Why</strong></p><ul class="why">{items}</ul>')
    elif e.note:
        words.append(f"<p>{_code(e.note)}</p>")
    first = f'<p class="summary"><strong>{_e(summary(a))}</strong> {_e(decided_line(a))}</p>'
    return f'<section id="answer"><h2>{_e(TITLE)}</h2>{first}{table}{"".join(words)}</section>'


def cited(e: Explained | None) -> list[str]:
    """The cases whose timelines the sentences cite, in order."""
    if e is None:
        return []
    return list(dict.fromkeys(case for r in e.reasons for case in r.cases))

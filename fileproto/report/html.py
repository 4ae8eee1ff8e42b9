"""The whole report as one self-contained HTML page.

Nothing is loaded from anywhere: the styles are inline, the charts and timelines are PNG
``data:`` URIs, and there is no script. In order: the answer (:mod:`.answer_render`: which
model and worker count suits which load, and why), the findings, the classic table per
server kind, the throughput chart, the slow-client table and chart, the timelines of
the telling cases and of those the answer cites, the machine, and the commands that
reproduce the run.
"""

from __future__ import annotations

import base64
import html
import re
import tempfile
from collections.abc import Callable, Mapping, Sequence
from functools import partial
from pathlib import Path
from typing import Any

from fileproto.report.answer_render import STYLE as ANSWER_STYLE
from fileproto.report.answer_render import (
    Explained,
    cited,
    explained,
    render_answer_html,
    timeline_anchor,
)
from fileproto.report.cases import Case, load_cases
from fileproto.report.chart import render_png
from fileproto.report.findings import findings, grouped
from fileproto.report.order import kinds_note
from fileproto.report.slow import HEADERS_SLOW_TEXT, LEGEND, SLOW_HEADERS, slow_table
from fileproto.report.slowchart import render_slow_png
from fileproto.report.tables import HEADERS, MARK, table_sections
from fileproto.report.timeline import render_timeline_png, telling_cases, title_of
from fileproto.report.verdicts import document_verdicts
from fileproto.results.document import Document, load_document, load_references

_STYLE = """
body { font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif;
       margin: 0 auto; max-width: 1180px; padding: 0 1.5em 3em; color: #1d1d1f; }
h1 { margin: 0.8em 0 0.1em; font-size: 1.7em; }
h2 { margin-top: 2em; border-bottom: 1px solid #ddd; padding-bottom: 0.2em; }
h3 { margin: 1.4em 0 0.4em; }
.sub { color: #666; margin: 0 0 1em; }
nav a { margin-right: 1em; }
.findings li { margin: 0.3em 0; }
table { border-collapse: collapse; margin: 0.4em 0 0.8em; font-size: 13px; }
th, td { border: 1px solid #ddd; padding: 0.25em 0.6em; }
th { background: #f3f4f6; text-align: center; }
td { text-align: right; font-variant-numeric: tabular-nums; }
td.text { text-align: left; }
tr.marked td { background: #fff3f0; }
.notes { color: #8a1c00; font-size: 13px; }
.legend { color: #555; font-size: 13px; max-width: 60em; }
figure { margin: 1em 0 1.8em; }
figure img { max-width: 100%; height: auto; border: 1px solid #eee; }
figcaption { color: #555; font-size: 13px; }
dl.machine { display: grid; grid-template-columns: max-content auto; gap: 0.2em 1em; }
dl.machine dt { color: #555; }
dl.machine dd { margin: 0; }
code { white-space: nowrap; font-size: 0.92em; }
pre { background: #f6f8fa; padding: 0.8em 1em; overflow-x: auto; font-size: 13px; }
"""


def _e(text: object) -> str:
    return html.escape(str(text), quote=True)


def _with_code(text: str) -> str:
    """Escaped text with command-line options as code, kept on one line."""
    # An option with its value: a number, or a comma-separated list (of kinds).
    return re.sub(r"(--[a-z][\w-]*(?: (?:\d+|[a-z]+(?:,[a-z]+)+))?)", r"<code>\1</code>", _e(text))


def _png_uri(draw: Callable[[Path], None]) -> str:
    with tempfile.TemporaryDirectory(prefix="fileproto-report-") as folder:
        path = Path(folder) / "chart.png"
        draw(path)
        data = base64.b64encode(path.read_bytes()).decode("ascii")
    return f"data:image/png;base64,{data}"


def _figure(uri: str, alt: str, caption: str, css_class: str, anchor: str = "") -> str:
    at = f' id="{_e(anchor)}"' if anchor else ""
    return (
        f'<figure class="{css_class}"{at}><img src="{uri}" alt="{_e(alt)}">'
        f"<figcaption>{_e(caption)}</figcaption></figure>"
    )


def _table(
    headers: Sequence[str], rows: Sequence[Sequence[str]], marked: Sequence[bool],
    text_columns: frozenset[str], css_class: str,
) -> str:  # fmt: skip
    head = "".join(f"<th>{_e(h)}</th>" for h in headers)
    body = []
    for row, mark in zip(rows, marked, strict=True):
        cells = "".join(
            f'<td class="text">{_e(cell)}</td>' if h in text_columns else f"<td>{_e(cell)}</td>"
            for h, cell in zip(headers, row, strict=True)
        )
        body.append(f'<tr class="marked">{cells}</tr>' if mark else f"<tr>{cells}</tr>")
    return (
        f'<table class="{css_class}"><thead><tr>{head}</tr></thead>'
        f"<tbody>{''.join(body)}</tbody></table>"
    )


def _notes(notes: Sequence[str]) -> str:
    if not notes:
        return ""
    return '<ul class="notes">' + "".join(f"<li>{_e(n)}</li>" for n in notes) + "</ul>"


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _machine(document: Document) -> str:
    info = _mapping(document.get("machine_info"))
    cpu = _mapping(info.get("cpu"))
    commit = _mapping(document.get("commit_info"))
    rows = [
        ("host", info.get("node")),
        ("system", " ".join(str(info.get(k) or "") for k in ("system", "release")).strip()),
        ("CPU", cpu.get("brand_raw") or info.get("processor") or info.get("machine")),
        ("cores", cpu.get("count")),
        ("Python", f"{info.get('python_implementation') or ''} {info.get('python_version') or ''}"),
        ("commit", " ".join(
            str(x) for x in (commit.get("id"), commit.get("branch") and
                             f"({commit.get('branch')})",
                             commit.get("dirty") and "with uncommitted changes") if x
        )),
        ("run at", document.get("datetime")),
        ("pytest-benchmark", document.get("version")),
    ]  # fmt: skip
    parallel = info.get("parallel")
    if isinstance(parallel, Mapping):
        rows.append(("parallel", parallel.get("note") or "yes"))
    items = "".join(
        f"<dt>{_e(k)}</dt><dd>{_e(v)}</dd>" for k, v in rows if v not in (None, "", " ")
    )
    return f'<dl class="machine">{items}</dl>'


def reproduce_commands(document: Document, cases: Sequence[Case]) -> list[str]:
    """Shell commands that make the same run and this page, from what the run recorded."""
    commit = document.get("commit_info")
    commit_id = commit.get("id") if isinstance(commit, Mapping) else None
    out = []
    if commit_id:
        out.append(f"git checkout {commit_id}")
    out.append('python3 -m venv .venv && . .venv/bin/activate && pip install -e ".[test]"')
    classic = [c for c in cases if not c.result.scenario]
    slow = [c for c in cases if c.result.scenario]
    rounds = max((c.result.rounds or 1 for c in cases), default=1)
    extra = f" --fileproto-rounds {rounds}" if rounds > 1 else ""
    marks = []
    if classic:
        marks.append("full" if len(classic) >= 100 else "smoke")
    if slow:
        marks.append("slowclients")
    if marks:
        selection = marks[0] if len(marks) == 1 else f'"{" or ".join(marks)}"'
        out.append(
            f"pytest -m {selection}{extra} --benchmark-json=run.json --fileproto-report=report"
        )
    out.append("fileproto report run.json --html report.html")
    return out


def drawn_timelines(cases: Sequence[Case], answer: Explained | None) -> list[Case]:
    """The cases whose timelines the page draws: the telling ones, then any the answer's
    sentences cite."""
    chosen = [c for c in telling_cases(cases) if c.requests]
    by_id = {c.id: c for c in cases if c.requests}
    return chosen + [by_id[i] for i in cited(answer) if i in by_id and by_id[i] not in chosen]


def _answer(answer: Explained | None, drawn: Sequence[Case]) -> str:
    """The answer first: its table and why (fileproto.report.answer_render)."""
    return render_answer_html(answer, [c.id for c in drawn]) if answer else ""


def _timelines(chosen: Sequence[Case]) -> str:
    if not chosen:
        return (
            "<p>No timelines in this run (each case records one in its results since the "
            "timelines were added; this run is older or ran without them).</p>"
        )
    parts = [
        "<p>Each row is one client request, coloured by what it was waiting for; the text "
        "after a row names the server worker(s) that served it. The rows are grouped by the "
        "worker that first served them (named on the right), each worker's in the order it "
        "took them. Under the rows, the LIST probe: a probe still waiting when the case ended "
        "is cut off (a grey triangle at the time it had waited by then), not a timeout. The "
        "cases: the most clients on the fewest and the next fewest workers, for each model, "
        "and those the answer cites.</p>"
    ]
    for case in chosen:
        uri = _png_uri(partial(render_timeline_png, case))
        parts.append(
            _figure(uri, f"timeline of {case.id}", title_of(case), "timeline",
                    timeline_anchor(case.id))
        )  # fmt: skip
    return "".join(parts)


def render_html(source: Document | Any, *, commands: Sequence[str] | None = None) -> str:
    """The page; ``commands`` replaces the reproducing commands derived from the run."""
    document = load_document(source)
    cases = load_cases(document)
    if not cases:
        raise ValueError("no matrix cases (no benchmark records an 'operation')")
    classic = [c for c in cases if not c.result.scenario]
    slow = [c for c in cases if c.result.scenario]
    verdicts = document_verdicts(document, [c.result for c in cases])
    found = findings(cases, verdicts)
    answer = explained(document, cases, verdicts)
    drawn = drawn_timelines(cases, answer)
    sections = [("answer", "Answer")] if answer else []
    sections.append(("findings", "Findings"))
    body = [_answer(answer, drawn)]
    findings_html = "".join(
        f"<h3>{_e(title)}</h3><ul>" + "".join(f"<li>{_with_code(t)}</li>" for t in texts) + "</ul>"
        for title, texts in grouped(found)
    )
    body.append(f'<section id="findings" class="findings"><h2>Findings</h2>{findings_html}'
                "</section>")  # fmt: skip
    if classic:
        sections.append(("results", "Results"))
        tables = []
        results = [c.result for c in classic]
        for title, rows, marked, notes in table_sections(results):
            tables.append(
                f"<h3>{_e(title)}</h3>"
                + _table(HEADERS, rows, marked, frozenset({"Operation"}), "results")
                + _notes(notes)
            )
        references = load_references(document)
        chart = _png_uri(lambda p: render_png(results, p, references=references))
        tables.append(
            _figure(
                chart,
                "aggregate throughput against client workers",
                "Aggregate throughput against client workers, per server kind and "
                f"operation; a red x marks a case with failures ({MARK} in the tables).",
                "chart",
            )
        )
        body.append(
            '<section id="results"><h2>Results</h2><p class="legend">Per case: the time '
            "per client in seconds (average over the clients that succeeded), per-client "
            "and aggregate throughput in MiB/s, clients that succeeded and failed.</p>"
            + "".join(tables)
            + "</section>"
        )
    if slow:
        sections.append(("slow", "Slow clients"))
        described, rows, marked, notes = slow_table([c.result for c in slow])
        chart = _png_uri(lambda p: render_slow_png([c.result for c in slow], p))
        body.append(
            '<section id="slow"><h2>Slow clients</h2><ul>'
            + "".join(f"<li>{_e(d)}</li>" for d in described)
            + "</ul>"
            + _table(SLOW_HEADERS, rows, marked, HEADERS_SLOW_TEXT, "slow")
            + _notes(notes)
            + f'<p class="legend">{_e(LEGEND)}</p>'
            + _figure(
                chart,
                "slow-client chart",
                "LIST probe p99 and aggregate throughput per model and scenario.",
                "chart",
            )
            + "</section>"
        )
    sections.append(("timelines", "Timelines"))
    body.append(f'<section id="timelines"><h2>Timelines</h2>{_timelines(drawn)}</section>')
    sections.append(("machine", "Machine"))
    body.append(f'<section id="machine"><h2>Machine</h2>{_machine(document)}</section>')
    sections.append(("reproduce", "Reproduce"))
    lines = list(commands) if commands is not None else reproduce_commands(document, cases)
    body.append(
        '<section id="reproduce"><h2>Reproduce</h2><pre>'
        + _e("\n".join(lines))
        + "</pre></section>"
    )
    nav = "".join(f'<a href="#{key}">{_e(title)}</a>' for key, title in sections)
    subtitle = f"{len(classic)} matrix cases" + (f", {len(slow)} slow-client cases" if slow else "")
    when = document.get("datetime")
    if when:
        subtitle += f", run at {when}"
    # The answer names the models that did not run under its table; without one (no
    # classic case), the models that ran and those that did not are said here.
    note = None if answer else kinds_note(c.result for c in cases)
    kinds = f'<p class="sub kinds">{_with_code(note)}</p>' if note else ""
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        "<title>fileproto report</title>"
        # No request may leave the page: an empty favicon keeps the browser from asking.
        '<link rel="icon" href="data:,">'
        f"<style>{_STYLE}{ANSWER_STYLE}</style></head><body>"
        f'<h1>fileproto report</h1><p class="sub">{_e(subtitle)}</p>{kinds}<nav>{nav}</nav>'
        + "".join(body)
        + "</body></html>\n"
    )

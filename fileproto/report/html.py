"""The whole report as one self-contained HTML page.

Nothing is loaded from anywhere: the styles are inline, the charts and timelines are PNG
``data:`` URIs, and there is no script. In order: the answer (:mod:`.answer_render`: which
model and worker count suits which load, and why), the findings, the classic table per
server kind, the throughput chart, the slow-client table and chart, the timelines of
the telling cases and of those the answer cites, the machine, and the commands that
reproduce the run.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import partial
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
from fileproto.report.htmlparts import STYLE, escape, figure, png_uri, table, with_code
from fileproto.report.order import kinds_note
from fileproto.report.slow import HEADERS_SLOW_TEXT, LEGEND, SLOW_HEADERS, slow_table
from fileproto.report.slowchart import render_slow_png
from fileproto.report.tables import HEADERS, MARK, table_sections
from fileproto.report.timeline import render_timeline_png, telling_cases, title_of
from fileproto.report.verdicts import document_verdicts
from fileproto.results.document import Document, load_document, load_references


def _notes(notes: Sequence[str]) -> str:
    if not notes:
        return ""
    return '<ul class="notes">' + "".join(f"<li>{escape(n)}</li>" for n in notes) + "</ul>"


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
        f"<dt>{escape(k)}</dt><dd>{escape(v)}</dd>" for k, v in rows if v not in (None, "", " ")
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
        uri = png_uri(partial(render_timeline_png, case))
        parts.append(
            figure(uri, f"timeline of {case.id}", title_of(case), "timeline",
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
        f"<h3>{escape(title)}</h3><ul>"
        + "".join(f"<li>{with_code(t)}</li>" for t in texts)
        + "</ul>"
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
                f"<h3>{escape(title)}</h3>"
                + table(HEADERS, rows, marked, frozenset({"Operation"}), "results")
                + _notes(notes)
            )
        references = load_references(document)
        chart = png_uri(lambda p: render_png(results, p, references=references))
        tables.append(
            figure(
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
        chart = png_uri(lambda p: render_slow_png([c.result for c in slow], p))
        body.append(
            '<section id="slow"><h2>Slow clients</h2><ul>'
            + "".join(f"<li>{escape(d)}</li>" for d in described)
            + "</ul>"
            + table(SLOW_HEADERS, rows, marked, HEADERS_SLOW_TEXT, "slow")
            + _notes(notes)
            + f'<p class="legend">{escape(LEGEND)}</p>'
            + figure(
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
        + escape("\n".join(lines))
        + "</pre></section>"
    )
    nav = "".join(f'<a href="#{key}">{escape(title)}</a>' for key, title in sections)
    subtitle = f"{len(classic)} matrix cases" + (f", {len(slow)} slow-client cases" if slow else "")
    when = document.get("datetime")
    if when:
        subtitle += f", run at {when}"
    # The answer names the models that did not run under its table; without one (no
    # classic case), the models that ran and those that did not are said here.
    note = None if answer else kinds_note(c.result for c in cases)
    kinds = f'<p class="sub kinds">{with_code(note)}</p>' if note else ""
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        "<title>fileproto report</title>"
        # No request may leave the page: an empty favicon keeps the browser from asking.
        '<link rel="icon" href="data:,">'
        f"<style>{STYLE}{ANSWER_STYLE}</style></head><body>"
        f'<h1>fileproto report</h1><p class="sub">{escape(subtitle)}</p>{kinds}<nav>{nav}</nav>'
        + "".join(body)
        + "</body></html>\n"
    )

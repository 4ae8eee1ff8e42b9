"""A server trace read on its own, rendered: text for a terminal, Markdown, CSV, and a
section of the HTML report (a page of its own when the trace is all there is)."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from datetime import UTC, datetime
from functools import partial

from fileproto.report.connections import CONNECTION_PHASES, PHASE_KEYS, ConnectionPhases
from fileproto.report.htmlparts import STYLE, escape, figure, png_uri, table
from fileproto.report.seconds import seconds_text
from fileproto.report.trace_analysis import TraceAnalysis, longest
from fileproto.report.trace_findings import trace_findings
from fileproto.report.trace_timeline import render_trace_timeline_png

#: Connections a table lists at most (the longest); ``--json`` and ``--csv`` have all.
TABLE_ROWS = 40
#: The table's phase columns, short.
_SHORT = {
    "accept_wait_s": "accept wait",
    "queued_s": "queued",
    "served_s": "served",
    "client_send_s": "client send",
    "client_read_s": "client read",
    "idle_s": "idle",
}
HEADERS = ("conn", "peer", "requests", "total", *(_SHORT[PHASE_KEYS[p]] for p in
           CONNECTION_PHASES), "preempted", "ended")  # fmt: skip


def _cell(conn: ConnectionPhases, phase: str) -> str:
    if phase == CONNECTION_PHASES[0] and not conn.accept_wait_known:
        return "?"
    seconds = conn.seconds.get(phase, 0.0)
    if seconds <= 0:
        return "-"
    return f"{seconds_text(seconds)} ({conn.share(phase):.0%})"


def _preempted(conn: ConnectionPhases) -> str:
    """How often a worker let it go mid-transfer, by reason (``-``: never)."""
    reasons = conn.preempted_by_reason
    return ", ".join(f"{n} {why}" for why, n in reasons.items()) if reasons else "-"


def _ended(conn: ConnectionPhases) -> str:
    if conn.refused:
        return "refused"
    if conn.open:
        return "open at the trace's end"
    if conn.deadline:
        return f"{conn.deadline} deadline"
    return conn.closed or "closed"


def rows(conns: Sequence[ConnectionPhases]) -> list[list[str]]:
    out = []
    for conn in conns:
        commands = [r.cmd or "?" for r in conn.requests]
        listed = ", ".join(commands[:4]) + (f" +{len(commands) - 4}" if len(commands) > 4 else "")
        out.append([conn.conn, conn.peer or "?", listed or "-", seconds_text(conn.total_s),
                    *(_cell(conn, p) for p in CONNECTION_PHASES), _preempted(conn),
                    _ended(conn)])  # fmt: skip
    return out


def _shown(analysis: TraceAnalysis) -> tuple[list[ConnectionPhases], str | None]:
    conns = analysis.connections
    if len(conns) <= TABLE_ROWS:
        return conns, None
    return longest(conns, TABLE_ROWS), (
        f"The {TABLE_ROWS} longest of {len(conns)} connections, in the order they began "
        "(--json or --csv FILE has every one)."
    )


def _heading(analysis: TraceAnalysis) -> str:
    when = ""
    if analysis.began is not None:
        stamp = datetime.fromtimestamp(analysis.began, tz=UTC)
        when = f", from {stamp:%Y-%m-%d %H:%M:%S} UTC"
    return (f"Server trace {analysis.path.name}: {len(analysis.connections)} connections, "
            f"{analysis.events} events{when}")  # fmt: skip


def render_trace_text(analysis: TraceAnalysis) -> str:
    findings = trace_findings(analysis)
    shown, more = _shown(analysis)
    table = [list(HEADERS), ["-" * len(h) for h in HEADERS], *rows(shown)]
    widths = [max(len(r[i]) for r in table) for i in range(len(HEADERS))]
    lines = [_heading(analysis), "", "Findings", "--------"]
    lines += [f"- {f}" for f in findings]
    lines += ["", "Connections", "-----------"]
    lines += [
        "  ".join(c.ljust(w) if i in (1, 2, len(HEADERS) - 2, len(HEADERS) - 1) else c.rjust(w)
                  for i, (c, w) in enumerate(zip(r, widths, strict=True))).rstrip()
        for r in table
    ]  # fmt: skip
    lines += [more] if more else []
    lines += ["", *analysis.notes] if analysis.notes else []
    return "\n".join(lines) + "\n"


def _md(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")


def render_trace_markdown(analysis: TraceAnalysis) -> str:
    shown, more = _shown(analysis)
    lines = [f"## {_heading(analysis)}", "", "### Findings", ""]
    lines += [f"- {_md(f)}" for f in trace_findings(analysis)]
    lines += ["", "### Connections", "", "| " + " | ".join(HEADERS) + " |",
              "|" + "|".join(":---" if h in ("peer", "requests", "preempted", "ended") else "---:"
                             for h in HEADERS) + "|"]  # fmt: skip
    lines += ["| " + " | ".join(_md(c) for c in row) + " |" for row in rows(shown)]
    lines += ["", more] if more else []
    lines += ["", *(f"- {_md(n)}" for n in analysis.notes)] if analysis.notes else []
    return "\n".join(lines) + "\n"


def render_trace_csv(analysis: TraceAnalysis) -> str:
    """One row per connection, plain seconds (empty: not known)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    keys = [PHASE_KEYS[p] for p in CONNECTION_PHASES]
    writer.writerow(["conn", "peer", "start_s", "total_s", *keys, "requests", "preempted",
                     "ended"])  # fmt: skip
    for conn in analysis.connections:
        record = conn.as_dict()
        writer.writerow([conn.conn, conn.peer or "", record["start_s"], record["total_s"],
                         *("" if record[k] is None else record[k] for k in keys),
                         " ".join(r.cmd or "?" for r in conn.requests), len(conn.preempted),
                         _ended(conn)])  # fmt: skip
    return out.getvalue()


def trace_section(analysis: TraceAnalysis) -> str:
    """The trace's section of an HTML page: findings, timeline, table, notes."""
    shown, more = _shown(analysis)
    findings = "".join(f"<li>{escape(f)}</li>" for f in trace_findings(analysis))
    uri = png_uri(partial(render_trace_timeline_png, analysis))
    picture = figure(uri, f"timeline of {analysis.path.name}",
                     "Each row one connection, coloured by what it was waiting for, from "
                     "the server's events alone; the text after a row: its requests.",
                     "timeline")  # fmt: skip
    connections = table(HEADERS, rows(shown), [c.open or bool(c.deadline) for c in shown],
                   frozenset({"peer", "requests", "preempted", "ended"}), "trace")  # fmt: skip
    notes = "".join(f"<li>{escape(n)}</li>" for n in analysis.notes)
    return (
        f'<section id="trace"><h2>{escape(_heading(analysis))}</h2>'
        f'<ul class="findings">{findings}</ul>{picture}<h3>Connections</h3>{connections}'
        + (f'<p class="legend">{escape(more)}</p>' if more else "")
        + (f'<ul class="legend">{notes}</ul>' if notes else "")
        + "</section>"
    )


def render_trace_html(analysis: TraceAnalysis) -> str:
    """A self-contained page holding the trace's section."""
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>fileproto report: {escape(analysis.path.name)}</title>"
        '<link rel="icon" href="data:,">'
        f"<style>{STYLE}</style></head><body>"
        '<h1>fileproto report</h1><p class="sub">What the server did with each '
        "connection, read from its trace alone (fileproto serve --trace).</p>"
        + trace_section(analysis)
        + "</body></html>\n"
    )

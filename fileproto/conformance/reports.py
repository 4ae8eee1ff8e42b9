"""The results of one ``fileproto check``: terminal text, JSON, Markdown and HTML.

The JSON report is the stable interface (documented in docs/conformance.md):
``{"tool", "version", "targets": [{"target", "label", "results": [{"id", "level",
"outcome", "requirement", "section", "detail", "duration_s"}], "summary": {outcome:
count}}]}``. The other renderings are made from the same data.
"""

from __future__ import annotations

import html
import textwrap
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from fileproto import __version__
from fileproto.conformance.model import OUTCOMES, Outcome, Result, Rule, Target
from fileproto.conformance.runner import summarize

TOOL = "fileproto check"


@dataclass
class TargetReport:
    target: Target
    results: list[Result]
    seconds: float = 0.0

    @property
    def summary(self) -> dict[str, int]:
        return summarize(self.results)

    def count(self, outcome: Outcome) -> int:
        return sum(1 for r in self.results if r.outcome is outcome)


def as_json(reports: Sequence[TargetReport]) -> dict[str, Any]:
    return {
        "tool": TOOL,
        "version": __version__,
        "targets": [
            {
                "target": r.target.address,
                "label": r.target.name,
                "results": [result.as_dict() for result in r.results],
                "summary": r.summary,
            }
            for r in reports
        ],
    }


# -- terminal -----------------------------------------------------------------------------


def _summary_line(report: TargetReport) -> str:
    counts = ", ".join(f"{n} {o}" for o, n in report.summary.items() if n)
    return f"{report.target.name} ({report.target.address}): {counts} in {report.seconds:.1f} s"


def render_terminal(report: TargetReport, width: int = 100) -> str:
    """A summary, then every rule that did not PASS, with its requirement and what was seen.
    UNSUPPORTED rules share one line per missing feature."""
    lines = [_summary_line(report)]
    wrap = textwrap.TextWrapper(width=width, initial_indent="    ", subsequent_indent="    ")
    unsupported: dict[str, list[str]] = {}
    for outcome in OUTCOMES:
        for result in (r for r in report.results if r.outcome is outcome):
            rule = result.rule
            if outcome is Outcome.PASS:
                continue
            if outcome is Outcome.UNSUPPORTED:
                unsupported.setdefault(result.detail, []).append(rule.id)
                continue
            lines.append(f"  {outcome:<11} {rule.id}  [{rule.level}, section {rule.section}]")
            if outcome is not Outcome.INFO:
                lines += wrap.wrap(f"requirement: {rule.requirement}")
            lines += wrap.wrap(
                f"seen: {result.detail}" if outcome is not Outcome.INFO else result.detail
            )
    for reason, ids in unsupported.items():
        lines.append(f"  UNSUPPORTED {len(ids)} rule(s): {', '.join(ids)}")
        lines += wrap.wrap(reason)
    return "\n".join(lines)


def render_list(rules: Sequence[Rule], width: int = 100) -> str:
    wrap = textwrap.TextWrapper(width=width, initial_indent="    ", subsequent_indent="    ")
    lines = []
    for rule in rules:
        needs = f"  needs: {', '.join(rule.needs)}" if rule.needs else ""
        lines.append(f"{rule.id}  [{rule.level}, section {rule.section}]{needs}")
        lines += wrap.wrap(rule.requirement)
    lines.append(f"{len(rules)} rules")
    return "\n".join(lines)


# -- Markdown -----------------------------------------------------------------------------


def _md(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def render_markdown(reports: Sequence[TargetReport]) -> str:
    names = [r.target.name for r in reports]
    out = [
        f"Made by `{TOOL}` {__version__}: rules from docs/protocol.md, one column per server.",
        "",
        "| server | address | " + " | ".join(str(o) for o in OUTCOMES) + " | seconds |",
        "| --- | --- | " + " | ".join("---:" for _ in OUTCOMES) + " | ---: |",
    ]
    for r in reports:
        counts = " | ".join(str(r.summary[str(o)]) for o in OUTCOMES)
        out.append(f"| {_md(r.target.name)} | {r.target.address} | {counts} | {r.seconds:.1f} |")
    out += [
        "",
        "| rule | level | section | " + " | ".join(_md(n) for n in names) + " |",
        "| --- | --- | --- | " + " | ".join("---" for _ in names) + " |",
    ]
    rules = reports[0].results if reports else []
    for index, first in enumerate(rules):
        cells = []
        for r in reports:
            outcome = r.results[index].outcome
            cells.append(
                f"**{outcome}**" if outcome in (Outcome.FAIL, Outcome.NON_STRICT) else str(outcome)
            )
        rule = first.rule
        out.append(f"| `{rule.id}` | {rule.level} | {rule.section} | " + " | ".join(cells) + " |")
    for r in reports:
        noted = [x for x in r.results if x.outcome is not Outcome.PASS]
        if not noted:
            continue
        out += ["", f"### {_md(r.target.name)}: what was seen", ""]
        out += [f"- `{x.rule.id}` {x.outcome}: {_md(x.detail)}" for x in noted]
    return "\n".join(out) + "\n"


# -- HTML ---------------------------------------------------------------------------------

_STYLE = """
body { font: 14px/1.4 system-ui, sans-serif; margin: 1.5em; color: #222; }
table { border-collapse: collapse; }
th, td { border: 1px solid #ccc; padding: 3px 6px; vertical-align: top; text-align: left; }
th.rule { font-family: ui-monospace, monospace; font-weight: normal; white-space: nowrap; }
td.o details summary { cursor: pointer; font-weight: 600; }
td.o details div { max-width: 40em; font-size: 12px; white-space: pre-wrap; }
.PASS { background: #d8f0d8; } .FAIL { background: #f6c4c4; }
.NON-STRICT { background: #fbe3b4; } .UNSUPPORTED { background: #e4e4e4; }
.INFO { background: #d6e6f8; }
"""


def render_html(reports: Sequence[TargetReport]) -> str:
    """One self-contained page: rules by servers, each cell opens its detail."""
    esc = html.escape
    head = "".join(
        f"<th>{esc(r.target.name)}<br><small>{esc(r.target.address)}</small></th>" for r in reports
    )
    summary = "".join(
        f"<tr><th>{esc(r.target.name)}</th>"
        + "".join(f'<td class="{o}">{r.summary[str(o)]}</td>' for o in OUTCOMES)
        + f"<td>{r.seconds:.1f}</td></tr>"
        for r in reports
    )
    rows = []
    rules = reports[0].results if reports else []
    for index, first in enumerate(rules):
        rule = first.rule
        cells = []
        for r in reports:
            result = r.results[index]
            detail = result.detail or "(nothing to add)"
            cells.append(
                f'<td class="o {result.outcome}"><details><summary>{result.outcome}</summary>'
                f"<div>{esc(detail)}\n({result.duration_s:.2f} s)</div></details></td>"
            )
        title = esc(f"{rule.level}, section {rule.section}: {rule.requirement}")
        rows.append(
            f'<tr><th class="rule" title="{title}">{esc(rule.id)}<br>'
            f"<small>{rule.level} §{rule.section}</small></th>{''.join(cells)}</tr>"
        )
    outcome_heads = "".join(f"<th>{o}</th>" for o in OUTCOMES)
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{TOOL} report</title>
<style>{_STYLE}</style></head><body>
<h1>{TOOL} {esc(__version__)}</h1>
<p>Rules of docs/protocol.md against each server. Click an outcome for what was seen;
hover a rule for its requirement.</p>
<table><tr><th>server</th>{outcome_heads}<th>seconds</th></tr>{summary}</table>
<h2>Rules</h2>
<table><tr><th>rule</th>{head}</tr>
{chr(10).join(rows)}
</table></body></html>
"""

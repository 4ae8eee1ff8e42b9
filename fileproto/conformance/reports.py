"""The results of one ``fileproto check``: terminal text, JSON, Markdown and HTML.

The JSON report is the stable interface (documented in docs/conformance.md):
``{"tool", "version", "profiles", "targets": [{"target", "label", "profile", "results":
[{"id", "level", "outcome", "requirement", "section", "profiles", "detail",
"duration_s"}], "summary": {outcome: count}, "leftovers": [name]}]}``. The other
renderings are made from the same data.
"""

from __future__ import annotations

import html
import textwrap
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from fileproto import __version__
from fileproto.conformance.classic import DEFAULT_PROFILE, SENTENCES
from fileproto.conformance.model import OUTCOMES, Level, Outcome, Result, Rule, Target
from fileproto.conformance.runner import summarize

TOOL = "fileproto check"


@dataclass
class TargetReport:
    target: Target
    results: list[Result]
    seconds: float = 0.0
    profile: str = DEFAULT_PROFILE
    #: Names of this run still on the server after its final sweep.
    leftovers: list[str] = field(default_factory=list)
    #: Whether the run was judged in several profiles (the columns then name theirs).
    several: bool = False

    @property
    def title(self) -> str:
        name = self.target.name
        return f"{name} ({self.profile})" if self.several else name

    @property
    def summary(self) -> dict[str, int]:
        return summarize(self.results)

    def count(self, outcome: Outcome) -> int:
        return sum(1 for r in self.results if r.outcome is outcome)


def as_json(reports: Sequence[TargetReport]) -> dict[str, Any]:
    profiles = list(dict.fromkeys(r.profile for r in reports)) or [DEFAULT_PROFILE]
    return {
        "tool": TOOL,
        "version": __version__,
        "profiles": profiles,
        "targets": [
            {
                "target": r.target.address,
                "label": r.target.name,
                "profile": r.profile,
                "results": [result.as_dict() for result in r.results],
                "summary": r.summary,
                "leftovers": r.leftovers,
            }
            for r in reports
        ],
    }


# -- terminal -----------------------------------------------------------------------------


def _summary_line(report: TargetReport) -> str:
    counts = ", ".join(f"{n} {o}" for o, n in report.summary.items() if n)
    return (
        f"{report.target.name} ({report.target.address}), {report.profile} profile: {counts} "
        f"in {report.seconds:.1f} s"
    )


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
    if report.leftovers:
        lines.append(f"  LEFT BEHIND {len(report.leftovers)} name(s) this run made could not "
                     "be deleted:")  # fmt: skip
        lines += wrap.wrap(", ".join(repr(n) for n in report.leftovers))
    return "\n".join(lines)


def render_list(rules: Sequence[Rule], profile: str = DEFAULT_PROFILE, width: int = 100) -> str:
    """The catalogue: each rule with the profiles that hold it (and, for the classic one,
    the sentence of the classic text it rests on); rules ``profile`` holds are marked."""
    wrap = textwrap.TextWrapper(width=width, initial_indent="    ", subsequent_indent="    ")
    lines = []
    held = 0
    for rule in rules:
        needs = f"  needs: {', '.join(rule.needs)}" if rule.needs else ""
        holds = profile in rule.profiles or rule.level is Level.INFO
        held += holds
        mark = "" if holds else f"  (not held by {profile}: NON-STRICT there)"
        lines.append(
            f"{rule.id}  [{rule.level}, section {rule.section}]  profiles: "
            f"{', '.join(rule.profiles)}{needs}{mark}"
        )
        lines += wrap.wrap(rule.requirement)
        if rule.classic is not None:
            lines += wrap.wrap(f"classic: {SENTENCES[rule.classic]}")
    lines.append(f"{len(rules)} rules, {held} held by the {profile} profile")
    return "\n".join(lines)


# -- Markdown -----------------------------------------------------------------------------


def _profiles(reports: Sequence[TargetReport]) -> str:
    names = list(dict.fromkeys(r.profile for r in reports)) or [DEFAULT_PROFILE]
    return " and ".join(f"the {n} profile" for n in names)


def _md(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def render_markdown(reports: Sequence[TargetReport]) -> str:
    names = [r.title for r in reports]
    out = [
        f"Made by `{TOOL}` {__version__}, {_profiles(reports)}: one column per server.",
        "",
        "| server | address | " + " | ".join(str(o) for o in OUTCOMES) + " | seconds |",
        "| --- | --- | " + " | ".join("---:" for _ in OUTCOMES) + " | ---: |",
    ]
    for r in reports:
        counts = " | ".join(str(r.summary[str(o)]) for o in OUTCOMES)
        out.append(f"| {_md(r.title)} | {r.target.address} | {counts} | {r.seconds:.1f} |")
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
        if r.leftovers:
            out += ["", f"{_md(r.title)}: left behind {', '.join(map(repr, r.leftovers))}"]
    for r in reports:
        noted = [x for x in r.results if x.outcome is not Outcome.PASS]
        if not noted:
            continue
        out += ["", f"### {_md(r.title)}: what was seen", ""]
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
        f"<th>{esc(r.title)}<br><small>{esc(r.target.address)}</small></th>" for r in reports
    )
    summary = "".join(
        f"<tr><th>{esc(r.title)}</th>"
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
<p>Rules of docs/protocol.md ({esc(_profiles(reports))}) against each server. Click an
outcome for what was seen; hover a rule for its requirement.</p>
<table><tr><th>server</th>{outcome_heads}<th>seconds</th></tr>{summary}</table>
<h2>Rules</h2>
<table><tr><th>rule</th>{head}</tr>
{chr(10).join(rows)}
</table></body></html>
"""

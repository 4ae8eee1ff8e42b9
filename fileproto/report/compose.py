"""The whole report as text (for a terminal) and as Markdown, in one order: the models
that ran (and the kinds that did not), the findings, the classic tables, the slow-client
table. ``fileproto report`` prints and writes these, and the pytest plugin writes the
same Markdown beside its run (results.md)."""

from __future__ import annotations

from collections.abc import Sequence

from fileproto.report.cases import Case
from fileproto.report.findings import findings, render_findings_markdown, render_findings_text
from fileproto.report.order import kinds_note
from fileproto.report.slow import render_slow_markdown, render_slow_text, split
from fileproto.report.tables import render_markdown, render_text


def report_text(cases: Sequence[Case]) -> str:
    classic, slow = split(c.result for c in cases)
    note = kinds_note(c.result for c in cases)
    texts = [note + "\n"] if note else []
    texts.append(render_findings_text(findings(cases)))
    texts += [render_text(classic)] if classic else []
    texts += [render_slow_text(slow)] if slow else []
    return "\n".join(t for t in texts if t)


def report_markdown(cases: Sequence[Case]) -> str:
    classic, slow = split(c.result for c in cases)
    note = kinds_note(c.result for c in cases)
    parts = [note + "\n"] if note else []
    parts.append(render_findings_markdown(findings(cases)))
    parts += [render_markdown(classic)] if classic else []
    parts += [render_slow_markdown(slow)] if slow else []
    return "\n".join(p for p in parts if p)

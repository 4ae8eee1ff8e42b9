"""The whole report as text (for a terminal) and as Markdown, in one order: the answer
(:mod:`.answer_render`, which names the kinds that did not run), or without one (no
classic case) the models that ran and the kinds that did not; the findings; the classic
tables; the slow-client table. ``fileproto report`` prints and writes these, and the
pytest plugin writes the same Markdown beside its run (results.md)."""

from __future__ import annotations

from collections.abc import Sequence

from fileproto.cases.comparisons import Stated
from fileproto.report.answer_render import Explained, render_answer_markdown, render_answer_text
from fileproto.report.cases import Case
from fileproto.report.findings import findings, render_findings_markdown, render_findings_text
from fileproto.report.order import kinds_note
from fileproto.report.slow import render_slow_markdown, render_slow_text, split
from fileproto.report.tables import render_markdown, render_text


def _note(cases: Sequence[Case], answer: Explained | None) -> list[str]:
    note = None if answer else kinds_note(c.result for c in cases)
    return [note + "\n"] if note else []


def report_text(cases: Sequence[Case], verdicts: Sequence[Stated], answer: Explained | None) -> str:
    classic, slow = split(c.result for c in cases)
    texts = [render_answer_text(answer)] if answer else _note(cases, answer)
    texts.append(render_findings_text(findings(cases, verdicts)))
    texts += [render_text(classic)] if classic else []
    texts += [render_slow_text(slow)] if slow else []
    return "\n".join(t for t in texts if t)


def report_markdown(
    cases: Sequence[Case], verdicts: Sequence[Stated], answer: Explained | None
) -> str:
    classic, slow = split(c.result for c in cases)
    parts = [render_answer_markdown(answer)] if answer else _note(cases, answer)
    parts.append(render_findings_markdown(findings(cases, verdicts)))
    parts += [render_markdown(classic)] if classic else []
    parts += [render_slow_markdown(slow)] if slow else []
    return "\n".join(p for p in parts if p)

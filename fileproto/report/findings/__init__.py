"""What a run shows, in words, each statement with its numbers; all computed from the
cases, none written in advance.

A difference is stated only as the run's verdicts state it (:mod:`.method`: every
comparison the suite states, with its verdict from the statistics module, read by
:mod:`fileproto.report.verdicts`). One module per topic, in the order they are printed
(:data:`.topics.TOPICS`): the method itself, how time per client grows with clients and
where adding server workers stops helping (:mod:`.scaling`), the models compared per
operation and size (:mod:`.models`), the
share of a client's time spent queued (:mod:`.queued`, from timelines), where the time
went from the client's side against a server that was not traced
(:mod:`fileproto.report.mirror`, from what TCP told the clients), failed clients
and who completed the slow-client scenarios (:mod:`.failures`), and how responsive the
server stayed (:mod:`.responsiveness`, the LIST probe).
"""

from __future__ import annotations

import textwrap
from collections.abc import Callable, Sequence

from fileproto.cases.comparisons import Stated
from fileproto.report.cases import Case
from fileproto.report.findings.client_side import client_side
from fileproto.report.findings.failures import failures, slow_completion
from fileproto.report.findings.index import Index, model_of
from fileproto.report.findings.method import Verdicts, method
from fileproto.report.findings.models import models
from fileproto.report.findings.queued import phase_shares, queued
from fileproto.report.findings.responsiveness import (
    UNCORRECTED_KEYS,
    probe_figures,
    responsiveness,
)
from fileproto.report.findings.scaling import scaling, workers_help
from fileproto.report.findings.topics import TOPICS, Finding
from fileproto.report.verdicts import run_verdicts

__all__ = [
    "TOPICS",
    "UNCORRECTED_KEYS",
    "Finding",
    "Verdicts",
    "findings",
    "grouped",
    "method",
    "model_of",
    "phase_shares",
    "probe_figures",
    "render_findings_markdown",
    "render_findings_text",
]


def findings(cases: Sequence[Case], stated: Sequence[Stated] | None = None) -> list[Finding]:
    """Every finding of the run, topic by topic (TOPICS' order), from ``stated``, the
    run's verdicts (:func:`fileproto.report.verdicts.document_verdicts`); without them,
    the verdicts computed from the cases' rounds."""
    if not cases:
        return []
    classic = [c for c in cases if not c.result.scenario]
    steps: list[Callable[[], list[Finding]]] = []
    out: list[Finding] = []
    if classic:
        verdicts = Verdicts(
            stated if stated is not None else run_verdicts([c.result for c in classic])
        )
        index = Index(classic)
        out.append(Finding("noise", method(verdicts, classic)))
        steps += [
            lambda: scaling(index),
            lambda: workers_help(index, verdicts),
            lambda: models(index, verdicts),
            lambda: queued(index, classic),
        ]
    steps.append(lambda: client_side(cases))
    steps += [lambda: failures(cases), lambda: slow_completion(cases)]
    steps.append(lambda: responsiveness(Index(classic), cases))
    for step in steps:
        out += step()
    order = [t for t, _ in TOPICS]
    return sorted(out, key=lambda f: order.index(f.topic))


def grouped(found: Sequence[Finding]) -> list[tuple[str, list[str]]]:
    """(topic title, texts) in TOPICS' order, topics without findings left out."""
    return [
        (title, texts)
        for topic, title in TOPICS
        if (texts := [f.text for f in found if f.topic == topic])
    ]


def render_findings_text(found: Sequence[Finding]) -> str:
    """The findings for a terminal: a title, then one paragraph per finding."""
    if not found:
        return ""
    lines = ["Findings", "========"]
    for title, texts in grouped(found):
        lines += ["", title, "-" * len(title)]
        for text in texts:
            lines += textwrap.wrap(text, 96, initial_indent="- ", subsequent_indent="  ")
    return "\n".join(lines) + "\n"


def render_findings_markdown(found: Sequence[Finding]) -> str:
    if not found:
        return ""
    # Topics in bold, not as headings: the tables that follow are the ### sections.
    lines = ["## Findings"]
    for title, texts in grouped(found):
        lines += ["", f"**{title}**", "", *(f"- {text}" for text in texts)]
    return "\n".join(lines) + "\n"

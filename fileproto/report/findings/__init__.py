"""What a run shows, in words, each statement with its numbers; all computed from the
cases, none written in advance.

A difference is stated only when it is larger than the run's own noise (:mod:`.noise`:
a rank test with several rounds, a fixed, stated ratio with one). One module per topic,
in the order they are printed (:data:`.topics.TOPICS`): the noise rule itself, how time
per client grows with clients and where adding server workers stops helping
(:mod:`.scaling`), the models compared per operation and size (:mod:`.models`), the
share of a client's time spent queued (:mod:`.queued`, from timelines), where the time
went from the client's side against a server that was not traced
(:mod:`fileproto.report.mirror`, from what TCP told the clients), failed clients
and who completed the slow-client scenarios (:mod:`.failures`), and how responsive the
server stayed (:mod:`.responsiveness`, the LIST probe).
"""

from __future__ import annotations

import textwrap
from collections.abc import Callable, Sequence

from fileproto.report.cases import Case
from fileproto.report.findings.client_side import client_side
from fileproto.report.findings.failures import failures, slow_completion
from fileproto.report.findings.index import Index, model_of
from fileproto.report.findings.models import models
from fileproto.report.findings.noise import NOISE_FLOOR, Noise, noise_of
from fileproto.report.findings.queued import phase_shares, queued
from fileproto.report.findings.responsiveness import (
    UNCORRECTED_KEYS,
    probe_figures,
    responsiveness,
)
from fileproto.report.findings.scaling import scaling, workers_help
from fileproto.report.findings.topics import TOPICS, Finding

__all__ = [
    "NOISE_FLOOR",
    "TOPICS",
    "UNCORRECTED_KEYS",
    "Finding",
    "Noise",
    "findings",
    "grouped",
    "model_of",
    "noise_of",
    "phase_shares",
    "probe_figures",
    "render_findings_markdown",
    "render_findings_text",
]


def findings(cases: Sequence[Case]) -> list[Finding]:
    """Every finding of the run, topic by topic (TOPICS' order)."""
    if not cases:
        return []
    classic = [c for c in cases if not c.result.scenario]
    steps: list[Callable[[], list[Finding]]] = []
    out: list[Finding] = []
    if classic:
        noise = noise_of(classic)
        index = Index(classic)
        out.append(Finding("noise", noise.basis))
        steps += [
            lambda: scaling(index, noise),
            lambda: workers_help(index, noise),
            lambda: models(index, noise),
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

"""The conformance checker: a catalogue of rules quoted from docs/protocol.md, each
checked over raw sockets against any server (``fileproto check``, or pytest with
``-m conformance``) and judged in a profile: ``fileproto`` (every rule) or ``classic``
(the classic exercise's text and safety, docs/classic-protocol.md). Needs nothing beyond
the standard library and fileproto.wire."""

from __future__ import annotations

from fileproto.conformance.model import Level, Outcome, Result, Rule, Target
from fileproto.conformance.rules import CATALOGUE
from fileproto.conformance.runner import (
    DEFAULT_TIMEOUT,
    Runner,
    Unreachable,
    check_reachable,
    select_rules,
    summarize,
)

__all__ = [
    "CATALOGUE",
    "DEFAULT_TIMEOUT",
    "Level",
    "Outcome",
    "Result",
    "Rule",
    "Runner",
    "Target",
    "Unreachable",
    "check_reachable",
    "select_rules",
    "summarize",
]

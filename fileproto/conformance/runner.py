"""Runs the catalogue against one server: probes its optional features once, runs each
rule in a dialect it speaks, reports the rules of a missing feature UNSUPPORTED, and
cleans up every name a rule made."""

from __future__ import annotations

import fnmatch
import secrets
import socket
import time
import traceback
from collections.abc import Callable, Iterable

from fileproto.client import connect_error
from fileproto.conformance.context import Context
from fileproto.conformance.model import (
    Level,
    Outcome,
    Result,
    Rule,
    Target,
    Unsupported,
    Violation,
    failure_outcome,
)
from fileproto.conformance.probes import Probes

DEFAULT_TIMEOUT = 10.0
PREFIX_HEAD = "fpc-"


def new_prefix() -> str:
    """The random prefix of every name one run creates."""
    return f"{PREFIX_HEAD}{secrets.token_hex(4)}-"


class Unreachable(Exception):
    """The target does not accept connections."""


def check_reachable(target: Target, timeout: float) -> None:
    try:
        with socket.create_connection((target.host, target.port), timeout=timeout):
            pass
    except OSError as exc:
        raise Unreachable(str(connect_error(target.host, target.port, exc))) from None


def select_rules(
    rules: Iterable[Rule], only: Iterable[str] = (), exclude: Iterable[str] = ()
) -> list[Rule]:
    """Rules whose id matches one of ``only`` (all if none) and none of ``exclude``."""
    only, exclude = list(only), list(exclude)
    return [
        r
        for r in rules
        if (not only or any(fnmatch.fnmatchcase(r.id, g) for g in only))
        and not any(fnmatch.fnmatchcase(r.id, g) for g in exclude)
    ]


class Runner:
    """The catalogue against one target. Probes are shared by all its rules."""

    def __init__(
        self, target: Target, timeout: float = DEFAULT_TIMEOUT, prefix: str | None = None
    ) -> None:
        self.target = target
        self.timeout = timeout
        self.prefix = prefix or new_prefix()
        self.probes = Probes(target, timeout, self.prefix)

    def run(
        self, rules: Iterable[Rule], progress: Callable[[Result], None] | None = None
    ) -> list[Result]:
        results = []
        for rule in rules:
            result = self.run_rule(rule)
            results.append(result)
            if progress is not None:
                progress(result)
        return results

    def run_rule(self, rule: Rule) -> Result:
        start = time.perf_counter()
        outcome, detail = self._outcome(rule)
        return Result(rule, outcome, detail, time.perf_counter() - start)

    def _outcome(self, rule: Rule) -> tuple[Outcome, str]:
        self.probes.probe_all()
        for feature in rule.needs:
            if not self.probes.has(feature):
                return Outcome.UNSUPPORTED, self.probes.reason(feature)
        if self.probes.preferred is None:
            return failure_outcome(rule.level), (
                "not checked: the server answered LIST in neither dialect "
                f"(json: {self.probes.why.get('json')}; text: {self.probes.why.get('text')})"
            )
        try:
            context = Context(self.target, rule, self.probes, self.prefix, self.timeout)
        except Unsupported as exc:
            return Outcome.UNSUPPORTED, str(exc)
        try:
            note = rule.check(context)
        except Unsupported as exc:
            return Outcome.UNSUPPORTED, str(exc)
        except Violation as exc:
            return failure_outcome(rule.level), str(exc)
        except Exception as exc:  # a checker bug must not end the run; report it whole
            lines = traceback.format_exception_only(exc)
            return failure_outcome(rule.level), f"checker error: {''.join(lines).strip()}"
        finally:
            context.cleanup()
        if rule.level is Level.INFO:
            return Outcome.INFO, note or ""
        return Outcome.PASS, note or ""


def summarize(results: Iterable[Result]) -> dict[str, int]:
    counts = {str(o): 0 for o in Outcome}
    for result in results:
        counts[str(result.outcome)] += 1
    return counts


__all__ = [
    "DEFAULT_TIMEOUT",
    "Probes",
    "Runner",
    "Unreachable",
    "check_reachable",
    "new_prefix",
    "select_rules",
    "summarize",
]

"""Runs the catalogue against one server in one profile: probes its optional features
once, runs each rule in a dialect it speaks, reports the rules of a missing feature
UNSUPPORTED and a rule whose prerequisite failed BLOCKED, cleans up every name a rule made,
and at the end sweeps whatever the run left (``sweep``)."""

from __future__ import annotations

import contextlib
import fnmatch
import secrets
import socket
import time
import traceback
from collections.abc import Callable, Iterable

from fileproto.client import connect_error
from fileproto.conformance.classic import DEFAULT_PROFILE, PROFILES
from fileproto.conformance.context import Context
from fileproto.conformance.model import (
    Blocked,
    Finding,
    Level,
    Outcome,
    Result,
    Rule,
    Target,
    Unsupported,
    Violation,
    failure_outcome,
    judge,
)
from fileproto.conformance.probes import Probes
from fileproto.conformance.rawio import request
from fileproto.conformance.rules import CATALOGUE

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
    """The catalogue against one target in one profile. Probes are shared by all its
    rules, and so are results: a rule run as another's prerequisite is not run again."""

    def __init__(
        self,
        target: Target,
        timeout: float = DEFAULT_TIMEOUT,
        prefix: str | None = None,
        profile: str = DEFAULT_PROFILE,
    ) -> None:
        if profile not in PROFILES:
            raise ValueError(f"unknown profile {profile!r}; choose from {', '.join(PROFILES)}")
        self.target = target
        self.timeout = timeout
        self.profile = profile
        self.prefix = prefix or new_prefix()
        self.probes = Probes(target, timeout, self.prefix)
        self._results: dict[str, Result] = {}
        self._running: set[str] = set()

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
        if rule.id not in self._results:
            self._running.add(rule.id)
            start = time.perf_counter()
            try:
                outcome, detail = self._outcome(rule)
            finally:
                self._running.discard(rule.id)
            self._results[rule.id] = Result(rule, outcome, detail, time.perf_counter() - start)
        return self._results[rule.id]

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
        note: str | None = None
        blocked: Blocked | None = None
        try:
            note = rule.check(context)
        except Unsupported as exc:
            return Outcome.UNSUPPORTED, str(exc)
        except Blocked as exc:
            blocked = exc
        except Violation as exc:
            context.findings.append(Finding(exc.scope, str(exc)))
        except Exception as exc:  # a checker bug must not end the run; report it whole
            lines = traceback.format_exception_only(exc)
            context.findings.append(Finding("rule", f"checker error: {''.join(lines).strip()}"))
        finally:
            context.cleanup()
        findings = context.findings
        blocked = blocked or context.blocked
        held = judge(rule, findings, self.profile)
        if blocked is not None and (held is None or held[0] is not failure_outcome(rule.level)):
            # Run (or recall) the prerequisite only now, with this rule's connections
            # closed: a server with one worker would not answer it meanwhile.
            prerequisite = self._prerequisite(blocked.prerequisite, rule)
            if prerequisite is not None and prerequisite.outcome in (
                Outcome.FAIL,
                Outcome.BLOCKED,
            ):
                seen = "; ".join([*(f.message for f in findings), str(blocked)])
                return Outcome.BLOCKED, (
                    f"not checked: {prerequisite.rule.id} is {prerequisite.outcome} here "
                    f"and this rule needs it; seen: {seen}"
                )
            findings.append(Finding("rule", str(blocked)))
        elif blocked is not None:
            findings.append(Finding("rule", str(blocked)))
        judged = judge(rule, findings, self.profile)
        if judged is not None:
            return judged
        if rule.level is Level.INFO:
            return Outcome.INFO, note or ""
        return Outcome.PASS, note or ""

    def _prerequisite(self, rule_id: str, asking: Rule) -> Result | None:
        if rule_id == asking.id or rule_id in self._running:
            return None  # its own step, or a circle: the failure is this rule's own
        rule = next((r for r in CATALOGUE if r.id == rule_id), None)
        return None if rule is None else self.run_rule(rule)

    def sweep(self) -> list[str]:
        """Delete every listed name that carries this run's prefix, in whatever form the
        server stored it (a rule deletes the names it made, but a server may have stored
        one under another name). Returns what is still there afterwards: listed, or (with
        a known root) on disk in the root."""
        dialect = "json" if self.probes.has("json") else self.probes.preferred
        if dialect is None:
            return []
        for _ in range(2):  # a second pass for names a first delete changed
            left = self._ours(dialect)
            for name in left:
                if dialect == "text" and (not name or any(c.isspace() for c in name)):
                    continue  # the text dialect cannot carry it
                with contextlib.suppress(Violation, OSError):
                    Context.ask_once(self.target, self.timeout, request(dialect, "DELETE", name))
        left = self._ours(dialect)
        root = self.target.root
        if root is not None:
            with contextlib.suppress(OSError):
                left += sorted(
                    f"{p.name} (on disk, not listed)"
                    for p in root.iterdir()
                    if self.prefix in p.name and p.name not in left
                )
        return left

    def _ours(self, dialect: str) -> list[str]:
        try:
            reply = Context.ask_once(self.target, self.timeout, request(dialect, "LIST"))
        except (Violation, OSError):
            return []
        names = reply.get("data")
        if not isinstance(names, list):
            return []
        return [n for n in names if isinstance(n, str) and self.prefix in n]


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

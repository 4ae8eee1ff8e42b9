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
from dataclasses import dataclass, field

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


@dataclass
class Evidence:
    """What running a rule's check saw, whatever the profile: judged per profile."""

    findings: list[Finding] = field(default_factory=list)
    blocked: Blocked | None = None
    note: str = ""
    #: Why the rule did not apply (a missing feature), if it did not.
    unsupported: str | None = None
    duration_s: float = 0.0


class Runner:
    """The catalogue against one target. Probes are shared by all its rules, and so is
    what each check saw (``evidence``): a rule run as another's prerequisite is not run
    again, and the same evidence is judged in any profile (``run_rule(rule, profile)``)."""

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
        self._evidence: dict[str, Evidence] = {}
        self._running: set[str] = set()

    def run(
        self,
        rules: Iterable[Rule],
        progress: Callable[[Result], None] | None = None,
        profile: str | None = None,
    ) -> list[Result]:
        results = []
        for rule in rules:
            result = self.run_rule(rule, profile)
            results.append(result)
            if progress is not None:
                progress(result)
        return results

    def run_rule(self, rule: Rule, profile: str | None = None) -> Result:
        """The rule's result in ``profile`` (default: the runner's); its check runs once."""
        return self._judged(rule, profile or self.profile, frozenset())

    def evidence(self, rule: Rule) -> Evidence:
        if rule.id not in self._evidence:
            self._running.add(rule.id)
            start = time.perf_counter()
            try:
                evidence = self._check(rule)
            finally:
                self._running.discard(rule.id)
            evidence.duration_s = time.perf_counter() - start
            self._evidence[rule.id] = evidence
        return self._evidence[rule.id]

    def _check(self, rule: Rule) -> Evidence:
        self.probes.probe_all()
        for feature in rule.needs:
            if not self.probes.has(feature):
                return Evidence(unsupported=self.probes.reason(feature))
        if self.probes.preferred is None:
            return Evidence([Finding("all", (
                "not checked: the server answered LIST in neither dialect "
                f"(json: {self.probes.why.get('json')}; text: {self.probes.why.get('text')})"
            ))])  # fmt: skip
        try:
            context = Context(self.target, rule, self.probes, self.prefix, self.timeout)
        except Unsupported as exc:
            return Evidence(unsupported=str(exc))
        evidence = Evidence(context.findings)
        try:
            evidence.note = rule.check(context) or ""
        except Unsupported as exc:
            return Evidence(unsupported=str(exc))
        except Blocked as exc:
            evidence.blocked = exc
        except Violation as exc:
            context.findings.append(Finding(exc.scope, str(exc)))
        except Exception as exc:  # a checker bug must not end the run; report it whole
            lines = traceback.format_exception_only(exc)
            context.findings.append(Finding("rule", f"checker error: {''.join(lines).strip()}"))
        finally:
            context.cleanup()
        evidence.blocked = evidence.blocked or context.blocked
        return evidence

    def _judged(self, rule: Rule, profile: str, asking: frozenset[str]) -> Result:
        evidence = self.evidence(rule)
        outcome, detail = self._outcome(rule, evidence, profile, asking)
        return Result(rule, outcome, detail, evidence.duration_s)

    def _outcome(
        self, rule: Rule, evidence: Evidence, profile: str, asking: frozenset[str]
    ) -> tuple[Outcome, str]:
        if evidence.unsupported is not None:
            return Outcome.UNSUPPORTED, evidence.unsupported
        findings = list(evidence.findings)
        blocked = evidence.blocked
        held = judge(rule, findings, profile)
        if blocked is not None and (held is None or held[0] is not failure_outcome(rule.level)):
            # The prerequisite runs (if it has not yet) only now, with this rule's
            # connections closed: a server with one worker would not answer it meanwhile.
            prerequisite = self._prerequisite(blocked.prerequisite, rule, profile, asking)
            if prerequisite is not None and prerequisite.outcome in (
                Outcome.FAIL,
                Outcome.BLOCKED,
            ):
                seen = "; ".join([*(f.message for f in findings), str(blocked)])
                return Outcome.BLOCKED, (
                    f"not checked: {prerequisite.rule.id} is {prerequisite.outcome} here "
                    f"and this rule needs it; seen: {seen}"
                )
        if blocked is not None:
            findings.append(Finding("rule", str(blocked)))
        judged = judge(rule, findings, profile)
        if judged is not None:
            return judged
        if rule.level is Level.INFO:
            return Outcome.INFO, evidence.note
        return Outcome.PASS, evidence.note

    def _prerequisite(
        self, rule_id: str, asking_rule: Rule, profile: str, asking: frozenset[str]
    ) -> Result | None:
        asking = asking | {asking_rule.id}
        if rule_id in asking or rule_id in self._running:
            return None  # its own step, or a circle: the failure is this rule's own
        rule = next((r for r in CATALOGUE if r.id == rule_id), None)
        return None if rule is None else self._judged(rule, profile, asking)

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

"""Runs the catalogue against one server: probes its optional features once, runs each
rule in a dialect it speaks, reports the rules of a missing feature UNSUPPORTED, and
cleans up every name a rule made."""

from __future__ import annotations

import base64
import contextlib
import fnmatch
import secrets
import socket
import time
import traceback
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from fileproto.client import connect_error
from fileproto.conformance.context import Context, Target
from fileproto.conformance.model import (
    FEATURES,
    Level,
    Outcome,
    Result,
    Rule,
    Unsupported,
    Violation,
    failure_outcome,
)
from fileproto.conformance.rawio import Conn, Reply, request, show, upload_request

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


@dataclass
class Probes:
    """Which optional features the server has, each found by one probe."""

    target: Target
    timeout: float
    prefix: str
    found: dict[str, bool] = field(default_factory=dict)
    why: dict[str, str] = field(default_factory=dict)

    @property
    def preferred(self) -> str | None:
        """The dialect rules that are not about one are run in."""
        for dialect in ("json", "text"):
            if self.has(dialect):
                return dialect
        return None

    def known(self, feature: str) -> bool | None:
        return self.found.get(feature)

    def probe_all(self) -> None:
        """Every probe, before any rule: a probe run in the middle of a rule would open a
        connection while the rule holds one, which a server with one worker never answers."""
        for feature in FEATURES:
            self.has(feature)

    def has(self, feature: str) -> bool:
        if feature not in self.found:
            seen = self._probe(feature)
            self.found[feature] = seen is None
            self.why[feature] = seen or ""
        return self.found[feature]

    def reason(self, feature: str) -> str:
        return f"the server lacks {FEATURES[feature]}: {self.why.get(feature, '')}"

    def _probe(self, feature: str) -> str | None:
        """None when the feature is there, else what the probe saw."""
        try:
            if feature in ("json", "text"):
                return self._dialect(feature)
            dialect = self.preferred
            if dialect is None:
                return "it speaks neither dialect"
            if feature == "keepalive":
                with self._conn() as conn:
                    conn.request(request(dialect, "LIST"))
                    return _not_ok(conn.request(request(dialect, "LIST")), "a second LIST")
            if feature == "pipelining":
                with self._conn() as conn:
                    conn.send(request(dialect, "LIST") * 2)
                    first = _not_ok(conn.read(), "the first of two pipelined LISTs")
                    return first or _not_ok(conn.read(), "the second of two pipelined LISTs")
            return self._alias(feature.split(".", 1)[1].upper(), dialect)
        except Violation as exc:
            return str(exc)

    def _conn(self) -> Conn:
        return Conn(self.target.host, self.target.port, self.timeout)

    def _dialect(self, dialect: str) -> str | None:
        with self._conn() as conn:
            reply = conn.request(request(dialect, "LIST"))
        if reply.get("status") != "OK" or not isinstance(reply.get("data"), list):
            return f"LIST in this dialect was answered {show(reply)}"
        return None

    def _alias(self, alias: str, dialect: str) -> str | None:
        name = f"{self.prefix}probe-{alias.lower()}.bin"
        payload = base64.b64encode(b"alias probe")
        try:
            if alias == "DOWNLOAD":
                stored = _not_ok(self._ask(upload_request(dialect, name, payload)), "UPLOAD")
                if stored:
                    return f"the probe file could not be stored: {stored}"
                return _not_ok(self._ask(request(dialect, alias, name)), alias)
            return _not_ok(self._ask(upload_request(dialect, name, payload, alias)), alias)
        finally:
            with contextlib.suppress(Violation):
                self._ask(request(dialect, "DELETE", name))

    def _ask(self, data: bytes) -> Reply:
        with self._conn() as conn:
            return conn.request(data)


def _not_ok(reply: Reply, what: str) -> str | None:
    if reply.get("status") == "OK":
        return None
    return f"{what} was answered {show(reply)}"


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

"""Which optional features a server has (a dialect, keep-alive, pipelining, an alias),
each found by one probe before any rule runs."""

from __future__ import annotations

import base64
import contextlib
from dataclasses import dataclass, field

from fileproto.conformance.model import FEATURES, Target, Violation
from fileproto.conformance.rawio import Conn, Reply, request, show, upload_request


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

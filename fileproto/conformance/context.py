"""What a rule's check is given: the server, the dialect to speak, its own names, and
helpers that turn a wrong answer into a Violation saying what was seen."""

from __future__ import annotations

import base64
import binascii
import contextlib
from collections.abc import Iterator
from pathlib import Path

from fileproto.conformance.model import (
    Blocked,
    Finding,
    Rule,
    Target,
    Unsupported,
    Violation,
)
from fileproto.conformance.probes import Probes
from fileproto.conformance.rawio import (
    Conn,
    NoAnswer,
    Reply,
    brief,
    request,
    show,
    upload_request,
)


class Context:
    def __init__(
        self, target: Target, rule: Rule, probes: Probes, prefix: str, timeout: float
    ) -> None:
        self.target = target
        self.rule = rule
        self.probes = probes
        self.prefix = prefix
        self.timeout = timeout
        dialect = rule.dialect or probes.preferred
        if dialect is None:
            raise Unsupported("the server speaks neither dialect")
        self.dialect: str = dialect
        #: Names to delete afterwards, raw (unreduced) forms first.
        self._raw: list[str] = []
        self._names: list[str] = []
        #: Broken checks that did not stop the rule (``soft``); judged at its end.
        self.findings: list[Finding] = []
        #: A step another rule checks failed, and the rule went on (``upload_ok``).
        self.blocked: Blocked | None = None

    # -- names --------------------------------------------------------------------------

    def name(self, stem: str = "f", suffix: str = ".bin") -> str:
        """A name only this rule of this run uses; deleted before use and afterwards.
        Call it while no connection of the rule is open (it opens one)."""
        name = f"{self.prefix}{self.rule.id}-{stem}{suffix}"
        if name not in self._names:
            self._names.append(name)
            self._delete_quietly([name])
        return name

    def track(self, raw: str) -> None:
        """A raw (unreduced, maybe escaping) name this rule sends in an UPLOAD."""
        if raw not in self._raw:
            self._raw.append(raw)
            self._delete_quietly([raw])

    def cleanup(self) -> None:
        self._delete_quietly([*self._raw, *self._names])
        if self.target.root is not None:
            for raw in self._raw:
                escaped = self.outside_path(raw)
                if escaped is not None and escaped.name.startswith(self.prefix):
                    with contextlib.suppress(OSError):
                        escaped.unlink()

    def outside_path(self, raw: str) -> Path | None:
        """Where a server that joins names to its root unchecked would put ``raw``, if
        that is outside the root (only with a known root)."""
        root = self.target.root
        if root is None:
            return None
        try:
            path = (root / raw).resolve()
        except (OSError, ValueError):  # a NUL in the name: no such path anywhere
            return None
        return None if path.parent == root.resolve() else path

    def _delete_quietly(self, names: list[str]) -> None:
        dialect = "json" if self.probes.has("json") else self.dialect
        carriable = [n for n in names if dialect == "json" or _text_safe(n)]
        if not carriable:
            return
        # One connection for all when the server keeps connections, else one each; a
        # connection that failed is not reused.
        keep = self.probes.known("keepalive") is True
        conn: Conn | None = None
        try:
            for name in carriable:
                try:
                    if conn is None or not keep:
                        if conn is not None:
                            conn.close()
                        conn = self.connect()
                    conn.request(request(dialect, "DELETE", name))
                except (Violation, OSError):
                    if conn is not None:
                        conn.close()
                    conn = None
        finally:
            if conn is not None:
                conn.close()

    # -- talking to the server ----------------------------------------------------------

    def connect(self, timeout: float | None = None, rcvbuf: int | None = None) -> Conn:
        return Conn(self.target.host, self.target.port, timeout or self.timeout, rcvbuf)

    @contextlib.contextmanager
    def conn(self) -> Iterator[Conn]:
        conn = self.connect()
        try:
            yield conn
        finally:
            conn.close()

    def req(self, command: str, *params: str) -> bytes:
        return request(self.dialect, command, *params)

    def upload_req(self, name: str, payload: str | bytes, command: str = "UPLOAD") -> bytes:
        return upload_request(self.dialect, name, payload, command)

    def ask(self, data: bytes) -> Reply:
        """One request on a connection of its own."""
        with self.conn() as conn:
            return conn.request(data)

    @staticmethod
    def ask_once(target: Target, timeout: float, data: bytes) -> Reply:
        """One request on a connection of its own, outside any rule."""
        with Conn(target.host, target.port, timeout) as conn:
            return conn.request(data)

    def list(self) -> list[str]:
        """LIST, for a rule that needs it (list.ok.1 checks LIST itself)."""
        reply = self.ask(self.req("LIST"))
        if reply.get("status") != "OK":
            raise Blocked("list.ok.1", f"LIST was answered {show(reply)}")
        names = reply.get("data")
        if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
            raise Blocked("list.ok.1", f"LIST data is not a list of strings: {show(reply)}")
        return names

    def upload(self, name: str, content: bytes, dialect: str | None = None) -> Reply:
        """UPLOAD, answered OK (upload.ok.1 checks the answer's fields; here only the
        status counts, and what was stored is checked by reading it back)."""
        payload = base64.b64encode(content)
        reply = self.ask(upload_request(dialect or self.dialect, name, payload))
        if reply.get("status") != "OK":
            raise Blocked("upload.ok.1", f"UPLOAD {brief(name)} was answered {show(reply)}")
        return reply

    def get(self, name: str) -> bytes:
        """The content GET returns (get.ok.1 checks the answer's name field)."""
        reply = self.ask(self.req("GET", name))
        if reply.get("status") != "OK":
            raise Blocked("get.ok.1", f"GET {brief(name)} was answered {show(reply)}")
        return self.content_of(reply, name)

    def content_of(self, reply: Reply, name: str) -> bytes:
        """The file in an OK GET response (its base64 read leniently: base64.response.1
        checks that it is canonical)."""
        if reply.get("status") != "OK":
            raise Violation(f"GET {brief(name)} was answered {show(reply)}, expected OK")
        return decode_file(reply)

    def delete(self, name: str) -> Reply:
        reply = self.ask(self.req("DELETE", name))
        if reply.get("status") != "OK":
            raise Blocked("delete.ok.1", f"DELETE {brief(name)} was answered {show(reply)}")
        return reply

    def soft(self, condition: bool, message: str, scope: str = "rule") -> bool:
        """A check whose failure does not stop the rule: the others are evidence too."""
        if not condition:
            self.findings.append(Finding(scope, message))
        return condition

    def stored(self, name: str, content: bytes) -> str | None:
        """None when GET returns ``content`` under ``name``, else what it returned."""
        reply = self.ask(self.req("GET", name))
        if reply.get("status") != "OK":
            return f"GET {brief(name)} was answered {show(reply)}"
        try:
            got = decode_file(reply)
        except Violation as exc:
            return str(exc)
        return None if got == content else f"GET {brief(name)} returned other content"

    @staticmethod
    def ok(reply: Reply, what: str) -> Reply:
        if reply.get("status") != "OK":
            raise Violation(f"{what} was answered {show(reply)}, expected status OK")
        return reply

    @staticmethod
    def uploaded(reply: Reply, what: str) -> Reply:
        """An OK answer to an UPLOAD this rule varies; if it is not OK and upload.ok.1
        fails too, the rule could not be checked (BLOCKED), else it is its own failure."""
        if reply.get("status") != "OK":
            raise Blocked("upload.ok.1", f"{what} was answered {show(reply)}, expected OK")
        return reply

    def upload_ok(self, reply: Reply, what: str) -> bool:
        """Like ``uploaded``, for a rule that goes on with its other checks."""
        if reply.get("status") == "OK":
            return True
        seen = f"{what} was answered {show(reply)}"
        if self.blocked is not None:
            seen = f"{self.blocked}; {seen}"
        self.blocked = Blocked("upload.ok.1", seen)
        return False

    @staticmethod
    def got(reply: Reply, what: str) -> Reply:
        """An OK answer to a GET, likewise with get.ok.1."""
        if reply.get("status") != "OK":
            raise Blocked("get.ok.1", f"{what} was answered {show(reply)}, expected OK")
        return reply

    @staticmethod
    def error(reply: Reply, what: str) -> Reply:
        if reply.get("status") != "ERROR":
            raise Violation(f"{what} was answered {show(reply)}, expected status ERROR")
        return reply

    def expect(self, condition: bool, message: str) -> None:
        if not condition:
            raise Violation(message)

    def absent(self, *names: str, why: str = "") -> None:
        listed = set(self.list())
        found = [n for n in names if n in listed]
        if found:
            raise Violation(f"{brief(found[0])} is listed{why}")

    def serving(self) -> None:
        """A new client is still answered (section 8.2)."""
        try:
            self.ask(self.req("LIST"))
        except Violation as exc:
            raise Violation(f"afterwards a new connection was not served: {exc}") from None

    def usable(self, conn: Conn, what: str) -> None:
        """After an error whose request ended at its terminator, the same connection
        answers the next request (section 8.3)."""
        if self.probes.has("keepalive"):
            try:
                self.ok(conn.request(self.req("LIST")), "LIST")
            except Violation as exc:
                raise Violation(f"after {what}, the connection was not usable: {exc}") from None

    def refused(self, data: bytes, what: str, *absent: str) -> None:
        """``data`` is answered ERROR, the connection stays usable, new clients are still
        served, nothing is stored."""
        # One connection at a time throughout: a server with a single worker serves the
        # next client only once this one has left.
        with self.conn() as conn:
            self.error(conn.request(data), what)
            self.usable(conn, what)
        self.serving()
        if absent:
            self.absent(*absent, why=f" after {what}")

    def has(self, feature: str) -> bool:
        return self.probes.has(feature)


def decode_file(reply: Reply) -> bytes:
    """``data_file`` decoded: the standard alphabet, padding optional. Whether it is the
    canonical padded form is base64.response.1's business (``canonical``)."""
    data = reply.get("data_file")
    if not isinstance(data, str):
        raise Violation(f"data_file is not a string: {show(reply)}")
    try:
        return base64.b64decode(data + "=" * (-len(data) % 4), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise Violation(f"data_file is not base64 ({exc}): {brief(data)}") from None


def canonical(reply: Reply) -> bytes:
    """``data_file`` decoded strictly: standard alphabet, padding included (7.3)."""
    data = reply.get("data_file")
    content = decode_file(reply)
    if base64.b64encode(content).decode("ascii") != data:
        raise Violation(f"data_file is not canonical padded base64: {brief(str(data))}")
    return content


def _text_safe(name: str) -> bool:
    return bool(name) and not any(c.isspace() for c in name)


__all__ = ["Context", "NoAnswer", "Target", "canonical", "decode_file"]

"""Section 8: errors are answered, never stop the server, and leave the connection usable.

These rules look at the status and the effect, never at the wording; what the messages
say is only reported (errors.named.1, INFO).
"""

from __future__ import annotations

import base64
import os

from fileproto.conformance.classic import SAFETY
from fileproto.conformance.context import Context
from fileproto.conformance.model import Level, Violation, rule
from fileproto.conformance.rawio import NoAnswer, brief, show, upload_prefix
from fileproto.wire import TERMINATOR

_ANSWERED = (
    "A request with an unknown command, a missing parameter, or bytes that are not valid "
    "UTF-8 where text is expected MUST be answered with an ERROR response."
)
_MESSAGE = (
    "Every error is answered with an ERROR response whose `data` MUST be a non-empty string: "
    "a message a person can act on"
)
_USABLE = (
    "Where the framing is still intact after an error (the request ended at its terminator), "
    "the connection MUST stay usable: the next request on it is answered as usual. This holds "
    "also for an UPLOAD refused before its payload ended."
)


@rule("errors.unknown.1", Level.MUST, "8.1", _ANSWERED, classic="unknown")
def unknown_command(ctx: Context) -> None:
    name = ctx.name()
    ctx.refused(ctx.req("FROB", name), "the unknown command FROB")
    ctx.refused(ctx.req("FROB"), "FROB without parameters")
    ctx.refused(ctx.upload_req(name, "QUJD", "STORE"), "the unknown command STORE", name)


@rule("errors.param.1", Level.MUST, "8.1", _ANSWERED, classic="failed")
def missing_name(ctx: Context) -> None:
    ctx.refused(ctx.req("GET"), "GET without a name")
    ctx.refused(ctx.req("DELETE"), "DELETE without a name")


@rule("errors.param.2", Level.MUST, "8.1", _ANSWERED, classic="failed")
def missing_payload(ctx: Context) -> None:
    name = ctx.name()
    ctx.refused(ctx.req("UPLOAD", name), "UPLOAD without a payload", name)


@rule("errors.utf8.1", Level.MUST, "8.1", _ANSWERED, classic="unknown")
def invalid_utf8(ctx: Context) -> None:
    name = ctx.name()
    payload = base64.b64encode(b"not stored")
    if ctx.dialect == "json":
        cases = [
            b'{"command": "GET", "params": ["\xff' + name.encode() + b'"]}',
            b'{"command": "UPLOAD", "params": ["\xc3(' + name.encode() + b'", "' + payload + b'"]}',
            b'{"command": "\xffLIST", "params": []}',
        ]
    else:
        cases = [
            b"GET \xff\xfe" + name.encode(),
            b"UPLOAD \xc3(" + name.encode() + b" " + payload,
            b"\xffLIST",
        ]
    for data in cases:
        ctx.refused(data + TERMINATOR, f"the request {brief(data, 50)}", name)


@rule("errors.message.1", Level.MUST, "8.1", _MESSAGE, classic="failed")
def messages_not_empty(ctx: Context) -> None:
    missing = ctx.name("missing")
    for what, data, must_fail in (
        ("GET of a missing name", ctx.req("GET", missing), True),
        ("DELETE of a missing name", ctx.req("DELETE", missing), True),
        ("an unknown command", ctx.req("FROB", missing), True),
        # Whether these fail is for base64.* and names.*; if they do, they need a message.
        ("bad base64", ctx.upload_req(ctx.name("bad"), "QUJDQ"), False),
        ("the name '..'", ctx.upload_req("..", "QUJD"), False),
    ):
        reply = ctx.ask(data)
        if must_fail:
            ctx.error(reply, what)
        elif reply.get("status") != "ERROR":
            continue
        message = reply.get("data")
        if not isinstance(message, str) or not message.strip():
            raise Violation(f"the ERROR for {what} has no message: {show(reply)}")


@rule("errors.usable.1", Level.MUST, "8.3", _USABLE, needs=("keepalive",))
def connection_usable_after_errors(ctx: Context) -> None:
    name, bad = ctx.name(), ctx.name("bad")
    with ctx.conn() as conn:
        ctx.error(conn.request(ctx.req("GET", name)), "GET of a missing name")
        ctx.uploaded(conn.request(ctx.upload_req(name, "QUJD")), "UPLOAD after an error")
        ctx.error(conn.request(ctx.req("FROB", name)), "an unknown command")
        ctx.error(conn.request(ctx.upload_req(bad, "QUJDQ")), "bad base64")
        got = ctx.content_of(ctx.got(conn.request(ctx.req("GET", name)), "GET after errors"), name)
        ctx.expect(got == b"ABC", "GET after errors returned other content")
        ctx.ok(conn.request(ctx.req("DELETE", name)), "DELETE after errors")


@rule("errors.early.1", Level.MUST, "8.3", _USABLE, needs=("keepalive",))
def refused_upload_skipped(ctx: Context) -> None:
    payload = base64.b64encode(os.urandom(1 << 20))
    suffix = b'"]}' + TERMINATOR if ctx.dialect == "json" else TERMINATOR
    names = ["..", ctx.name("dir", "/")]
    for raw in names:
        ctx.track(raw)
    with ctx.conn() as conn:
        for raw in names:
            try:
                conn.send(upload_prefix(ctx.dialect, raw) + payload + suffix)
                # Whether it is refused is for names.invalid.*; here: answered, and then
                # the connection goes on.
                conn.read()
            except NoAnswer as exc:
                raise Violation(f"a 1 MiB UPLOAD named {raw!r}: {exc}") from None
        ctx.ok(conn.request(ctx.req("LIST")), "LIST after two refused uploads")


@rule(
    "errors.server.1",
    Level.MUST,
    "8.2",
    "An error MUST NOT stop the server: it MUST go on answering new connections after any "
    "request whatever.",
    classic=SAFETY,
)
def server_survives_garbage(ctx: Context) -> None:
    garbage = [
        os.urandom(2000).replace(b"\r\n\r\n", b"") + TERMINATOR,
        b"\x00" * 100 + TERMINATOR,
        b"}{" + TERMINATOR,
        b"[" * 100_000 + TERMINATOR,
        b'{"command": "GET", "params": [' + b"[" * 100_000 + b"]}" + TERMINATOR,
        b'{"command": "LIST", "params": [1e999999]}' + TERMINATOR,
    ]
    for data in garbage:
        with ctx.connect(timeout=min(ctx.timeout, 3.0)) as conn:
            try:
                conn.send(data)
                conn.read()
            except NoAnswer:
                pass  # answering garbage is another rule's business; surviving is this one's
            except Violation:
                pass
        try:
            ctx.serving()
        except Violation as exc:
            raise Violation(f"after the request {brief(data, 40)}: {exc}") from None


@rule(
    "errors.named.1",
    Level.INFO,
    "8.1",
    "Whether a message names the problem (the name, the command, the offset of a bad base64 "
    "byte) is an observation (section 10), not a requirement",
)
def messages_name_the_problem(ctx: Context) -> str:
    missing = ctx.name("missing")
    good = base64.b64encode(os.urandom(750)).decode()  # 1000 characters
    checks = (
        ("not-found names the file", ctx.req("GET", missing), missing),
        ("unknown command names it", ctx.req("FROBNICATE", missing), "FROBNICATE"),
        ("bad base64 gives the offset", ctx.upload_req(ctx.name("bad"), good + "!" + good), "1000"),
    )
    seen = []
    for what, data, needle in checks:
        reply = ctx.ask(data)
        message = reply.get("data")
        named = isinstance(message, str) and needle.lower() in message.lower()
        seen.append(f"{what}: {'yes' if named else 'no'}")
    return "; ".join(seen)

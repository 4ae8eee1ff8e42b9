"""Section 2: connections, framing, persistent connections, pipelining, header size."""

from __future__ import annotations

import base64
import os

from fileproto.conformance.classic import SAFETY
from fileproto.conformance.context import Context
from fileproto.conformance.model import FEATURES, Level, Violation, rule
from fileproto.conformance.rawio import (
    Conn,
    NoAnswer,
    brief,
    json_request,
    parse_response,
    request,
    text_request,
    upload_prefix,
    upload_request,
    upload_suffix,
)
from fileproto.wire import TERMINATOR

KIB = 1024


@rule(
    "framing.dialect.1",
    Level.MUST,
    "2.1",
    "A server MUST speak at least one of the two request dialects (section 3, section 4); "
    "each dialect on its own is optional.",
    classic="format",
)
def speaks_a_dialect(ctx: Context) -> str:
    spoken = [d for d in ("json", "text") if ctx.has(d)]
    return "speaks " + " and ".join(spoken)


@rule(
    "framing.dialect.2",
    Level.MUST,
    "2.1",
    "A server that speaks both MUST serve the same files in both: a file uploaded in one is "
    "listed, read and deleted in the other.",
    needs=("json", "text"),
)
def dialects_share_files(ctx: Context) -> None:
    for up, down in (("text", "json"), ("json", "text")):
        name = ctx.name(f"{up}-to-{down}")
        content = os.urandom(3000)
        ctx.upload(name, content, dialect=up)
        reply = ctx.ok(ctx.ask(request(down, "LIST")), f"LIST in {down}")
        listed = reply.get("data")
        ctx.expect(isinstance(listed, list) and name in listed, f"{up} upload not listed in {down}")
        got = ctx.content_of(ctx.got(ctx.ask(request(down, "GET", name)), f"GET in {down}"), name)
        ctx.expect(got == content, f"a file uploaded in {up} reads differently in {down}")
        ctx.ok(ctx.ask(request(down, "DELETE", name)), f"DELETE in {down}")
        ctx.error(ctx.ask(request(up, "GET", name)), f"GET in {up} after a DELETE in {down}")


def _nothing_after(conn: Conn, what: str) -> None:
    if conn.buffer:
        raise Violation(f"bytes after the response to {what}: {brief(bytes(conn.buffer))}")
    if conn.readable(0.05):
        try:
            extra = conn.sock.recv(4096)
        except OSError:
            return
        if extra:
            raise Violation(f"bytes after the response to {what}: {brief(extra)}")


@rule(
    "framing.response.1",
    Level.MUST,
    "2.3",
    "A response MUST be one JSON object, encoded as UTF-8, followed by the terminator, "
    "with nothing before or after it.",
    classic="result",
)
def response_framing(ctx: Context) -> None:
    for what, data in (
        ("LIST", ctx.req("LIST")),
        ("GET of a missing name", ctx.req("GET", ctx.name("missing"))),
    ):
        with ctx.conn() as conn:
            conn.send(data)
            message = conn.read_message()
            if not (message.startswith(b"{") and message.endswith(b"}")):
                raise Violation(
                    f"the response to {what} is not exactly one object: {brief(message)}"
                )
            parse_response(message)
            _nothing_after(conn, what)


@rule(
    "framing.status.1",
    Level.MUST,
    "2.3",
    'Every response MUST carry `status`, whose value is the string `"OK"` or the string `"ERROR"`.',
    classic="result",
)
def status_values(ctx: Context) -> None:
    ctx.ok(ctx.ask(ctx.req("LIST")), "LIST")
    ctx.error(ctx.ask(ctx.req("GET", ctx.name("missing"))), "GET of a missing name")


_SPLIT = (
    "A server MUST accept a request whatever pieces it arrives in: one byte at a time, "
    "with the terminator split across reads, or with the payload split mid-quantum."
)


@rule("framing.split.1", Level.MUST, "2.2", _SPLIT)
def one_byte_at_a_time(ctx: Context) -> None:
    data = ctx.req("LIST")
    with ctx.conn() as conn:
        conn.send_pieces(data, [1] * len(data), pause=0.003)
        ctx.ok(conn.read(), "LIST sent one byte at a time")


@rule("framing.split.2", Level.MUST, "2.2", _SPLIT)
def terminator_split(ctx: Context) -> None:
    name = ctx.name()
    content = os.urandom(100)
    upload = ctx.upload_req(name, base64.b64encode(content))
    with ctx.conn() as conn:
        conn.send_pieces(upload, [len(upload) - 3, 1, 1])
        ctx.uploaded(conn.read(), "UPLOAD with its terminator in three pieces")
    get = ctx.req("GET", name)
    with ctx.conn() as conn:
        conn.send_pieces(get, [len(get) - 2])
        got = ctx.content_of(ctx.got(conn.read(), "GET with its terminator in two pieces"), name)
    ctx.expect(got == content, "the content stored from a split request differs")


@rule("framing.split.3", Level.MUST, "2.2", _SPLIT)
def payload_split_mid_quantum(ctx: Context) -> None:
    name = ctx.name()
    content = os.urandom(3000)
    head = upload_prefix(ctx.dialect, name)
    data = head + base64.b64encode(content) + upload_suffix(ctx.dialect)
    with ctx.conn() as conn:
        conn.send_pieces(data, [len(head) + 1, 2, 5, 1001, 7, 3])
        ctx.uploaded(conn.read(), "UPLOAD with its payload in odd pieces")
    ctx.expect(ctx.get(name) == content, "the content stored from a split payload differs")


@rule(
    "framing.whitespace.1",
    Level.MUST,
    "2.2",
    "Whitespace before a request (for example a CRLF left over after the previous one) "
    "MUST be skipped: the dialect is told by the first non-whitespace byte, `{` for the JSON "
    "envelope and anything else for the text dialect.",
)
def leading_whitespace(ctx: Context) -> None:
    ctx.ok(ctx.ask(b"\r\n \t" + ctx.req("LIST")), "LIST after leading whitespace")


@rule(
    "framing.keepalive.1",
    Level.MUST,
    "2.4",
    "A connection carries one or more requests: after a response, the server MUST read "
    "and answer the next request on the same connection.",
)
def several_requests_on_one_connection(ctx: Context) -> None:
    with ctx.conn() as conn:
        for index in range(3):
            try:
                ctx.ok(conn.request(ctx.req("LIST")), f"LIST number {index + 1}")
            except NoAnswer as exc:
                raise Violation(f"request {index + 1} on one connection: {exc}") from None


@rule(
    "framing.order.1",
    Level.MUST,
    "2.4",
    "Each request MUST get exactly one response, and responses MUST come in the order of "
    "the requests.",
    needs=("keepalive",),
)
def responses_in_order(ctx: Context) -> None:
    a, b, missing = ctx.name("a"), ctx.name("b"), ctx.name("missing")
    ca, cb = os.urandom(500), os.urandom(700)
    with ctx.conn() as conn:
        ctx.uploaded(conn.request(ctx.upload_req(a, base64.b64encode(ca))), "UPLOAD a")
        ctx.uploaded(conn.request(ctx.upload_req(b, base64.b64encode(cb))), "UPLOAD b")
        ctx.expect(
            ctx.content_of(ctx.got(conn.request(ctx.req("GET", b)), "GET b"), b) == cb,
            "GET b answered with other content",
        )
        ctx.expect(
            ctx.content_of(ctx.got(conn.request(ctx.req("GET", a)), "GET a"), a) == ca,
            "GET a answered with other content",
        )
        ctx.error(conn.request(ctx.req("GET", missing)), "GET of a missing name")
        ctx.ok(conn.request(ctx.req("DELETE", a)), "DELETE a")
        ctx.error(conn.request(ctx.req("GET", a)), "GET a after its DELETE")
        _nothing_after(conn, "the last request")


_PIPELINE = (
    "A server that does MUST answer them one by one, in order, and an error in one request "
    "MUST NOT affect the answers to the others."
)


@rule("framing.pipeline.1", Level.MAY, "2.5", _PIPELINE, needs=("pipelining",))
def pipelined_in_order(ctx: Context) -> None:
    name = ctx.name()
    content = os.urandom(10_000)
    batch = (
        ctx.upload_req(name, base64.b64encode(content))
        + ctx.req("GET", name)
        + ctx.req("LIST")
        + ctx.req("DELETE", name)
        + ctx.req("GET", name)
    )
    with ctx.conn() as conn:
        conn.send(batch)
        replies = [conn.read() for _ in range(5)]
    ctx.uploaded(replies[0], "pipelined UPLOAD")
    ctx.expect(
        ctx.content_of(ctx.got(replies[1], "pipelined GET"), name) == content,
        "the pipelined GET returned other content",
    )
    listed = ctx.ok(replies[2], "pipelined LIST").get("data")
    ctx.expect(isinstance(listed, list) and name in listed, "the pipelined LIST lacks the upload")
    ctx.ok(replies[3], "pipelined DELETE")
    ctx.error(replies[4], "pipelined GET after the DELETE")


@rule("framing.pipeline.2", Level.MAY, "2.5", _PIPELINE, needs=("pipelining",))
def pipelined_errors_isolated(ctx: Context) -> None:
    name, bad = ctx.name("ok"), ctx.name("bad")
    batch = (
        ctx.upload_req(name, "QUJD")
        + ctx.req("GET", ctx.name("missing"))
        + ctx.req("FROB", name)
        + ctx.req("DELETE", bad)
        + ctx.req("GET", name)
        + ctx.req("DELETE", name)
    )
    with ctx.conn() as conn:
        conn.send(batch)
        replies = [conn.read() for _ in range(6)]
    ctx.uploaded(replies[0], "the pipelined UPLOAD")
    statuses = [r.get("status") for r in replies]
    expected = ["OK", "ERROR", "ERROR", "ERROR", "OK", "OK"]
    ctx.expect(statuses == expected, f"statuses {statuses}, expected {expected}")
    ctx.expect(ctx.content_of(replies[4], name) == b"ABC", "GET after the errors: other content")


@rule("framing.pipeline.3", Level.MAY, "2.5", _PIPELINE, needs=("pipelining", "json", "text"))
def pipelined_mixed_dialects(ctx: Context) -> None:
    name = ctx.name()
    batch = (
        upload_request("json", name, "QUJD")
        + text_request("GET", name)
        + json_request("DELETE", name)
        + text_request("GET", name)
    )
    with ctx.conn() as conn:
        conn.send(batch)
        replies = [conn.read() for _ in range(4)]
    ctx.uploaded(replies[0], "JSON UPLOAD")
    ctx.expect(
        ctx.content_of(ctx.got(replies[1], "text GET"), name) == b"ABC",
        "the text GET returned other content",
    )
    ctx.ok(replies[2], "JSON DELETE")
    ctx.error(replies[3], "text GET after the DELETE")


def _padded_list(dialect: str, size: int) -> bytes:
    """A LIST whose header is ``size`` bytes, padded with whitespace where it is allowed."""
    if dialect == "json":
        head, tail = b'{"command": "LIST",', b'"params": []}' + TERMINATOR
    else:
        head, tail = b"LIST", TERMINATOR
    return head + b" " * max(0, size - len(head) - len(tail)) + tail


@rule(
    "framing.header.1",
    Level.MUST,
    "2.6",
    "A server MUST accept a request header of at least 8 KiB.",
)
def header_of_8_kib(ctx: Context) -> None:
    ctx.ok(ctx.ask(_padded_list(ctx.dialect, 8 * KIB)), "an 8 KiB LIST")


@rule(
    "framing.header.2",
    Level.SHOULD,
    "2.6",
    "A server SHOULD NOT buffer a header without bound: when a header grows past its limit "
    "(which SHOULD be at most 1 MiB) without a terminator, the server SHOULD answer with an "
    "ERROR response and MAY then close the connection.",
)
def header_bounded(ctx: Context) -> str:
    limit, piece = 2 << 20, b"n" * (64 * KIB)
    head = b"GET " if ctx.dialect == "text" else b'{"command": "GET", "params": ["'
    sent = 0
    with ctx.connect(timeout=min(ctx.timeout, 3.0)) as conn:
        try:
            conn.send(head)
            # A short look for an answer after each piece: the server may refuse early.
            while sent < limit and not conn.readable(0.005):
                conn.send(piece)
                sent += len(piece)
        except NoAnswer:
            pass  # it closed while we sent: the answer, if any, is read below
        try:
            reply = conn.read()
        except NoAnswer as exc:
            if "reset" in str(exc).lower():
                return f"the connection was reset after {sent // KIB} KiB"
            if sent >= limit:
                raise Violation(
                    f"{limit >> 20} MiB of header without a terminator: {exc}"
                ) from None
            raise Violation(f"closed after {sent // KIB} KiB without an ERROR: {exc}") from None
    ctx.error(reply, f"a header of {sent // KIB} KiB without a terminator")
    return f"answered ERROR once {sent // KIB} KiB had been sent"


@rule(
    "framing.header.3",
    Level.INFO,
    "10.1",
    "The checker also reports observations that are not requirements: which optional "
    "features were found, the largest request header accepted, whether errors name the "
    "problem, and the time a request takes.",
)
def largest_header(ctx: Context) -> str:
    accepted = 0
    for size in (16 * KIB, 60 * KIB, 256 * KIB, 1024 * KIB):
        try:
            with ctx.conn() as conn:
                reply = conn.request(_padded_list(ctx.dialect, size))
        except Violation as exc:
            return f"largest header accepted: {accepted // KIB} KiB; {size // KIB} KiB: {exc}"
        if reply.get("status") != "OK":
            return f"largest header accepted: {accepted // KIB} KiB; {size // KIB} KiB refused"
        accepted = size
    return f"accepted every header tried, up to {accepted // KIB} KiB"


@rule(
    "framing.features.1",
    Level.INFO,
    "10.1",
    "The checker also reports observations that are not requirements: which optional "
    "features were found, the largest request header accepted, whether errors name the "
    "problem, and the time a request takes.",
)
def features_found(ctx: Context) -> str:
    present = [f for f in FEATURES if ctx.has(f)]
    absent = [f for f in FEATURES if f not in present]
    return f"present: {', '.join(present) or 'none'}; absent: {', '.join(absent) or 'none'}"


@rule(
    "framing.close.1",
    Level.MUST,
    "2.1",
    "A client that closes its connection at any point, mid-request or mid-response, MUST "
    "NOT affect the server or its other clients.",
    classic=SAFETY,
)
def clients_that_leave(ctx: Context) -> None:
    name = ctx.name()
    payload = base64.b64encode(os.urandom(300_000))
    for what, data in (
        ("half a header", ctx.req("LIST")[:3]),
        ("a request whose answer it never reads", ctx.req("GET", ctx.name("missing"))),
        ("half an upload", upload_prefix(ctx.dialect, name) + payload[: len(payload) // 2]),
    ):
        with ctx.conn() as conn:
            conn.send(data)
        try:
            ctx.serving()
        except Violation as exc:
            raise Violation(f"after a client sent {what} and left: {exc}") from None
    other = ctx.name("other")
    ctx.upload(other, b"still here")
    ctx.expect(ctx.get(other) == b"still here", "a later upload was not stored whole")
    ctx.absent(name, why=" though its client left mid-upload")

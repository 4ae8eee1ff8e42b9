"""Section 4: the text dialect (optional; probed with one LIST)."""

from __future__ import annotations

import base64
import os

from fileproto.conformance.context import Context
from fileproto.conformance.model import Level, rule
from fileproto.conformance.rawio import text_request

TEXT = ("text",)
_SERVE = (
    "A server that speaks this dialect MUST serve every command in it, and MUST accept any "
    "run of whitespace between the command and the name."
)
_SEPARATOR = (
    "The separator is a single space or a CRLF; a server that speaks this dialect MUST accept both."
)
_PAYLOAD = "It MUST NOT lowercase, trim or shell-split the payload."


def _round_trip(ctx: Context, sizes: tuple[int, ...]) -> None:
    ctx.ok(ctx.ask(text_request("LIST")), "LIST")
    for size in sizes:
        name = ctx.name(f"size{size}")
        content = os.urandom(size)
        ctx.upload(name, content)
        ctx.soft(ctx.get(name) == content, f"GET returned other content than the {size} bytes")
        ctx.delete(name)
        ctx.error(ctx.ask(text_request("GET", name)), "GET after DELETE")


@rule("text.roundtrip.1", Level.MUST, "4.1", _SERVE, needs=TEXT, classic="format")
def text_round_trip(ctx: Context) -> None:
    _round_trip(ctx, (1, 2, 3, 100_000))


@rule("text.large.1", Level.MUST, "4.1", _SERVE, needs=TEXT, classic="format")
def text_large(ctx: Context) -> None:
    _round_trip(ctx, ((3 << 19) + 2,))


@rule("text.separator.1", Level.MUST, "4.1", _SERVE, needs=TEXT)
def whitespace_runs(ctx: Context) -> None:
    name = ctx.name()
    ctx.upload(name, b"ABC")
    for command in ("GET  ", "GET\t", "GET \t "):
        data = command.encode() + name.encode() + b"\r\n\r\n"
        got = ctx.content_of(ctx.ok(ctx.ask(data), repr(command + name)), name)
        ctx.expect(got == b"ABC", f"{command!r} returned other content")
    ctx.ok(ctx.ask(b"DELETE\t " + name.encode() + b"\r\n\r\n"), "DELETE after a tab")
    ctx.absent(name, why=" after 'DELETE<tab><space>name'")


@rule("text.crlf.1", Level.MUST, "4.2", _SEPARATOR, needs=TEXT)
def crlf_separator(ctx: Context) -> None:
    name = ctx.name()
    content = os.urandom(5000)
    data = text_request("UPLOAD", name, base64.b64encode(content), separator=b"\r\n")
    ctx.uploaded(ctx.ask(data), "UPLOAD with a CRLF before the payload")
    ctx.expect(ctx.get(name) == content, "a CRLF-separated payload stored other content")


@rule("text.payload.1", Level.MUST, "4.2", _PAYLOAD, needs=TEXT, classic="upload")
def payload_kept_as_sent(ctx: Context) -> None:
    name = ctx.name()
    # Upper and lower case letters, digits, '+' and '/': any change shows.
    content = bytes.fromhex("fbefbe0041cf3ff8") + os.urandom(600)
    data = text_request("upload", name, base64.b64encode(content))
    ctx.uploaded(ctx.ask(data), "a lowercase 'upload'")
    got = ctx.content_of(ctx.got(ctx.ask(text_request("get", name)), "a lowercase 'get'"), name)
    ctx.expect(got == content, "the payload was changed (lowercased, trimmed or split?)")


@rule(
    "text.case.1",
    Level.MUST,
    "5.1",
    "Command names are case-insensitive: a server MUST accept `list`, `List` and `LIST` "
    "alike, in both dialects.",
    needs=TEXT,
)
def text_case_insensitive(ctx: Context) -> None:
    name = ctx.name()
    ctx.ok(ctx.ask(text_request("list")), "command 'list'")
    ctx.uploaded(ctx.ask(text_request("Upload", name, "QUJD")), "command 'Upload'")
    got = ctx.content_of(ctx.got(ctx.ask(text_request("gEt", name)), "command 'gEt'"), name)
    ctx.expect(got == b"ABC", "'Upload' stored other content")
    ctx.ok(ctx.ask(text_request("delete", name)), "command 'delete'")


@rule(
    "text.name.1",
    Level.MUST,
    "6.1",
    "A server MUST store a file under exactly the name it was given (after reduction), "
    "non-ASCII characters and spaces included, and list it under that name.",
    needs=TEXT,
    classic="get",
)
def text_utf8_name(ctx: Context) -> None:
    name = ctx.name("\u00e9t\u00e9-\u65e5\u672c-\U0001f600")
    ctx.uploaded(ctx.ask(text_request("UPLOAD", name, "QUJD")), "UPLOAD of a UTF-8 name")
    ctx.soft(name in ctx.list(), "the UTF-8 name is not listed as sent")
    problem = ctx.stored(name, b"ABC")
    ctx.soft(problem is None, f"the UTF-8 name: {problem}")

"""Section 3: the JSON envelope dialect (optional; probed with one LIST)."""

from __future__ import annotations

import base64
import json
import os

from fileproto.conformance.context import Context
from fileproto.conformance.model import Level, rule
from fileproto.conformance.rawio import json_request
from fileproto.wire import TERMINATOR

JSON = ("json",)
_SERVE = "A server that speaks this dialect MUST serve every command in it."
_SYNTAX = (
    "A server that speaks this dialect MUST accept the keys in any order, any JSON whitespace "
    "between tokens, and every standard JSON string escape (`\\/` and `\\uXXXX` included) in "
    "the command, the names and the payload."
)
_INVALID = (
    "A server MUST answer with an ERROR response a request that is not valid JSON, is not an "
    "object, has no `command` string, or has a parameter of the wrong type (a name that is "
    "not a string); the connection stays usable (section 8.3)."
)


def _round_trip(ctx: Context, size: int) -> None:
    name = ctx.name(f"size{size}")
    content = os.urandom(size)
    ctx.upload(name, content)
    ctx.soft(name in ctx.list(), "the upload is not listed")
    ctx.soft(ctx.get(name) == content, f"GET returned other content than the {size} bytes sent")
    ctx.delete(name)
    ctx.error(ctx.ask(ctx.req("GET", name)), "GET after DELETE")


@rule("json.roundtrip.1", Level.MUST, "3.1", _SERVE, needs=JSON)
def json_round_trip(ctx: Context) -> None:
    _round_trip(ctx, 100_000)


@rule("json.large.1", Level.MUST, "3.1", _SERVE, needs=JSON)
def json_large(ctx: Context) -> None:
    _round_trip(ctx, (3 << 19) + 1)


@rule("json.keys.1", Level.MUST, "3.1", _SYNTAX, needs=JSON)
def keys_in_any_order(ctx: Context) -> None:
    name = ctx.name()
    content = os.urandom(300)
    upload = {"params": [name, base64.b64encode(content).decode()], "command": "UPLOAD"}
    ctx.uploaded(ctx.ask(json.dumps(upload).encode() + TERMINATOR), "UPLOAD with params first")
    get = json.dumps({"params": [name], "command": "GET"}).encode() + TERMINATOR
    got = ctx.content_of(ctx.got(ctx.ask(get), "GET with params first"), name)
    ctx.expect(got == content, "keys in another order stored other content")


@rule("json.whitespace.1", Level.MUST, "3.1", _SYNTAX, needs=JSON)
def any_json_whitespace(ctx: Context) -> None:
    name = ctx.name()
    content = os.urandom(300)
    payload = base64.b64encode(content).decode()
    upload = f'{{\n\t"command" :\t"UPLOAD" ,\r\n "params" : [ "{name}" ,\n "{payload}" ] \n}}'
    ctx.uploaded(ctx.ask(upload.encode() + TERMINATOR), "UPLOAD with whitespace between tokens")
    get = f'{{ "command":"GET","params":[\t"{name}"\n]}}'
    got = ctx.content_of(ctx.got(ctx.ask(get.encode() + TERMINATOR), "GET with whitespace"), name)
    ctx.expect(got == content, "an envelope with whitespace stored other content")


@rule("json.escape.1", Level.MUST, "3.1", _SYNTAX, needs=JSON)
def escaped_slashes_in_payload(ctx: Context) -> None:
    name = ctx.name()
    content = os.urandom(3000) + b"\xff\xff\xff"  # ends in "////": slashes for certain
    payload = base64.b64encode(content).decode().replace("/", "\\/")
    upload = f'{{"command": "UPLOAD", "params": ["{name}", "{payload}"]}}'.encode()
    ctx.uploaded(ctx.ask(upload + TERMINATOR), "UPLOAD with every '/' of the payload written '\\/'")
    ctx.expect(ctx.get(name) == content, "a payload with '\\/' escapes stored other content")


def _u_escaped(text: str) -> str:
    return "".join(f"\\u{ord(c):04x}" for c in text)


@rule("json.escape.2", Level.MUST, "3.1", _SYNTAX, needs=JSON)
def escaped_name(ctx: Context) -> None:
    name = ctx.name("\u00e9t\u00e9")
    upload = f'{{"command": "UPLOAD", "params": ["{_u_escaped(name)}", "QUJD"]}}'.encode()
    ctx.uploaded(ctx.ask(upload + TERMINATOR), "UPLOAD with the name in \\u escapes")
    ctx.soft(name in ctx.list(), "the \\u-escaped name is not listed as the name it spells")
    problem = ctx.stored(name, b"ABC")
    ctx.soft(problem is None, f"the \\u-escaped name: {problem}")


@rule("json.escape.3", Level.MUST, "3.1", _SYNTAX, needs=JSON)
def escaped_command_and_payload(ctx: Context) -> None:
    name = ctx.name()
    # "QUJD" with its letters escaped, and UPLOAD as U\u0050LOAD
    upload = f'{{"command": "U\\u0050LOAD", "params": ["{name}", "\\u0051UJ\\u0044"]}}'.encode()
    ctx.uploaded(ctx.ask(upload + TERMINATOR), "UPLOAD with \\u escapes in command and payload")
    ctx.expect(ctx.get(name) == b"ABC", "a \\u-escaped payload stored other content")


@rule(
    "json.case.1",
    Level.MUST,
    "5.1",
    "Command names are case-insensitive: a server MUST accept `list`, `List` and `LIST` "
    "alike, in both dialects.",
    needs=JSON,
)
def json_case_insensitive(ctx: Context) -> None:
    name = ctx.name()
    ctx.ok(ctx.ask(json_request("list")), "command 'list'")
    ctx.uploaded(ctx.ask(json_request("Upload", name, "QUJD")), "command 'Upload'")
    got = ctx.content_of(ctx.got(ctx.ask(json_request("gEt", name)), "command 'gEt'"), name)
    ctx.expect(got == b"ABC", "'Upload' stored other content")
    ctx.ok(ctx.ask(json_request("delete", name)), "command 'delete'")


@rule("json.malformed.1", Level.MUST, "3.2", _INVALID, needs=JSON, classic="unknown")
def malformed_json(ctx: Context) -> None:
    for data in (b'{"command": "LIST", "params": [}', b'{"command": "LIST"', b'{"command" "LIST"}'):
        ctx.refused(data + TERMINATOR, f"the malformed envelope {data!r}")


@rule("json.type.1", Level.MUST, "3.2", _INVALID, needs=JSON, classic="unknown")
def envelope_not_an_object(ctx: Context) -> None:
    for data in (b'["LIST", []]', b'"LIST"', b"42"):
        ctx.refused(data + TERMINATOR, f"the envelope {data!r}")


@rule("json.command.1", Level.MUST, "3.2", _INVALID, needs=JSON, classic="unknown")
def envelope_without_command(ctx: Context) -> None:
    for data in (b'{"params": []}', b'{"command": 7, "params": []}', b'{"command": null}'):
        ctx.refused(data + TERMINATOR, f"the envelope {data!r}")


@rule("json.param.1", Level.MUST, "3.2", _INVALID, needs=JSON)
def name_not_a_string(ctx: Context) -> None:
    name = ctx.name()
    ctx.refused(json_request("GET", 7), "GET of the name 7")
    ctx.refused(json_request("UPLOAD", [name], "QUJD"), "UPLOAD of a name in a list", name)
    ctx.refused(json_request("DELETE", {"name": name}), "DELETE of a name in an object")

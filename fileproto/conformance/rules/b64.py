"""Section 7: base64 payloads in, base64 contents out."""

from __future__ import annotations

import base64
import os

from fileproto.conformance.context import Context, canonical
from fileproto.conformance.model import Level, rule
from fileproto.conformance.rawio import brief, upload_request

_DECODE = (
    "A server MUST decode an UPLOAD payload exactly, for contents of every length (every "
    "padding case, the empty file included), and MUST accept a payload whose final padding is "
    "missing."
)
_INVALID = (
    "Any other deviation MUST make the UPLOAD fail with an ERROR response and store nothing: "
    "a byte outside the alphabet (whitespace, `-` and `_` included), `=` anywhere but at the "
    "end, data after the padding, or a length that leaves a single character in the final "
    "quantum. Errors found late in a long payload are errors all the same."
)
_OUT = (
    "The `data_file` of a GET response MUST be the content in standard base64 with padding, "
    "exactly as RFC 4648 encodes it."
)

#: 3000 bytes of base64 to put bad bytes into (no '-' or '_' in the standard alphabet).
_GOOD = base64.b64encode(os.urandom(2250)).decode("ascii")


@rule("base64.padding.1", Level.MUST, "7.1", _DECODE, classic="upload")
def every_padding_case(ctx: Context) -> None:
    for size in (1, 2, 3, 4, 5, 6):
        name = ctx.name(f"size{size}")
        content = os.urandom(size)
        ctx.upload(name, content)
        ctx.expect(ctx.get(name) == content, f"a {size}-byte file came back changed")


@rule("base64.empty.1", Level.MUST, "7.1", _DECODE)
def empty_file(ctx: Context) -> None:
    # In every dialect spoken: an empty text payload (a space, then the terminator) is
    # the case servers get wrong.
    for dialect in (d for d in ("json", "text") if ctx.has(d)):
        name = ctx.name(f"empty-{dialect}")
        what = f"UPLOAD of an empty file in {dialect}"
        if not ctx.upload_ok(ctx.ask(upload_request(dialect, name, "")), what):
            continue
        ctx.soft(name in ctx.list(), f"an empty file uploaded in {dialect} is not listed")
        problem = ctx.stored(name, b"")
        ctx.soft(problem is None, f"an empty file uploaded in {dialect}: {problem}")


@rule("base64.unpadded.1", Level.MUST, "7.1", _DECODE)
def padding_missing(ctx: Context) -> None:
    content = os.urandom(3001)
    for stem, payload, expected in (
        ("one", "QQ", b"A"),
        ("two", "QUI", b"AB"),
        ("long", base64.b64encode(content).decode().rstrip("="), content),
    ):
        name = ctx.name(stem)
        what = f"UPLOAD of {brief(payload, 20)}"
        if ctx.upload_ok(ctx.ask(ctx.upload_req(name, payload)), what):
            problem = ctx.stored(name, expected)
            ctx.soft(problem is None, f"{what}: {problem}")


def _refused(ctx: Context, cases: list[tuple[str, str]]) -> None:
    for what, payload in cases:
        name = ctx.name(what.split()[0])
        ctx.refused(ctx.upload_req(name, payload), f"UPLOAD of base64 with {what}", name)


@rule("base64.invalid.1", Level.MUST, "7.2", _INVALID, classic="upload")
def outside_the_alphabet(ctx: Context) -> None:
    _refused(
        ctx,
        [
            ("!-inside", _GOOD[:1000] + "!" + _GOOD[1000:]),
            ("*-mid-quantum", _GOOD[:2001] + "*" + _GOOD[2001:]),
        ],
    )


@rule("base64.invalid.2", Level.MUST, "7.2", _INVALID, classic="upload")
def equals_inside(ctx: Context) -> None:
    _refused(ctx, [("=-inside", _GOOD[:1000] + "=" + _GOOD[1000:]), ("==-inside", "QQ==" + _GOOD)])


@rule("base64.invalid.3", Level.MUST, "7.2", _INVALID, classic="upload")
def data_after_padding(ctx: Context) -> None:
    _refused(ctx, [("data-after-padding", _GOOD + "QQ==QUJD"), ("one-after-padding", "QUI=Q")])


@rule("base64.invalid.4", Level.MUST, "7.2", _INVALID, classic="upload")
def lone_character(ctx: Context) -> None:
    _refused(ctx, [("lone-char", _GOOD + "Q"), ("lone-char-padded", _GOOD + "Q===")])


@rule("base64.invalid.5", Level.MUST, "7.2", _INVALID)
def whitespace_inside(ctx: Context) -> None:
    _refused(ctx, [("space", _GOOD[:1000] + " " + _GOOD[1000:]), ("tab", "QUJD\tQUJD")])


@rule("base64.invalid.6", Level.MUST, "7.2", _INVALID)
def url_safe_alphabet(ctx: Context) -> None:
    _refused(ctx, [("dash", _GOOD[:1000] + "-" + _GOOD[1001:]), ("underscore", "QUJD_-_-")])


@rule("base64.invalid.7", Level.MUST, "7.2", _INVALID, classic="upload")
def late_error(ctx: Context) -> None:
    payload = base64.b64encode(os.urandom(1 << 20)).decode() + "!" + _GOOD
    _refused(ctx, [("a bad byte after 1 MiB", payload)])


@rule("base64.response.1", Level.MUST, "7.3", _OUT, classic="get")
def canonical_base64_out(ctx: Context) -> None:
    for stem, content in (("one", b"\xfb"), ("two", b"\xfb\xff"), ("plus-slash", b"\xfb\xff\xbf")):
        name = ctx.name(stem)
        ctx.upload(name, content)
        reply = ctx.got(ctx.ask(ctx.req("GET", name)), f"GET of {content!r}")
        expected = base64.b64encode(content).decode()
        ctx.expect(
            reply.get("data_file") == expected,
            f"data_file of {content!r} is {reply.get('data_file')!r}, not {expected!r}",
        )
        ctx.expect(canonical(reply) == content, "data_file decodes to other bytes")

"""Section 6: names: reduction to the final component, refused names, the root folder.

Escapes are seen from the outside: a name that should have been reduced but is readable
under its unreduced path while absent from LIST was written outside the root. With a
known root (``--root``) the disk is looked at too.
"""

from __future__ import annotations

import base64
import contextlib
import os
from pathlib import Path

from fileproto.conformance.context import Context
from fileproto.conformance.model import Level, Violation, rule
from fileproto.conformance.rawio import brief, json_request, show

_EXACT = (
    "A server MUST store a file under exactly the name it was given (after reduction), "
    "non-ASCII characters and spaces included, and list it under that name."
)
_REDUCE = (
    "A client-supplied name MUST be reduced to its final path component, split on both `/` "
    "and `\\`: `../x`, `/tmp/x`, `a/b/x` and `..\\x` all mean `x`, in every command."
)
_REFUSE = (
    "A name that is empty after reduction, is `.` or `..`, is longer than 255 bytes of UTF-8, "
    "or contains NUL or another control character (Unicode category Cc) MUST be refused with "
    "an ERROR response; a name of up to 255 bytes of UTF-8 MUST be accepted."
)
_OUTSIDE = (
    "A server MUST NOT read, write or delete anything outside its root folder, whatever name "
    "it is sent."
)


def _where(ctx: Context, raw: str, name: str, content: bytes) -> str:
    """Where an upload of ``raw`` went, when not where it should (for the report)."""
    found = []
    listed = ctx.list()
    if raw in listed:
        found.append(f"stored inside the root under the unreduced name {raw!r}")
    elif name not in listed:
        reply = ctx.ask(ctx.req("GET", raw))
        if reply.get("status") == "OK" and reply.get("data_file") == base64.b64encode(
            content
        ).decode("ascii"):
            found.append(
                f"written outside the root: readable under its unreduced path {raw!r} "
                "but absent from LIST"
            )
    path = ctx.outside_path(raw)
    if path is not None and path.exists():
        found.append(f"found on disk outside the root at {path}")
    return "; ".join(found)


def _reduced(ctx: Context, make_raw: str, stem: str = "f") -> None:
    """UPLOAD under ``make_raw`` (a template around {n}); the file must end up as n."""
    name = ctx.name(stem)
    raw = make_raw.format(n=name)
    ctx.track(raw)
    content = os.urandom(64)
    reply = ctx.ask(ctx.upload_req(raw, base64.b64encode(content)))
    problem = ""
    if reply.get("status") != "OK":
        problem = f"UPLOAD {raw!r} was answered {show(reply)}; it MUST be stored as {name!r}"
    elif reply.get("data_namafile") != name:
        problem = f"UPLOAD {raw!r} answered data_namafile {reply.get('data_namafile')!r}"
    elif name not in ctx.list():
        problem = f"UPLOAD {raw!r} answered OK but {name!r} is not listed"
    elif ctx.get(name) != content:
        problem = f"{name!r} does not hold what was uploaded as {raw!r}"
    where = _where(ctx, raw, name, content)
    if problem or where:
        raise Violation("; ".join(p for p in (problem, where) if p))


@rule("names.reduce.1", Level.MUST, "6.2", _REDUCE)
def reduce_parent(ctx: Context) -> None:
    _reduced(ctx, "../{n}")


@rule("names.reduce.2", Level.MUST, "6.2", _REDUCE)
def reduce_deep_parent(ctx: Context) -> None:
    _reduced(ctx, "../../../../../../../../tmp/{n}")


@rule("names.reduce.3", Level.MUST, "6.2", _REDUCE)
def reduce_absolute(ctx: Context) -> None:
    _reduced(ctx, "/tmp/{n}")


@rule("names.reduce.4", Level.MUST, "6.2", _REDUCE)
def reduce_backslashes(ctx: Context) -> None:
    _reduced(ctx, "..\\{n}", "a")
    _reduced(ctx, "a\\b\\{n}", "b")


@rule("names.reduce.5", Level.MUST, "6.2", _REDUCE)
def reduce_missing_folders(ctx: Context) -> None:
    _reduced(ctx, "no-such-folder/sub/{n}")


@rule("names.reduce.6", Level.MUST, "6.2", _REDUCE)
def reduce_in_get_and_delete(ctx: Context) -> None:
    name = ctx.name()
    ctx.upload(name, b"reduced")
    for raw in (f"elsewhere/{name}", f"..\\{name}", f"/{name}"):
        got = ctx.content_of(ctx.ok(ctx.ask(ctx.req("GET", raw)), f"GET {raw!r}"), name)
        ctx.expect(got == b"reduced", f"GET {raw!r} returned other content")
    reply = ctx.ok(ctx.ask(ctx.req("DELETE", f"../{name}")), f"DELETE '../{name}'")
    ctx.expect(reply.get("data_namafile") == name, f"DELETE '../name' answered {show(reply)}")
    ctx.absent(name, why=f" after DELETE '../{name}'")


def _refused(ctx: Context, raw: str, *absent: str) -> None:
    ctx.track(raw)
    for command in ("GET", "DELETE"):
        ctx.error(ctx.ask(ctx.req(command, raw)), f"{command} {brief(raw)}")
    ctx.refused(ctx.upload_req(raw, "QUJD"), f"UPLOAD {brief(raw)}", *absent)


@rule("names.invalid.1", Level.MUST, "6.3", _REFUSE)
def refuse_dotdot(ctx: Context) -> None:
    _refused(ctx, "..")


@rule("names.invalid.2", Level.MUST, "6.3", _REFUSE)
def refuse_dot(ctx: Context) -> None:
    _refused(ctx, ".")


@rule("names.invalid.3", Level.MUST, "6.3", _REFUSE)
def refuse_empty_after_reduction(ctx: Context) -> None:
    folder = ctx.name("dir", "")
    _refused(ctx, folder + "/", folder)


@rule("names.invalid.4", Level.MUST, "6.3", _REFUSE)
def refuse_dotdot_after_reduction(ctx: Context) -> None:
    folder = ctx.name("dir", "")
    _refused(ctx, folder + "/..", folder)
    _refused(ctx, folder + "\\.", folder)


@rule("names.invalid.5", Level.MUST, "6.3", _REFUSE)
def refuse_control_character(ctx: Context) -> None:
    name = ctx.name("a\x01b")
    _refused(ctx, name, name)


@rule("names.invalid.6", Level.MUST, "6.3", _REFUSE)
def refuse_nul(ctx: Context) -> None:
    name = ctx.name("a\x00b")
    _refused(ctx, name, name, name.split("\x00")[0])


@rule("names.invalid.7", Level.MUST, "6.3", _REFUSE)
def refuse_escape_and_delete(ctx: Context) -> None:
    for stem in ("\x1b[2Jx", "a\x7fb"):
        name = ctx.name(stem)
        _refused(ctx, name, name)


@rule("names.invalid.8", Level.MUST, "6.3", _REFUSE, needs=("json",))
def refuse_line_breaks_and_tabs(ctx: Context) -> None:
    for stem in ("a\nb", "a\rb", "a\tb"):
        name = ctx.name(stem)
        ctx.refused(json_request("UPLOAD", name, "QUJD"), f"UPLOAD {brief(name)}", name)


def _sized_name(ctx: Context, size: int) -> str:
    """A name of exactly ``size`` bytes of UTF-8, ending in a 2-byte character."""
    head = ctx.name("", "")
    room = size - len(head.encode())
    return head + "n" * (room % 2) + "\u00e9" * (room // 2)


@rule("names.length.1", Level.MUST, "6.3", _REFUSE)
def accept_255_bytes(ctx: Context) -> None:
    name = _sized_name(ctx, 255)
    ctx.track(name)
    reply = ctx.upload(name, b"long name")
    ctx.expect(reply.get("data_namafile") == name, "a 255-byte name came back changed")
    ctx.expect(name in ctx.list(), "a 255-byte name is not listed")
    ctx.expect(ctx.get(name) == b"long name", "a 255-byte name stored other content")


@rule("names.length.2", Level.MUST, "6.3", _REFUSE)
def refuse_256_bytes(ctx: Context) -> None:
    name = _sized_name(ctx, 256)
    ctx.track(name)
    ctx.refused(ctx.upload_req(name, "QUJD"), "UPLOAD of a 256-byte name", name)
    truncated = name.encode()[:255].decode(errors="ignore")
    ctx.absent(truncated, why=" (a 256-byte name, cut)")


@rule("names.utf8.1", Level.MUST, "6.1", _EXACT)
def utf8_names(ctx: Context) -> None:
    name = ctx.name("\u00e9t\u00e9-\u65e5\u672c-\U0001f600-\u0410")
    reply = ctx.upload(name, b"utf-8")
    ctx.expect(reply.get("data_namafile") == name, f"a UTF-8 name came back as {show(reply)}")
    ctx.expect(name in ctx.list(), "a UTF-8 name is not listed exactly as sent")
    ctx.expect(ctx.get(name) == b"utf-8", "a UTF-8 name stored other content")


@rule("names.space.1", Level.MUST, "6.1", _EXACT, needs=("json",))
def names_with_spaces(ctx: Context) -> None:
    name = ctx.name(" with  spaces ")
    ctx.ok(ctx.ask(json_request("UPLOAD", name, "QUJD")), "UPLOAD of a name with spaces")
    ctx.expect(name in ctx.list(), "a name with spaces is not listed exactly as sent")
    got = ctx.content_of(ctx.ok(ctx.ask(json_request("GET", name)), "GET"), name)
    ctx.expect(got == b"ABC", "a name with spaces stored other content")


@rule("names.outside.1", Level.MUST, "6.4", _OUTSIDE)
def nothing_read_outside(ctx: Context) -> str:
    listed = set(ctx.list())
    system = next((f for f in ("passwd", "hosts", "hostname") if f not in listed), None)
    if system is not None:
        raw = "../" * 12 + f"etc/{system}"
        reply = ctx.ask(ctx.req("GET", raw))
        if reply.get("status") == "OK":
            raise Violation(f"GET {raw!r} was answered OK: it read a file outside its root")
    root = ctx.target.root
    if root is None:
        return "looked from the outside only (no --root given)"
    sentinel = Path(root).resolve().parent / ctx.name("sentinel")
    sentinel.write_bytes(b"outside")
    try:
        raw = f"../{sentinel.name}"
        ctx.error(ctx.ask(ctx.req("GET", raw)), f"GET {raw!r} (a file beside the root)")
        with contextlib.suppress(Violation):
            ctx.ask(ctx.req("DELETE", raw))
        ctx.expect(sentinel.exists(), f"DELETE {raw!r} removed a file outside the root")
        ctx.expect(sentinel.read_bytes() == b"outside", f"{sentinel} was changed")
    finally:
        sentinel.unlink(missing_ok=True)
    return f"also on disk, beside {root}"

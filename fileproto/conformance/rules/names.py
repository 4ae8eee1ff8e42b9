"""Section 6: names: reduction to the final component, refused names, the root folder.

An escape is claimed only when seen: on disk outside the root (with ``--root``), or,
without a known root, a file readable through a path that leads out of the root while the
reduced name is not stored. Otherwise the report says what was seen (stored under the
unreduced name, readable but not listed, on disk inside the root as another name).
Escapes are FAIL in every profile; reduction itself is a rule of docs/protocol.md only.
"""

from __future__ import annotations

import base64
import contextlib
import os
import posixpath
from pathlib import Path

from fileproto.conformance.classic import SAFETY
from fileproto.conformance.context import Context
from fileproto.conformance.model import Escape, Level, Violation, rule
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


def _escaping(raw: str) -> bool:
    """Whether ``raw``, joined to a root with ``/`` as the separator, leads out of it."""
    norm = posixpath.normpath(raw)
    return norm.startswith("/") or norm == ".." or norm.startswith("../")


def _where(ctx: Context, raw: str, name: str, content: bytes) -> str:
    """Where an upload of ``raw`` went, when not to ``name``: only what was seen. An
    escape (a FAIL in every profile) is claimed only when seen outside: on disk with a
    known root, or, without one, read back through a path that leads out of the root."""
    seen: list[str] = []
    path = ctx.outside_path(raw)
    if path is not None and path.exists():
        ctx.soft(False, f"written outside the root: found on disk at {path}", "all")
    listed = ctx.list()
    if name in listed and ctx.stored(name, content) is None:
        return ""  # reduced as it should be (a GET of raw then reads it too)
    readable = ctx.stored(raw, content) is None
    if ctx.target.root is None and readable and _escaping(raw):
        ctx.soft(False, f"written outside the root: readable through the escaping path "
                        f"{raw!r}, and {name!r} is not stored", "all")  # fmt: skip
    if raw in listed:
        seen.append(f"stored inside the root under the unreduced name {raw!r}")
    elif readable:
        looked = ctx.target.root is not None and not (path is not None and path.exists())
        outside = " (and not found outside the root on disk)" if looked else ""
        seen.append(f"readable as {raw!r} but listed neither as that nor as {name!r}{outside}")
    inside = _inside(ctx, name)
    if inside:
        seen.append(f"on disk inside the root as {', '.join(map(repr, inside))}")
    return "; ".join(seen)


def _inside(ctx: Context, name: str) -> list[str]:
    """Files in a known root whose name contains ``name`` but is not ``name``."""
    root = ctx.target.root
    if root is None:
        return []
    try:
        return sorted(p.name for p in root.iterdir() if name in p.name and p.name != name)
    except OSError:
        return []


def _reduced(ctx: Context, make_raw: str, stem: str = "f") -> None:
    """UPLOAD under ``make_raw`` (a template around {n}); the file must end up as n."""
    name = ctx.name(stem)
    raw = make_raw.format(n=name)
    ctx.track(raw)
    content = os.urandom(64)
    reply = ctx.ask(ctx.upload_req(raw, base64.b64encode(content)))
    problem = ""
    if not ctx.upload_ok(reply, f"UPLOAD {raw!r} (it MUST be stored as {name!r})"):
        pass
    elif name not in ctx.list():
        problem = f"UPLOAD {raw!r} answered OK but {name!r} is not listed"
    else:
        stored = ctx.stored(name, content)
        problem = f"UPLOAD {raw!r} answered OK, but {stored}" if stored else ""
    where = _where(ctx, raw, name, content)
    if problem or where:
        ctx.soft(False, "; ".join(p for p in (problem, where) if p))


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
        problem = ctx.stored(raw, b"reduced")
        ctx.soft(problem is None, f"{problem} (it MUST mean {name!r})")
    reply = ctx.ask(ctx.req("DELETE", f"../{name}"))
    ctx.soft(reply.get("status") == "OK", f"DELETE '../{name}' was answered {show(reply)}")
    after = ctx.ask(ctx.req("GET", name))
    ctx.soft(after.get("status") == "ERROR", f"{name!r} is still stored after DELETE '../{name}'")


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
    reply = ctx.ask(ctx.upload_req(name, base64.b64encode(b"long name")))
    ctx.uploaded(reply, "UPLOAD of a 255-byte name")
    ctx.soft(name in ctx.list(), "a 255-byte name is not listed")
    problem = ctx.stored(name, b"long name")
    ctx.soft(problem is None, f"a 255-byte name: {problem}")


@rule("names.length.2", Level.MUST, "6.3", _REFUSE)
def refuse_256_bytes(ctx: Context) -> None:
    name = _sized_name(ctx, 256)
    ctx.track(name)
    ctx.refused(ctx.upload_req(name, "QUJD"), "UPLOAD of a 256-byte name", name)
    truncated = name.encode()[:255].decode(errors="ignore")
    ctx.absent(truncated, why=" (a 256-byte name, cut)")


@rule("names.utf8.1", Level.MUST, "6.1", _EXACT, classic="get")
def utf8_names(ctx: Context) -> None:
    name = ctx.name("\u00e9t\u00e9-\u65e5\u672c-\U0001f600-\u0410")
    reply = ctx.ask(ctx.upload_req(name, base64.b64encode(b"utf-8")))
    ctx.uploaded(reply, "UPLOAD of a UTF-8 name")
    ctx.soft(name in ctx.list(), "a UTF-8 name is not listed exactly as sent")
    problem = ctx.stored(name, b"utf-8")
    ctx.soft(problem is None, f"a UTF-8 name: {problem}")


@rule("names.space.1", Level.MUST, "6.1", _EXACT, needs=("json",))
def names_with_spaces(ctx: Context) -> None:
    name = ctx.name(" with  spaces ")
    ctx.uploaded(ctx.ask(json_request("UPLOAD", name, "QUJD")), "UPLOAD of a name with spaces")
    ctx.soft(name in ctx.list(), "a name with spaces is not listed exactly as sent")
    problem = ctx.stored(name, b"ABC")
    ctx.soft(problem is None, f"a name with spaces: {problem}")


@rule("names.outside.1", Level.MUST, "6.4", _OUTSIDE, classic=SAFETY)
def nothing_read_outside(ctx: Context) -> str:
    listed = set(ctx.list())
    system = next((f for f in ("passwd", "hosts", "hostname") if f not in listed), None)
    if system is not None:
        raw = "../" * 12 + f"etc/{system}"
        reply = ctx.ask(ctx.req("GET", raw))
        if reply.get("status") == "OK":
            raise Escape(f"GET {raw!r} was answered OK: it read a file outside its root")
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
        if not sentinel.exists():
            raise Escape(f"DELETE {raw!r} removed a file outside the root")
        if sentinel.read_bytes() != b"outside":
            raise Escape(f"{sentinel} was changed")
    finally:
        sentinel.unlink(missing_ok=True)
    return f"also on disk, beside {root}"

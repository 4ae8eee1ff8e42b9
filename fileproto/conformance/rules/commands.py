"""Section 5: LIST, GET, UPLOAD and DELETE, and their optional aliases."""

from __future__ import annotations

import base64
import os

from fileproto.conformance.context import Context, decode_file
from fileproto.conformance.model import Level, rule
from fileproto.conformance.rawio import Conn, brief, show, upload_prefix, upload_suffix

_LIST = (
    "Its OK response MUST carry `data`, the list of the names of the stored files as strings, "
    "sorted; a name MUST appear in it once its upload has been answered OK, and MUST NOT "
    "appear once its delete has been answered OK."
)
_GET = (
    "Its OK response MUST carry `data_namafile`, the name (after reduction, section 6), and "
    "`data_file`, the file's content in base64 (section 7)."
)
_GET_MISSING = (
    "A GET of a name that is not stored MUST be answered with an ERROR response and has no "
    "other effect."
)
_GET_WHOLE = (
    "Files of any size MUST be served whole, and a client that leaves mid-download MUST NOT "
    "affect later downloads of the same file."
)
_UPLOAD = (
    "The server MUST store the decoded content under the (reduced) name, replacing any "
    "previous file of that name, and answer OK with `data_namafile`, the name, and `data`, a "
    "short message (a string)."
)
_UPLOAD_FAILED = (
    "An upload that fails (bad base64, a bad name, a disconnect) MUST leave nothing new under "
    "its name and MUST leave an existing file of that name as it was."
)
_ATOMIC = (
    "A reader MUST never see a half-written file: until an upload has completed, GET returns "
    "the previous version (or an error) and LIST does not show a name that did not exist "
    "before."
)
_ALIAS = (
    "A server MAY accept DOWNLOAD as an alias of GET, and PUT and POST as aliases of UPLOAD; "
    "a server that accepts an alias MUST treat it exactly as the command it stands for."
)
_DELETE = (
    "The server MUST remove the file and answer OK with `data_namafile`, the name, and "
    "`data`, a short message."
)


# -- LIST ---------------------------------------------------------------------------------


@rule("list.ok.1", Level.MUST, "5.2", _LIST, classic="list")
def list_is_strings(ctx: Context) -> None:
    ctx.upload(ctx.name(), b"x")
    ctx.list()  # checks: status OK, data a list of strings


@rule("list.sorted.1", Level.MUST, "5.2", _LIST)
def list_sorted(ctx: Context) -> None:
    names = [ctx.name(stem) for stem in ("m", "Z", "a", "b-10", "b-9")]
    for name in names:
        ctx.upload(name, b"x")
    listed = ctx.list()
    ctx.expect(listed == sorted(listed), "LIST is not sorted")
    ours = [n for n in listed if n in names]
    ctx.expect(ours == sorted(names), f"our names come as {ours}")


@rule("list.reflects.1", Level.MUST, "5.2", _LIST, classic="list")
def list_follows_uploads_and_deletes(ctx: Context) -> None:
    name = ctx.name()
    ctx.absent(name, why=" before its upload")
    ctx.upload(name, b"x")
    ctx.expect(name in ctx.list(), "an uploaded name is not listed")
    ctx.delete(name)
    ctx.absent(name, why=" after its delete")


def _every_kind_of_name(ctx: Context) -> list[tuple[str, str]]:
    """(what, name): names a listing by pattern (``*.*``, no hidden files) or by bytes
    would miss, each carrying the run's prefix."""
    head = ctx.name("", "")
    room = 255 - len(head.encode()) - len(".bin")
    return [
        ("a name without a dot", ctx.prefix + ctx.rule.id.replace(".", "-") + "-nodot"),
        ("a name starting with a dot", "." + ctx.name("hidden")),
        ("a UTF-8 name", ctx.name("\u00e9t\u00e9-\u65e5\u672c")),
        ("a 255-byte name", head + "n" * (room % 2) + "\u00e9" * (room // 2) + ".bin"),
    ]


@rule("list.all.1", Level.MUST, "5.2", _LIST, classic="list")
def list_shows_every_stored_file(ctx: Context) -> str:
    stored = []
    refused = []
    for what, name in _every_kind_of_name(ctx):
        ctx.track(name)
        reply = ctx.ask(ctx.upload_req(name, "QUJD"))
        # Whether such a name must be accepted is for names.*; here: if it was
        # stored, it is listed.
        if reply.get("status") == "OK" and ctx.stored(name, b"ABC") is None:
            stored.append((what, name))
        else:
            refused.append(what)
    listed = set(ctx.list())
    for what, name in stored:
        ctx.soft(name in listed, f"{what} is stored (GET returns it) but missing from LIST: "
                                 f"{brief(name)}")  # fmt: skip
    return f"not stored, so not looked for: {', '.join(refused)}" if refused else ""


# -- GET ----------------------------------------------------------------------------------


@rule("get.ok.1", Level.MUST, "5.3", _GET, classic="get")
def get_fields(ctx: Context) -> None:
    name = ctx.name()
    content = os.urandom(1000)
    ctx.upload(name, content)
    reply = ctx.got(ctx.ask(ctx.req("GET", name)), "GET")
    ctx.soft(reply.get("data_namafile") == name, f"GET data_namafile is not the name: "
                                                 f"{show(reply)}")  # fmt: skip
    ctx.soft(decode_file(reply) == content, "GET returned other content")


@rule("get.missing.1", Level.MUST, "5.3", _GET_MISSING, classic="failed")
def get_missing(ctx: Context) -> None:
    name = ctx.name()
    ctx.error(ctx.ask(ctx.req("GET", name)), "GET of a name never stored")
    ctx.absent(name, why=" after a GET of it")


@rule("get.binary.1", Level.MUST, "5.3", _GET, classic="get")
def get_every_byte_value(ctx: Context) -> None:
    name = ctx.name()
    content = bytes(range(256)) * 8 + b"\r\n\r\n\x00"
    ctx.upload(name, content)
    ctx.expect(ctx.get(name) == content, "bytes came back changed (all 256 values sent)")


@rule("get.large.1", Level.MUST, "5.3", _GET_WHOLE, classic="get")
def get_large(ctx: Context) -> None:
    name = ctx.name()
    content = os.urandom((2 << 20) + 1)
    ctx.upload(name, content)
    for _ in range(2):
        ctx.expect(ctx.get(name) == content, "a 2 MiB download differs from the upload")


@rule("get.abort.1", Level.MUST, "5.3", _GET_WHOLE, classic="get")
def get_abandoned(ctx: Context) -> None:
    name = ctx.name()
    content = os.urandom((2 << 20) + 2)
    ctx.upload(name, content)
    for _ in range(3):
        with ctx.conn() as conn:
            conn.send(ctx.req("GET", name))
            conn.sock.recv(1000)  # the download has begun; now leave
    ctx.expect(ctx.get(name) == content, "after clients left mid-download, the file differs")


@rule("get.alias.1", Level.MAY, "5.1", _ALIAS, needs=("alias.download",))
def download_alias(ctx: Context) -> None:
    name = ctx.name()
    ctx.upload(name, b"via DOWNLOAD")
    got = ctx.content_of(ctx.got(ctx.ask(ctx.req("DOWNLOAD", name)), "DOWNLOAD"), name)
    ctx.expect(got == b"via DOWNLOAD", "DOWNLOAD returned other content than GET would")
    ctx.error(ctx.ask(ctx.req("download", ctx.name("missing"))), "DOWNLOAD of a missing name")


# -- UPLOAD -------------------------------------------------------------------------------


@rule("upload.ok.1", Level.MUST, "5.4", _UPLOAD, classic="upload")
def upload_fields(ctx: Context) -> None:
    name = ctx.name()
    reply = ctx.upload(name, b"hello")
    # The fields are ours: the classic text asks only for status OK.
    ctx.soft(reply.get("data_namafile") == name,
             f"UPLOAD data_namafile is not the name: {show(reply)}", "fileproto")  # fmt: skip
    ctx.soft(isinstance(reply.get("data"), str),
             f"UPLOAD data is not a string: {show(reply)}", "fileproto")  # fmt: skip
    problem = ctx.stored(name, b"hello")
    ctx.soft(problem is None, f"the upload was answered OK, but {problem}")


@rule("upload.replace.1", Level.MUST, "5.4", _UPLOAD)
def upload_replaces(ctx: Context) -> None:
    name = ctx.name()
    ctx.upload(name, os.urandom(5000))
    ctx.upload(name, b"short")
    ctx.expect(ctx.get(name) == b"short", "a second upload did not replace the first whole")
    ctx.expect(ctx.list().count(name) == 1, "the name is listed more than once")


def _alias_upload(ctx: Context, alias: str) -> None:
    name = ctx.name()
    content = os.urandom(2000)
    ctx.uploaded(ctx.ask(ctx.upload_req(name, base64.b64encode(content), alias)), alias)
    ctx.expect(ctx.get(name) == content, f"{alias} stored other content than UPLOAD would")
    bad = ctx.name("bad")
    ctx.error(ctx.ask(ctx.upload_req(bad, "QUJDQ", alias.lower())), f"{alias} with bad base64")
    ctx.absent(bad, why=f" after a {alias} with bad base64")


@rule("upload.alias.1", Level.MAY, "5.1", _ALIAS, needs=("alias.put",))
def put_alias(ctx: Context) -> None:
    _alias_upload(ctx, "PUT")


@rule("upload.alias.2", Level.MAY, "5.1", _ALIAS, needs=("alias.post",))
def post_alias(ctx: Context) -> None:
    _alias_upload(ctx, "POST")


@rule("upload.failed.1", Level.MUST, "5.4", _UPLOAD_FAILED)
def failed_upload_keeps_old(ctx: Context) -> None:
    name = ctx.name()
    old = os.urandom(4000)
    ctx.upload(name, old)
    # A length no decoder can take, lenient or not (base64.invalid.4)
    bad = base64.b64encode(os.urandom(30_000)) + b"Q"
    ctx.error(ctx.ask(ctx.upload_req(name, bad)), "UPLOAD with bad base64 over a stored name")
    ctx.expect(ctx.get(name) == old, "a failed upload changed the stored file")


@rule("upload.disconnect.1", Level.MUST, "5.4", _UPLOAD_FAILED)
def disconnect_stores_nothing(ctx: Context) -> None:
    name = ctx.name()
    payload = base64.b64encode(os.urandom(600_000))
    with ctx.conn() as conn:
        conn.send(upload_prefix(ctx.dialect, name) + payload[: len(payload) // 2])
    for _ in range(3):  # the server learns of the disconnect in its own time
        ctx.absent(name, why=" though its client left mid-upload")
        ctx.error(ctx.ask(ctx.req("GET", name)), "GET of a name whose upload was cut")


#: How long a reader waits for its answer while an upload is half sent. A server with a
#: single worker answers it only after the upload (and its connection) has ended.
READER_WAIT = 2.0


def _half_upload(ctx: Context, name: str, old: bytes | None, new: bytes) -> str:
    """Send half of an upload of ``new`` under ``name``; meanwhile another client GETs it
    (when there is an ``old`` version) or LISTs; then finish it. Returns a note."""
    payload = base64.b64encode(new)
    half = len(payload) // 2
    probe = ctx.req("GET", name) if old is not None else ctx.req("LIST")
    writer = ctx.connect()
    reader: Conn | None = None
    try:
        writer.send(upload_prefix(ctx.dialect, name) + payload[:half])
        reader = ctx.connect()
        reader.send(probe)
        during = reader.readable(min(ctx.timeout, READER_WAIT))
        reply = reader.read() if during else None
        writer.send(payload[half:] + upload_suffix(ctx.dialect))
        ctx.uploaded(writer.read(), "the completed UPLOAD")
        writer.close()
        if reply is None:
            reply = reader.read()
    finally:
        writer.close()
        if reader is not None:
            reader.close()
    when = "during the upload" if during else "once the upload had ended"
    if old is not None and reply.get("status") == "OK":
        allowed = [old] if during else [old, new]
        ctx.expect(decode_file(reply) in allowed, f"GET {when} returned neither version whole")
    elif old is None:
        listed = ctx.ok(reply, f"LIST {when}").get("data")
        ctx.expect(not (during and isinstance(listed, list) and name in listed),
                   "LIST showed the name while its first upload was half sent")  # fmt: skip
    ctx.expect(ctx.get(name) == new, "after the upload completed, GET returned other content")
    return "" if during else "other clients were answered only once the upload had ended"


@rule("upload.atomic.1", Level.MUST, "5.4", _ATOMIC)
def readers_see_old_version(ctx: Context) -> str:
    name = ctx.name()
    ctx.upload(name, b"old")
    return _half_upload(ctx, name, b"old", os.urandom(900_000))


@rule("upload.atomic.2", Level.MUST, "5.4", _ATOMIC)
def list_hides_upload_in_flight(ctx: Context) -> str:
    return _half_upload(ctx, ctx.name(), None, os.urandom(900_000))


# -- DELETE -------------------------------------------------------------------------------


@rule("delete.ok.1", Level.MUST, "5.5", _DELETE, classic="delete")
def delete_fields(ctx: Context) -> None:
    name = ctx.name()
    ctx.upload(name, b"x")
    reply = ctx.delete(name)
    # The fields are ours: the classic text asks only for status OK.
    ctx.soft(reply.get("data_namafile") == name,
             f"DELETE data_namafile is not the name: {show(reply)}", "fileproto")  # fmt: skip
    ctx.soft(isinstance(reply.get("data"), str),
             f"DELETE data is not a string: {show(reply)}", "fileproto")  # fmt: skip
    after = ctx.ask(ctx.req("GET", name))
    ctx.soft(after.get("status") == "ERROR", f"GET after DELETE was answered {show(after)}")
    ctx.soft(name not in ctx.list(), "the name is still listed after its DELETE")


@rule(
    "delete.missing.1",
    Level.MUST,
    "5.5",
    "A DELETE of a name that is not stored MUST be answered with an ERROR response.",
    classic="failed",
)
def delete_missing(ctx: Context) -> None:
    name = ctx.name()
    ctx.error(ctx.ask(ctx.req("DELETE", name)), "DELETE of a name never stored")
    ctx.upload(name, b"x")
    ctx.delete(name)
    ctx.error(ctx.ask(ctx.req("DELETE", name)), "a second DELETE of one name")


@rule(
    "delete.only.1",
    Level.MUST,
    "5.5",
    "A DELETE MUST remove exactly the file it names and no other.",
    classic="delete",
)
def delete_only_that(ctx: Context) -> None:
    name = ctx.name("x", "")
    others = [ctx.name("x", ".bin"), ctx.name("xx", ""), ctx.name("x-", "")]
    for other in [name, *others]:
        ctx.upload(other, other.encode())
    ctx.delete(name)
    # Read back with GET: whether LIST shows every name is list.all.1's business.
    after = ctx.ask(ctx.req("GET", name))
    ctx.soft(after.get("status") == "ERROR", f"GET of the deleted {name!r} was answered OK")
    for other in others:
        problem = ctx.stored(other, other.encode())
        ctx.soft(problem is None, f"after deleting {name!r}: {problem}")

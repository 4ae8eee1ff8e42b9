"""Hostile requests, catalogued once: names with a path or refused outright, malformed
requests and odd JSON envelopes, with what the answers must say.

The session decides every answer (tests/test_session_hostile.py drives it with each of
them, in process); tests/test_hostile_input.py sends them to real servers.
"""

from __future__ import annotations

import base64
import json
import random
from collections.abc import Callable
from typing import NamedTuple

from fileproto.wire.names import RESERVED_PREFIX
from tests.helpers.wire import TERMINATOR, json_request, text_request

DIALECTS = ["json", "text"]
HEADER_CAP = 64 * 1024

#: Names with a path: the server keeps only the last component, inside its root.
REDUCED = {
    "dotdot-x": ("../x", "x"),
    "etc-passwd-relative": ("../../etc/passwd", "passwd"),
    "etc-passwd-absolute": ("/etc/passwd", "passwd"),
    "backslash": ("..\\x", "x"),
    "a-dotdot-dotdot-b": ("a/../../b", "b"),
}
#: Names that must be refused whatever the dialect.
INVALID = {
    "nul": "a\x00b",
    "nul-only": "\x00",
    "control": "a\x01b",
    "escape-seq": "\x1b[2Jx",
    "del": "a\x7fb",
    "newline": "a\nb",
    "tab": "a\tb",
    "empty": "",
    "dot": ".",
    "dotdot": "..",
    "path-then-dotdot": "x/..",
    "path-then-dot": "x/.",
    "trailing-slash": "x/",
    "300-bytes": "n" * 300,
}
#: Only our server reserves this prefix (its temporary files); not a conformance rule.
OURS_ONLY_INVALID = {
    "reserved-prefix": RESERVED_PREFIX + "abc",
    "reserved-prefix-with-path": "../" + RESERVED_PREFIX + "abc",
}
NAME_CASES = {
    **{k: (raw, reduced) for k, (raw, reduced) in REDUCED.items()},
    **{k: (raw, None) for k, raw in INVALID.items()},
}


# 4000 characters, the same in every run and every xdist worker
_B64 = base64.b64encode(random.Random(14).randbytes(3000))


def _upload_payload(dialect: str, name: str, payload: bytes) -> bytes:
    if dialect == "json":
        prefix = b'{"command": "UPLOAD", "params": [' + json.dumps(name).encode() + b', "'
        return prefix + payload + b'"]}' + TERMINATOR
    return b"UPLOAD " + name.encode() + b" " + payload + TERMINATOR


class BadRequest(NamedTuple):
    """One malformed request and what its answer must say."""

    #: The request's bytes, given a fresh name.
    make: Callable[[str], bytes]
    #: Words our server's error message has.
    needles: tuple[str, ...] = ()
    #: Words any server's error message should have.
    portable: tuple[str, ...] = ()
    #: Whether the server may close the connection after the answer (framing is lost).
    fatal: bool = False


#: id -> the request and what its answer must say.
BAD_REQUESTS: dict[str, BadRequest] = {}


def _bad(
    case: str,
    make: Callable[[str], bytes],
    needles: tuple[str, ...] = (),
    portable: tuple[str, ...] = (),
    fatal: bool = False,
) -> None:
    BAD_REQUESTS[case] = BadRequest(make, needles, portable, fatal)


def _upload_of(dialect: str, payload: bytes) -> Callable[[str], bytes]:
    """An UPLOAD of ``payload`` in ``dialect``, given a fresh name."""
    return lambda name: _upload_payload(dialect, name, payload)


for _d in DIALECTS:
    _bad(
        f"b64-bad-char-{_d}",
        _upload_of(_d, _B64[:1000] + b"!" + _B64[1000:]),
        ("invalid base64", "1000"),
        ("base64",),
    )
    _bad(
        f"b64-bad-char-mid-quantum-{_d}",
        _upload_of(_d, _B64[:2001] + b"*" + _B64[2001:]),
        ("invalid base64", "2001"),
        ("base64",),
    )
    _bad(
        f"b64-stray-equals-{_d}",
        _upload_of(_d, _B64[:1000] + b"=" + _B64[1000:]),
        ("invalid base64", "1000"),
        ("base64",),
    )
    _bad(
        f"b64-data-after-padding-{_d}",
        _upload_of(_d, b"QQ==" + _B64),
        ("invalid base64",),
        ("base64",),
    )
    _bad(
        f"b64-lone-char-{_d}",
        _upload_of(_d, _B64 + b"Q"),
        ("base64",),
        ("base64",),
    )
_bad("unknown-command-text", lambda n: text_request("FROB", n), ("unknown command", "FROB"))
_bad("unknown-command-json", lambda n: json_request("FROB", n), ("unknown command", "FROB"))
_bad("unknown-command-empty-json", lambda n: json_request("", n), ("command",))
_bad(
    "command-not-a-string-json",
    lambda n: b'{"command": 7, "params": []}' + TERMINATOR,
    ("command",),
)
_bad("missing-name-get-text", lambda n: b"GET" + TERMINATOR, ("name",))
_bad("missing-name-delete-text", lambda n: b"DELETE" + TERMINATOR, ("name",))
_bad("missing-payload-upload-text", lambda n: text_request("UPLOAD", n), ("base64",))
_bad("missing-name-get-json", lambda n: json_request("GET"), ("name",))
_bad("missing-params-key-json", lambda n: b'{"command": "DELETE"}' + TERMINATOR, ("name",))
_bad("missing-payload-upload-json", lambda n: json_request("UPLOAD", n), ("base64",))
_bad("too-many-params-get-json", lambda n: json_request("GET", n, "QUJD"), ("parameter",))
_bad("params-not-a-list-json", lambda n: b'{"command": "GET", "params": "x"}' + TERMINATOR)
_bad("name-not-a-string-json", lambda n: json_request("GET", 12), ("name",))
_bad("envelope-array", lambda n: b"[1,2]" + TERMINATOR, ("object",))
_bad("envelope-string", lambda n: b'"x"' + TERMINATOR, ("object",))
_bad("envelope-number", lambda n: b"42" + TERMINATOR, ("object",))
_bad("envelope-unclosed", lambda n: b'{"command": "LIST"' + TERMINATOR, ("json",))
_bad("envelope-garbage-after", lambda n: b'{"command": "LIST"} x' + TERMINATOR, ())
_bad("utf8-name-text", lambda n: b"GET \xff\xfe" + n.encode() + TERMINATOR, ("utf-8",))
_bad(
    "utf8-name-upload-text",
    lambda n: b"UPLOAD \xc3(" + n.encode() + b" " + _B64 + TERMINATOR,
    ("utf-8",),
)
_bad(
    "utf8-name-json",
    lambda n: b'{"command": "GET", "params": ["\xff' + n.encode() + b'"]}' + TERMINATOR,
)
_bad(
    "utf8-name-upload-json",
    lambda n: (
        b'{"command": "UPLOAD", "params": ["\xc3('
        + n.encode()
        + b'", "'
        + _B64
        + b'"]}'
        + TERMINATOR
    ),
)
_bad("utf8-command-text", lambda n: b"\xffLIST" + TERMINATOR, ("utf-8",))
_bad("utf8-command-json", lambda n: b'{"command": "\xffLIST", "params": []}' + TERMINATOR)
_bad(
    "header-cap-text",
    lambda n: b"GET " + b"n" * (HEADER_CAP + 4096),
    ("too large",),
    fatal=True,
)
_bad(
    "header-cap-upload-name-text",
    lambda n: b"UPLOAD " + b"n" * (HEADER_CAP + 4096),
    ("too large",),
    fatal=True,
)
_bad(
    "header-cap-json",
    lambda n: b'{"command": "GET", "params": ["' + b"n" * (HEADER_CAP + 4096),
    ("too large",),
    fatal=True,
)
_bad(
    "header-cap-json-key",
    lambda n: b'{"' + b"k" * (HEADER_CAP + 4096),
    ("too large",),
    fatal=True,
)


#: Envelopes that put a string twice where the payload goes, or change the command after
#: the payload: each must get exactly one answer and leave no temporary file behind.
ODD_ENVELOPES = {
    "two-strings-at-payload-index": b'{"command": "UPLOAD", "params": ["{n}", "QUJD" "QUJD"]}',
    "duplicate-params-key": (
        b'{"params": ["{n}", "QUJD"], "params": ["{n}", "QUJD"], "command": "UPLOAD"}'
    ),
    "command-get-then-upload": (
        b'{"command": "GET", "params": ["{n}", "QUJD"], "command": "UPLOAD"}'
    ),
    "command-upload-then-get": (
        b'{"command": "UPLOAD", "params": ["{n}", "QUJD"], "command": "GET"}'
    ),
    "command-after-params": b'{"params": ["{n}", "QUJD"], "command": "GET"}',
}


def odd_envelope(case: str, name: str) -> bytes:
    return ODD_ENVELOPES[case].replace(b"{n}", name.encode()) + TERMINATOR

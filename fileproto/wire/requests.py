"""Client-side request encoders for both dialects."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator

from fileproto.wire.b64 import encode_chunk
from fileproto.wire.events import Dialect
from fileproto.wire.terminator import TERMINATOR

_TEXT_UNSAFE = frozenset(" \t\r\n\v\f")


def _text_name(name: str) -> bytes:
    if not name or any(c in _TEXT_UNSAFE for c in name):
        raise ValueError(f"the text dialect cannot carry the name {name!r}; use the JSON dialect")
    return name.encode("utf-8")


def encode_request(command: str, *params: str, dialect: Dialect = "json") -> bytes:
    """A complete request without a streamed payload (LIST, GET, DELETE, or a small UPLOAD)."""
    if dialect == "json":
        return json.dumps({"command": command, "params": list(params)}).encode("ascii") + TERMINATOR
    parts = [command.encode("ascii")]
    if params:
        parts.append(_text_name(params[0]))
    text = b" ".join(parts)
    if len(params) > 1:
        text += b" " + params[1].encode("ascii")
    return text + TERMINATOR


def iter_upload_request(
    name: str, raw_chunks: Iterable[bytes], dialect: Dialect = "json", separator: bytes = b" "
) -> Iterator[bytes]:
    """An UPLOAD request as a stream of pieces: prefix, base64 chunks, suffix.

    Every raw chunk but the last must have a size that is a multiple of 3, so that the
    encoded chunks concatenate into one valid base64 string.
    """
    if dialect == "json":
        yield b'{"command": "UPLOAD", "params": [' + json.dumps(name).encode("ascii") + b', "'
    else:
        if separator not in (b" ", b"\r\n"):
            raise ValueError("the text separator is a single space or CRLF")
        yield b"UPLOAD " + _text_name(name) + separator
    for chunk in raw_chunks:
        if chunk:
            yield encode_chunk(chunk)
    yield (b'"]}' if dialect == "json" else b"") + TERMINATOR

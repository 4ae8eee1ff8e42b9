"""The name rules: what a client-supplied file name may be (docs/protocol.md, section 6)."""

from __future__ import annotations

import re
import unicodedata

MAX_NAME_BYTES = 255
# Uploads in progress live beside the files under this prefix; clients may not use it.
RESERVED_PREFIX = ".fileproto-upload-"

_SEPARATORS = re.compile(r"[/\\]")


class InvalidName(ValueError):
    """A name that cannot be stored; the message says why, for the client to act on."""


def clean_name(raw: object) -> str:
    """Reduce ``raw`` to its final path component and check it, or raise InvalidName."""
    if not isinstance(raw, str):
        raise InvalidName(f"file name must be a string, got {type(raw).__name__}")
    name = _SEPARATORS.split(raw)[-1]
    if not name:
        raise InvalidName(f"invalid file name {raw!r}: empty after removing the path")
    if name in (".", ".."):
        raise InvalidName(f"invalid file name {raw!r}: {name!r} is not a file")
    try:
        encoded = name.encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidName(f"invalid file name {raw!r}: not valid UTF-8") from None
    if len(encoded) > MAX_NAME_BYTES:
        raise InvalidName(
            f"invalid file name: {len(encoded)} bytes of UTF-8, at most {MAX_NAME_BYTES}"
        )
    for char in name:
        if unicodedata.category(char) == "Cc":
            raise InvalidName(f"invalid file name {raw!r}: contains control character {char!r}")
    if name.startswith(RESERVED_PREFIX):
        raise InvalidName(f"invalid file name {raw!r}: the prefix {RESERVED_PREFIX!r} is reserved")
    return name

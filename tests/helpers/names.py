"""File names: unique ones for tests against servers, and hypothesis strategies of valid
names built by construction (no filtering) for the property tests."""

from __future__ import annotations

import os
import uuid

from hypothesis import strategies as st

from fileproto.wire.names import MAX_NAME_BYTES, RESERVED_PREFIX


def unique(stem: str = "f", suffix: str = ".bin") -> str:
    """A name no other test, xdist worker or earlier run uses: ``stem-[gwN-]hex.bin``.

    The xdist worker id is part of it, so that tests sharing one server (``--fileproto-
    target``) can tell their files from another worker's.
    """
    worker = os.environ.get("PYTEST_XDIST_WORKER", "")
    tag = f"{worker}-" if worker else ""
    return f"{stem}-{tag}{uuid.uuid4().hex[:12]}{suffix}"


# -- valid names by construction ------------------------------------------------------------

#: Never in a name: the path separators (the server keeps only the last component).
#: Control characters (category Cc: NUL, C0, DEL, C1) and surrogates (Cs, not UTF-8)
#: are excluded by category.
PATH_SEPARATORS = "/\\"
#: The text dialect splits its words on ASCII whitespace; a text name cannot hold any.
TEXT_WHITESPACE = " \t\r\n\v\f"


def name_characters(*, text: bool, min_codepoint: int = 0) -> st.SearchStrategy[str]:
    """Characters a valid name may hold (in the text dialect: no whitespace either)."""
    excluded = PATH_SEPARATORS + (TEXT_WHITESPACE if text else "")
    return st.characters(
        codec="utf-8",
        min_codepoint=min_codepoint,
        exclude_categories=("Cc", "Cs"),
        exclude_characters=excluded,
    )


def fit_name(name: str) -> str:
    """Cut to at most MAX_NAME_BYTES bytes of UTF-8 without splitting a character, then
    make it a name the rules allow: never ``.`` or ``..``, never the reserved prefix.

    ``name`` must be non-empty and free of separators and control characters; the result
    is then non-empty (a character is at most 4 bytes) and as long as the limit allows.
    """
    assert name, "fit_name needs at least one character"
    cut = name.encode("utf-8")[:MAX_NAME_BYTES].decode("utf-8", "ignore")
    if cut in (".", ".."):
        return cut + "_"
    if cut.startswith(RESERVED_PREFIX):
        return "_" + cut[1:]  # same length in bytes
    return cut


def _names(*, text: bool) -> st.SearchStrategy[str]:
    chars = name_characters(text=text)
    short = st.text(chars, min_size=1, max_size=30)
    # Long ones: mostly multi-byte characters, so the 255-byte cut falls inside one.
    long = st.text(chars, min_size=100, max_size=MAX_NAME_BYTES)
    # At the limit: ASCII up to a few bytes short of it, then multi-byte characters, so
    # the cut lands on every byte of a 2-, 3- or 4-byte character, and between two.
    ascii_chars = st.characters(min_codepoint=0x21, max_codepoint=0x7E, exclude_characters="/\\")
    at_limit = st.builds(
        str.__add__,
        st.text(ascii_chars, min_size=MAX_NAME_BYTES - 12, max_size=MAX_NAME_BYTES),
        st.text(name_characters(text=text, min_codepoint=0x80), min_size=1, max_size=6),
    )
    return st.one_of(short, long, at_limit).map(fit_name)


#: Valid names for the JSON dialect: any character but separators and control characters.
json_names = _names(text=False)
#: Valid names for the text dialect: as above, and no whitespace.
text_names = _names(text=True)

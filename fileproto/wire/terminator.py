"""Finding the message terminator without ever re-scanning what was already searched."""

from __future__ import annotations

TERMINATOR = b"\r\n\r\n"


def advance(matched: int, byte: int) -> int:
    """How much of TERMINATOR is matched after ``byte``, given ``matched`` before it.

    The pattern's only self-overlap is a leading CR, hence the simple fallback.
    """
    if byte == TERMINATOR[matched]:
        return matched + 1
    return 1 if byte == 0x0D else 0


def matched_suffix(tail: bytes) -> int:
    """Longest suffix of ``tail`` that is a proper prefix of TERMINATOR."""
    for size in (3, 2, 1):
        if len(tail) >= size and tail[-size:] == TERMINATOR[:size]:
            return size
    return 0


def find_end(data: bytes, pos: int, matched: int) -> tuple[int, int]:
    """Search ``data[pos:]`` for the end of a terminator that may have begun earlier.

    Returns (index just past the terminator, 0), or (-1, new ``matched``) when the data
    runs out first. ``matched`` carries a partial match across calls, so each byte is
    looked at once.
    """
    n = len(data)
    i = pos
    while matched and i < n:
        matched = advance(matched, data[i])
        i += 1
        if matched == 4:
            return i, 0
    if matched:  # the data ran out while still inside a partial match
        return -1, matched
    found = data.find(TERMINATOR, i)
    if found >= 0:
        return found + 4, 0
    return -1, matched_suffix(data[max(i, n - 3) :])

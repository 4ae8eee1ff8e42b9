"""Argument types of every command line (``fileproto serve``, ``stress``, the plugin's
options): numbers, seconds, sizes and rates, with errors that say what was expected."""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable
from typing import TypeVar

_N = TypeVar("_N", int, float)


def _number(
    text: str, convert: Callable[[str], _N], what: str, ok: Callable[[_N], bool], must: str
) -> _N:
    """``text`` converted, or an argparse error: ``not <what>`` or ``<must>, got <text>``."""
    try:
        value = convert(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not {what}: {text!r}") from None
    if not ok(value):
        raise argparse.ArgumentTypeError(f"{must}, got {text.strip()}")
    return value


def positive_int(text: str) -> int:
    return _number(text, int, "a whole number", lambda v: v >= 1, "must be at least 1")


def non_negative_int(text: str) -> int:
    return _number(text, int, "a whole number", lambda v: v >= 0, "cannot be negative")


def non_negative_seconds(text: str) -> float:
    return _number(
        text, float, "a number of seconds", lambda v: 0 <= v < math.inf, "cannot be negative"
    )


def non_negative_factor(text: str) -> float:
    return _number(text, float, "a number", lambda v: 0 <= v < math.inf, "cannot be negative")


def positive_seconds(text: str) -> float:
    return _number(
        text,
        float,
        "a number of seconds",
        lambda v: 0 < v < math.inf,
        "must be more than 0 seconds",
    )


_UNITS = {"": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30}


def _quantity(text: str) -> float | None:
    """A number with an optional K, M or G (powers of 1024) and optionally B, iB and /s
    after it; None if it is none."""
    cleaned = text.strip().upper().replace(" ", "")
    for suffix in ("/S", "IB", "B"):
        cleaned = cleaned.removesuffix(suffix)
    unit = cleaned[-1:] if cleaned[-1:] in _UNITS else ""
    try:
        return float(cleaned[: len(cleaned) - len(unit)]) * _UNITS[unit]
    except ValueError:
        return None


def rate(text: str) -> float:
    """Bytes per second: ``1M``, ``1MiB/s``, ``512k``, ``250000``."""
    value = _quantity(text)
    if value is None:
        raise argparse.ArgumentTypeError(
            f"not a rate: {text!r} (bytes per second, e.g. 1M for 1 MiB/s or 256K)"
        )
    if not 1 <= value < float("inf"):
        raise argparse.ArgumentTypeError(f"a rate must be at least 1 byte per second, got {text}")
    return value


def byte_size(text: str) -> int:
    """A byte count: ``200M``, ``64K``, ``1000``."""
    value = _quantity(text)
    if value is None:
        raise argparse.ArgumentTypeError(f"not a size: {text!r} (bytes, e.g. 200M or 64K)")
    if not 0 <= value < float("inf"):
        raise argparse.ArgumentTypeError(f"a size cannot be negative, got {text}")
    return int(value)


def percent(text: str) -> float:
    """A percentage, 0 or more: ``5``, ``5%``, ``2.5``."""
    return _number(
        text.strip().removesuffix("%"),
        float,
        "a percentage",
        lambda v: 0 <= v < math.inf,
        "cannot be negative",
    )

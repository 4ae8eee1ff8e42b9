"""Argument types of every command line (``fileproto serve``, ``stress``, the plugin's
options): numbers, seconds, sizes and rates, with errors that say what was expected."""

from __future__ import annotations

import argparse


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def non_negative_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"cannot be negative, got {value}")
    return value


def non_negative_seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {text!r}") from None
    if not 0 <= value < float("inf"):
        raise argparse.ArgumentTypeError(f"cannot be negative, got {text}")
    return value


def positive_seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {text!r}") from None
    if not 0 < value < float("inf"):
        raise argparse.ArgumentTypeError(f"must be more than 0 seconds, got {text}")
    return value


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

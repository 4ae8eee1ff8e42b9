"""How the findings say their numbers."""

from __future__ import annotations

from fileproto.report.units import latency_text


def times(value: float) -> str:
    return f"{value:.2f}x" if value < 10 else f"{value:,.0f}x"


def pairs_text(n: int) -> str:
    return f"{n} operation/size pair{'' if n == 1 else 's'}"


def ms(seconds: float) -> str:
    """A latency, always in milliseconds (one unit per quantity: :mod:`..units`)."""
    return latency_text(seconds)


def workers(n: int | str) -> str:
    return f"{n} worker{'' if n == 1 else 's'}"


def clients(n: int) -> str:
    return f"{n} client{'' if n == 1 else 's'}"

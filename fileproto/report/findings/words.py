"""How the findings say their numbers."""

from __future__ import annotations


def times(value: float) -> str:
    return f"{value:.2f}x" if value < 10 else f"{value:,.0f}x"


def pairs_text(n: int) -> str:
    return f"{n} operation/size pair{'' if n == 1 else 's'}"


def ms(seconds: float) -> str:
    return f"{seconds * 1000:,.1f} ms" if seconds < 10 else f"{seconds:,.1f} s"


def workers(n: int | str) -> str:
    return f"{n} worker{'' if n == 1 else 's'}"


def clients(n: int) -> str:
    return f"{n} client{'' if n == 1 else 's'}"

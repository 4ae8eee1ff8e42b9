"""How the report says a duration: seconds to two figures, milliseconds below 0.1 s."""

from __future__ import annotations


def seconds_text(value: float) -> str:
    if value >= 100:
        return f"{value:.0f} s"
    if value >= 10:
        return f"{value:.1f} s"
    if value >= 1:
        return f"{value:.1f} s"
    if value >= 0.1:
        return f"{value:.2g} s"
    return f"{value * 1000:.2g} ms"

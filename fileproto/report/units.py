"""One unit per quantity, in every report (text, Markdown, HTML, charts, findings):
throughput in MiB/s, a client's time in seconds, latency in milliseconds.

The record keeps its own units (bytes per second, seconds: fileproto/results/record.py,
whose keys others read); these functions only say its figures. A cell of a table gives
the number alone (its header names the unit); a text gives it with its unit.
"""

from __future__ import annotations

from fileproto.units import MIB

THROUGHPUT = "MiB/s"
TIME = "s"
LATENCY = "ms"


def throughput_cell(bytes_per_s: float) -> str:
    """1,234.5 for 1,234.5 MiB/s; two decimals under 1 MiB/s (0.04), so a slow case
    does not read as zero."""
    value = bytes_per_s / MIB
    return f"{value:,.1f}" if value >= 1 or value == 0 else f"{value:.2f}"


def throughput_text(bytes_per_s: float) -> str:
    return f"{throughput_cell(bytes_per_s)} {THROUGHPUT}"


def time_cell(seconds: float) -> str:
    return f"{seconds:,.3f}"


def time_text(seconds: float) -> str:
    return f"{time_cell(seconds)} {TIME}"


def latency_cell(seconds: float) -> str:
    return f"{seconds * 1000:,.1f}"


def latency_text(seconds: float) -> str:
    return f"{latency_cell(seconds)} {LATENCY}"

"""A server's trace file read on its own (``fileproto serve --trace FILE``, docs/trace.md):
whatever the client was, the file says what the server did with each connection.

The file is read line by line, never whole: a trace of a long run holds millions of
events. Times become seconds from the trace's first event (``at``), the form the
results record keeps them in, so one reader of events serves both.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fileproto.results.timeline import event_of_line

#: Bytes of the file's start read to tell a trace from a benchmark JSON document.
_SNIFF = 1 << 16


def is_server_trace(path: str | os.PathLike[str]) -> bool:
    """Whether the file's first line is a server trace event (an object with ``mono``,
    ``ev`` and ``conn``); a benchmark JSON document is not. OSError if unreadable."""
    with open(path, "rb") as stream:
        head = stream.read(_SNIFF)
    first = head.lstrip().split(b"\n", 1)[0]
    try:
        event = json.loads(first)
    except (ValueError, UnicodeDecodeError):
        return False
    return isinstance(event, dict) and {"mono", "ev", "conn"} <= event.keys()


@dataclass
class TraceFile:
    """What reading went through: the events read, the lines skipped (torn or foreign:
    readers ignore them, docs/trace.md), and the first event's ``mono`` (the origin of
    every ``at``)."""

    path: Path
    events: int = 0
    skipped: int = 0
    origin: float | None = None
    first_wall: float | None = None
    notes: list[str] = field(default_factory=list)


def read_events(trace: TraceFile) -> Iterator[dict[str, Any]]:
    """The trace's events in file order, each with ``at`` (seconds from the first
    event) instead of ``mono``; counts them and the lines skipped into ``trace``."""
    with open(trace.path, "rb") as stream:
        for line in stream:
            if not line.strip():
                continue
            if trace.origin is None:
                trace.origin = _mono(line)
                if trace.origin is None:
                    trace.skipped += 1
                    continue
            event = event_of_line(line, trace.origin)
            if event is None:
                trace.skipped += 1
                continue
            if trace.first_wall is None and isinstance(event.get("t"), int | float):
                trace.first_wall = float(event["t"])
            trace.events += 1
            yield event


def _mono(line: bytes) -> float | None:
    try:
        event = json.loads(line)
    except (ValueError, UnicodeDecodeError):
        return None
    mono = event.get("mono") if isinstance(event, dict) else None
    if isinstance(mono, bool) or not isinstance(mono, int | float):
        return None
    return float(mono)

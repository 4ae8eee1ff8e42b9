"""A server trace read on its own, as the report shows it: every connection's phases
(:mod:`.connections`), their sums, and what this trace cannot tell (docs/trace.md)."""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fileproto.report.connections import (
    CONNECTION_PHASES,
    PHASE_KEYS,
    ConnectionPhases,
    connections,
)
from fileproto.results.server_trace import TraceFile, read_events


@dataclass
class TraceAnalysis:
    path: Path
    connections: list[ConnectionPhases]
    events: int = 0
    skipped: int = 0
    #: The wall clock of the trace's first event (``t``), for people.
    began: float | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def served(self) -> list[ConnectionPhases]:
        """The connections counted in (not refused at the cap)."""
        return [c for c in self.connections if not c.refused]

    def totals(self) -> dict[str, float]:
        """Seconds per phase, summed over the connections."""
        out = dict.fromkeys(CONNECTION_PHASES, 0.0)
        for conn in self.served:
            for phase, seconds in conn.seconds.items():
                out[phase] = out.get(phase, 0.0) + seconds
        return out

    @property
    def kinds(self) -> set[str]:
        """How the server served, from its workers' names: "thread", "process", "loop"."""
        return {w.partition(":")[0] for c in self.connections for w in c.workers}

    def as_dict(self) -> dict[str, Any]:
        totals = self.totals()
        return {
            "trace": str(self.path),
            "events": self.events,
            "skipped_lines": self.skipped,
            "began": self.began,
            "connections": [c.as_dict() for c in self.connections],
            "totals": {PHASE_KEYS[p]: round(totals[p], 6) for p in CONNECTION_PHASES},
            "notes": list(self.notes),
        }


def analyse(path: str | os.PathLike[str]) -> TraceAnalysis:
    """Read the trace file; ValueError if it holds no event. OSError if unreadable."""
    trace = TraceFile(Path(path))
    found = sorted(connections(read_events(trace)), key=lambda c: (c.start, c.conn))
    if not trace.events:
        raise ValueError(f"{path} holds no server trace event (docs/trace.md)")
    analysis = TraceAnalysis(trace.path, found, trace.events, trace.skipped, trace.first_wall)
    analysis.notes = _notes(analysis)
    return analysis


def _notes(analysis: TraceAnalysis) -> list[str]:
    """What this trace cannot tell, said once."""
    conns = analysis.served
    notes = []
    if conns and not any(c.accept_wait_known for c in conns):
        notes.append(
            "The trace does not say how long connections waited to be accepted (a server "
            "from before accept_wait_s, or a system without TCP_INFO): their time starts "
            "at accept."
        )
    elif conns:
        notes.append(
            "The wait to be accepted is the kernel's (TCP_INFO, from the end of the "
            "handshake), exact to one kernel tick (1 to 10 ms); a connection the kernel "
            "could not queue (a full listen backlog drops the client's SYN) waited before "
            "that, and only the client sees it."
        )
    kinds = analysis.kinds
    if "loop" in kinds:
        notes.append(
            "Event loops serve many connections at once: a connection whose loop was busy "
            "with others shows as being served, never queued."
        )
    pools = [c for c in conns if c.workers and not any(w.startswith("loop:") for w in c.workers)]
    if pools and not any(c.given_back for c in pools):
        # No connection was ever given back: the classic dispatch, where a worker holds
        # its connection from accept to close.
        notes.append(
            "The server used the classic dispatch (a worker holds its connection from "
            "accept to close): its waits on the client of 1 ms or more are told apart, "
            "shorter ones count as served; a client that holds a worker shows in the "
            "others' time as queued."
        )
    if any(r.cmd is None and r.status is None for c in conns for r in c.requests):
        notes.append("A request without a header or answer in the trace is counted without "
                     "its command.")  # fmt: skip
    if analysis.skipped:
        notes.append(f"{analysis.skipped} line(s) that are not trace events were skipped.")
    dropped = sum(c.segments_dropped for c in conns)
    if dropped:
        notes.append(
            f"{dropped} stretch(es) of the longest connections are not drawn (at most "
            "4,096 per connection); their seconds are counted."
        )
    return notes


def longest(conns: Sequence[ConnectionPhases], count: int) -> list[ConnectionPhases]:
    """The ``count`` longest connections, in the order they began."""
    chosen = sorted(conns, key=lambda c: -c.total_s)[:count]
    return sorted(chosen, key=lambda c: (c.start, c.conn))

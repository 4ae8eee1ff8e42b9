"""What a server trace shows, in words: which connections spent most of their time on
what, and so whose side was slow (docs/trace.md, "A trace read on its own")."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

from fileproto.report.connections import CONNECTION_PHASES, ConnectionPhases
from fileproto.report.phases import (
    CLIENT_READING,
    CLIENT_SENDING,
    IDLE,
    QUEUED,
    SERVED,
    WAITING_TO_CONNECT,
)
from fileproto.report.seconds import seconds_text
from fileproto.report.trace_analysis import TraceAnalysis
from fileproto.trace import Preemption

#: A phase with at least this share of a connection's time is what the connection did.
MOST = 0.5
#: Connections shorter than this share of the longest are not told one by one: a
#: reading of a few milliseconds says little about anyone.
NOTABLE = 0.1
#: Connections told one by one per phase; past it, the group is told in one sentence.
ONE_BY_ONE = 3

#: Per phase: what the connection did, and what that says (singular and plural).
_READING = {
    CLIENT_READING: ("waiting for the client to read its answer", "the client reads slowly",
                     "the clients read slowly"),
    CLIENT_SENDING: ("waiting for the client to send its request", "the client sends slowly",
                     "the clients send slowly"),
    QUEUED: ("queued for a worker", "every worker was busy with other connections",
             "every worker was busy with other connections"),
    WAITING_TO_CONNECT: ("waiting to be accepted", "the server was slow to accept it",
                         "the server was slow to accept them"),
    SERVED: ("being served", "the server's own work (reading, writing, encoding) took it",
             "the server's own work (reading, writing, encoding) took it"),
    IDLE: ("idle between requests", "the client kept the connection open without asking",
           "the clients kept their connections open without asking"),
}  # fmt: skip


def _dominant(conn: ConnectionPhases) -> str | None:
    for phase in CONNECTION_PHASES:
        if conn.share(phase) >= MOST:
            return phase
    return None


def _name(conn: ConnectionPhases) -> str:
    commands = [r.cmd for r in conn.requests if r.cmd]
    what = f", {', '.join(commands[:3])}{' ...' if len(commands) > 3 else ''}" if commands else ""
    return f"connection {conn.conn} ({conn.peer or 'peer unknown'}{what})"


def trace_findings(analysis: TraceAnalysis) -> list[str]:
    """The findings of a trace, most telling first."""
    conns = analysis.served
    out: list[str] = []
    if not conns:
        refused = len(analysis.connections)
        return [f"No connection was served: {refused} refused at the connection cap."
                if refused else "The trace holds no connection."]  # fmt: skip
    longest = max(c.total_s for c in conns)
    groups: dict[str, list[ConnectionPhases]] = {}
    for conn in conns:
        phase = _dominant(conn)
        if phase is not None and conn.total_s >= NOTABLE * longest and conn.total_s > 0:
            groups.setdefault(phase, []).append(conn)
    order = (CLIENT_READING, CLIENT_SENDING, QUEUED, WAITING_TO_CONNECT, SERVED, IDLE)
    for phase in order:
        out += _told(phase, groups.get(phase, []), len(conns))
    out.append(_overall(analysis, conns))
    out += _preemptions(conns)
    out += _endings(analysis, conns)
    return out


#: For whom the schedule let go of a connection, by ``Preemption``.
_FOR: dict[str, str] = {
    Preemption.SHORTER: "for a request with less service",
    Preemption.EARLIER: "for a long transfer that came first",
    Preemption.TURN: "for any other in turn (round robin)",
}


def _preemptions(conns: Sequence[ConnectionPhases]) -> list[str]:
    """How often the schedule took a worker from a connection whose bytes still moved,
    and for whom (docs/architecture.md, "Scheduling")."""
    reasons = Counter(why for conn in conns for _, why in conn.preempted)
    if not reasons:
        return []
    total = sum(reasons.values())
    hit = sum(1 for c in conns if c.preempted)
    parts = [f"{n} {_FOR.get(why, why)}" for why, n in reasons.most_common()]
    return [f"A worker let go of {hit} of {len(conns)} connections while their bytes still "
            f"moved, {total} time{'s' if total != 1 else ''} ({', '.join(parts)}): the "
            "schedule preempted them."]  # fmt: skip


def _told(phase: str, group: Sequence[ConnectionPhases], count: int) -> list[str]:
    if not group:
        return []
    doing, why_one, why_many = _READING[phase]
    ranked = sorted(group, key=lambda c: -c.share(phase) * c.total_s)
    if len(group) <= ONE_BY_ONE and phase not in (SERVED, IDLE):
        # Told one by one: a connection held back by someone. Served or idle ones are
        # told as a group: nobody held them.
        return [
            f"C{_name(c)[1:]} spent {c.share(phase):.0%} of its "
            f"{seconds_text(c.total_s)} {doing}: {why_one}."
            for c in ranked
        ]
    shares = [c.share(phase) for c in group]
    top = ranked[0]
    doing_many = doing.replace("its answer", "their answers").replace(
        "its request", "their requests"
    )
    if len(group) == 1:
        return [f"C{_name(top)[1:]} spent {top.share(phase):.0%} of its "
                f"{seconds_text(top.total_s)} {doing}: {why_one}."]  # fmt: skip
    return [
        f"{len(group)} of the {count} connections spent most of their time {doing_many} "
        f"(from {min(shares):.0%} to {max(shares):.0%}; the longest: {_name(top)}, "
        f"{top.share(phase):.0%} of its {seconds_text(top.total_s)}): {why_many}."
    ]


def _overall(analysis: TraceAnalysis, conns: Sequence[ConnectionPhases]) -> str:
    totals = analysis.totals()
    whole = sum(totals.values())
    parts = [
        f"{seconds / whole:.0%} {phase}"
        for phase, seconds in sorted(totals.items(), key=lambda kv: -kv[1])
        if whole > 0 and seconds / whole >= 0.005
    ]
    requests = sum(len(c.requests) for c in conns)
    return (
        f"In all, {len(conns)} connection{'s' if len(conns) != 1 else ''} ({requests} "
        f"request{'s' if requests != 1 else ''}) were open {seconds_text(whole)} together: "
        + ", ".join(parts)
        + "."
    )


def _endings(analysis: TraceAnalysis, conns: Sequence[ConnectionPhases]) -> list[str]:
    out = []
    refused = len(analysis.connections) - len(conns)
    if refused:
        out.append(f"{refused} connection(s) were refused at the connection cap.")
    deadlines: dict[str, int] = {}
    for conn in conns:
        if conn.deadline:
            deadlines[conn.deadline] = deadlines.get(conn.deadline, 0) + 1
    if deadlines:
        told = ", ".join(f"{n} by the {d} deadline" for d, n in sorted(deadlines.items()))
        out.append(f"Closed by a deadline: {told}.")
    still = sum(1 for c in conns if c.open)
    if still:
        out.append(
            f"{still} connection(s) were still open where the trace ends (the server was "
            "stopped, or is still running): counted to the trace's last event."
        )
    return out

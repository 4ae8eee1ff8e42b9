"""Queued or served: what share of the clients' time went to each phase of their
connections (:mod:`fileproto.report.phases`), from the timelines joined with the
server's events."""

from __future__ import annotations

from collections.abc import Sequence

from fileproto.report.cases import Case
from fileproto.report.findings.index import Index
from fileproto.report.findings.topics import Finding
from fileproto.report.findings.words import workers as workers_text
from fileproto.report.order import operation_rank
from fileproto.report.phases import (
    QUEUED,
    REFUSED,
    SERVED,
    SERVER_PHASES,
    UNSPLIT,
    WAITING_ON_CLIENT,
    WAITING_TO_CONNECT,
)


def phase_seconds(case: Case) -> dict[str, float] | None:
    """Seconds per phase, summed over the clients' requests (server phases when the
    server's events are joined, else the client's own); None without a timeline."""
    if not case.requests:
        return None
    joined = case.conn_events()
    totals: dict[str, float] = {}
    for request in case.requests:
        events = joined.get(request.port) if request.port is not None else None
        for segment in case.segments(request, events):
            totals[segment.phase] = totals.get(segment.phase, 0.0) + (segment.end - segment.start)
    return totals


def phase_shares(case: Case) -> dict[str, float] | None:
    """Share of the clients' summed time per phase; None without a timeline."""
    totals = phase_seconds(case)
    whole = sum(totals.values()) if totals else 0.0
    return {k: v / whole for k, v in totals.items()} if totals and whole > 0 else None


def queued(index: Index, cases: Sequence[Case]) -> list[Finding]:
    with_timeline = [c for c in cases if c.requests]
    if not with_timeline:
        return [
            Finding(
                "queued",
                f"No timelines in this run (0 of {len(cases)} cases recorded one): how "
                "much of a client's time was spent queued rather than served is not known.",
            )
        ]
    traced = [c for c in with_timeline if c.server_events]
    out = []
    if not traced:
        told = any(r.tcp is not None for c in with_timeline for r in c.requests)
        out.append(
            Finding(
                "queued",
                f"The server's events were not recorded (0 of {len(with_timeline)} cases "
                "with a timeline have them: a server of someone else's, or tracing off): "
                "queued and served time cannot be told apart; the timelines show the "
                "clients' own phases"
                + (", split by what TCP told them (From the client's side)." if told else "."),
            )
        )
        return out
    top = max(c.result.client_workers for c in traced)
    # Per operation: uploads and downloads spend their time differently (a download
    # waits on a client that reads slowly, an upload mostly is served), so a mean over
    # both would describe neither.
    groups: dict[tuple[str, str, int | str], list[dict[str, float]]] = {}
    for case in traced:
        if case.result.client_workers != top:
            continue
        shares = phase_shares(case)
        if shares:
            key = (index.model(case), case.result.operation, case.result.server_workers)
            groups.setdefault(key, []).append(shares)
    for (model, op, workers), found in sorted(
        groups.items(), key=lambda kv: (index.models.index(kv[0][0])
                                        if kv[0][0] in index.models else 99,
                                        operation_rank(kv[0][1]), str(kv[0][2]))
    ):  # fmt: skip
        mean = {p: sum(s.get(p, 0.0) for s in found) / len(found) for p in SERVER_PHASES}
        n = len(found)
        parts = [
            f"{mean[QUEUED]:.0%} of the clients' time was spent queued for a worker",
            f"{mean[SERVED]:.0%} being served",
            f"{mean[WAITING_ON_CLIENT]:.0%} waiting on the client (given back mid-request "
            "or mid-response until its bytes came or it took more of the answer)",
            f"{mean[WAITING_TO_CONNECT]:.0%} waiting to be accepted",
        ]
        if mean[UNSPLIT]:
            parts.append(
                f"{mean[UNSPLIT]:.0%} given back until a worker took the connection again "
                "(a trace without 'ready' events: waiting on the client and in the queue "
                "are not told apart there)"
            )
        if mean[REFUSED]:
            parts.append(f"{mean[REFUSED]:.0%} refused at the connection cap")
        out.append(
            Finding(
                "queued",
                f"{model}, {op}, {top} clients on {workers_text(workers)}: "
                + ", ".join(parts)
                + f" (mean over {n} case{'' if n == 1 else 's'}, from the server's events).",
            )
        )
    return out

"""Anybody's server explained from our client's side: a request's phases as the client
saw them, split by what TCP told it (``tcp`` of a timeline entry, docs/trace.md).

The client reads the kernel's account of its connection (Linux ``TCP_INFO``) when a
request begins, when it has written the last byte and at the answer's first byte. So:

- of the time *sending*, how long the server's receive window was closed
  (``rwnd_limited``): the server was not reading, and TCP held the client back. The
  kernel counts it, it does not say when: the timeline draws it at the end of the
  sending, where a server that reads slowly holds the client once its buffers are full;
- of the wait from the last byte written to the answer, how long the request had not
  all reached the server (``busy``: data of ours not yet acknowledged; the client's
  send buffer still held it). The rest is the server's, once it had the whole request:
  queued or working, which the client cannot tell apart;
- receiving, as the client saw it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from fileproto.report.cases import Case
from fileproto.report.order import model_name
from fileproto.report.phases import HELD_BACK, REACHING, client_segments
from fileproto.report.seconds import seconds_text
from fileproto.units import MIB

_SENDING, _WAITING = "sending", "waiting for first byte"


@dataclass(frozen=True)
class Mirror:
    """A case's requests on average, seconds, from the client's side."""

    requests: int
    total: float
    connecting: float
    sending: float
    held: float
    waiting: float
    reaching: float
    receiving: float
    #: Bytes of the request not yet taken by the server when the client wrote the last.
    unsent: float = 0.0


def mirror_of(case: Case) -> Mirror | None:
    """The means over the case's completed requests that TCP told about; None if none."""
    told = [r for r in case.requests if r.ok and r.tcp is not None and r.tcp.sending is not None]
    if not told:
        return None
    sums = [0.0] * 8
    for request in told:
        phases = {p: e - s for p, s, e in request.client_phases()}
        held = sum(s.end - s.start for s in client_segments(request) if s.phase == HELD_BACK)
        reaching = sum(s.end - s.start for s in client_segments(request) if s.phase == REACHING)
        unsent = request.tcp.unsent_at_sent if request.tcp is not None else None
        figures = (request.end - request.connect, phases.get("connecting", 0.0),
                   phases.get(_SENDING, 0.0), held, phases.get(_WAITING, 0.0), reaching,
                   phases.get("receiving", 0.0), float(unsent or 0))  # fmt: skip
        sums = [a + b for a, b in zip(sums, figures, strict=True)]
    n = len(told)
    return Mirror(n, *(s / n for s in sums))


def mirror_text(case: Case, mirror: Mirror, named: bool = False) -> str:
    """The case's requests in words: where the time went, and what it says; ``named``:
    with the server's model and workers (a run of several)."""
    r = case.result
    total = mirror.total or 1.0
    held_share = mirror.held / mirror.sending if mirror.sending > 0 else 0.0
    server_wait = mirror.waiting - mirror.reaching
    parts = (
        [f"{seconds_text(mirror.connecting)} connecting"]
        if mirror.connecting >= 0.05 * total
        else []
    )
    parts.append(
        f"{seconds_text(mirror.sending)} sending"
        + (f", {held_share:.0%} of it with the server's receive window closed (the server "
           "was not reading: TCP held the client back)" if mirror.held >= 0.01 else "")
    )  # fmt: skip
    wait = f"{seconds_text(mirror.waiting)} from the last byte written to the answer"
    if mirror.reaching >= 0.01:
        unsent = f" ({mirror.unsent / MIB:.1f} MiB of it when the client wrote the last)"
        wait += (f", the first {seconds_text(mirror.reaching)} of it with the request's end "
                 f"still in the client's send buffer{unsent if mirror.unsent else ''}, not "
                 "yet taken by the server")  # fmt: skip
    parts += [wait, f"{seconds_text(mirror.receiving)} receiving"]
    server = f", {_server_text(case)}" if named else ""
    text = (
        f"{r.operation} {r.size_mib:g} MiB, {r.client_workers} client"
        f"{'' if r.client_workers == 1 else 's'}{server}: a request took "
        f"{seconds_text(mirror.total)} on average ({mirror.requests} told by TCP): "
        + "; ".join(parts)
    )
    return f"{text}. {_verdict(mirror, server_wait, total)}"


def _verdict(mirror: Mirror, server_wait: float, total: float) -> str:
    if mirror.held + mirror.reaching >= 0.5 * total:
        # Held back while sending, or the request's end still in our buffers after it
        # was written: either way the server did not take it as fast as it came.
        return "The server reads slowly."
    if server_wait >= 0.5 * total:
        return ("The server took its time to answer once it had the whole request: queued "
                "behind other clients or working (from the client's side the two cannot be "
                "told apart).")  # fmt: skip
    if mirror.receiving >= 0.5 * total:
        return "The answer came slowly: the server sends slowly, or the client read slowly."
    if mirror.connecting >= 0.5 * total:
        return "Connecting took most of it: the server was slow to accept."
    return "No one phase took most of it."


def mirror_findings(cases: Sequence[Case]) -> list[str]:
    """One sentence per case without the server's events whose requests TCP told
    about, in the run's order (a traced server's own account is
    :mod:`.findings.queued`'s)."""
    named = len({_server_text(c) for c in cases}) > 1
    out = []
    for case in cases:
        mirror = None if case.server_events else mirror_of(case)
        if mirror is not None:
            out.append(mirror_text(case, mirror, named))
    return out


def _server_text(case: Case) -> str:
    r = case.result
    model, workers = model_name(r.server_kind, r.dispatch), r.server_workers
    if not isinstance(workers, int):  # a server of someone else's: its workers unknown
        return model
    return f"{model} on {workers} worker{'' if workers == 1 else 's'}"

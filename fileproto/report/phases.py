"""A client request's time split into phases, from the client's own marks or, with the
server's events of its connection (docs/trace.md), by what the server did with it.

The server's events split a request into: waiting to be accepted (until ``accepted``),
queued for a worker (until ``taken``), being served (until ``given_back``, or to the
end), and, after a worker gave the connection back mid-request or mid-response, waiting
on the client (its bytes, or room to send) until ``ready``, then queued for a worker
again until the next ``taken``. A trace written before servers had ``ready`` cannot
tell those two apart: that stretch is one phase, :data:`UNSPLIT`. A connection refused
at the cap waits to be accepted until ``refused``, then gets its refusal.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from fileproto.report.requests import Request
from fileproto.trace import Ev, ServerEvent, Why

#: What TCP tells the client splits two of them (:mod:`.mirror`): the part of sending
#: during which the server's receive window was closed, and the part of the wait for
#: the answer during which the request had not all reached the server yet.
HELD_BACK = "sending, held back: the server not reading"
REACHING = "waiting, the request still reaching the server"
MIRROR_PHASES = ("connecting", "sending", HELD_BACK, REACHING, "waiting for first byte",
                 "receiving")  # fmt: skip
#: Phases once the server's events are joined in.
WAITING_TO_CONNECT = "waiting to be accepted"
QUEUED = "queued for a worker"
SERVED = "being served"
#: Given back mid-request or mid-response, until ``ready``: the client's bytes came, or
#: it took some of the answer (room to send).
WAITING_ON_CLIENT = "waiting on the client"
#: Given back until taken again, in a trace without ``ready``: waiting on the client's
#: bytes, then for a worker, as one phase.
UNSPLIT = "given back: the client, then the queue"
#: Refused at the connection cap: the server's refusal on its way, then closed.
REFUSED = "refused at the cap"
#: A server trace read on its own (:mod:`.connections`) splits "waiting on the client"
#: by what the client was to do, and tells the time between requests apart.
CLIENT_SENDING = "waiting for the client to send"
CLIENT_READING = "waiting for the client to read"
IDLE = "idle between requests"
#: Every server phase, in the order the timeline's legend lists them.
SERVER_PHASES = (WAITING_TO_CONNECT, QUEUED, SERVED, WAITING_ON_CLIENT, UNSPLIT, REFUSED)
#: The phases every traced timeline shows in its legend; the others only where present.
MAIN_SERVER_PHASES = (WAITING_TO_CONNECT, QUEUED, SERVED, WAITING_ON_CLIENT)

#: The events that change a connection's phase.
_PHASE_EVENTS = (Ev.TAKEN, Ev.GIVEN_BACK, Ev.READY, Ev.RESPONSE, Ev.CLOSED, Ev.REFUSED)


@dataclass(frozen=True)
class Segment:
    """A stretch of one request's time in one phase; ``worker`` while being served."""

    phase: str
    start: float
    end: float
    worker: str | None = None


def give_back_end(events: Sequence[ServerEvent], i: int) -> str | None:
    """What ends the wait of a connection given back at ``events[i]``: "ready" (the
    client moved: from there it waits for a worker), "taken" with no ``ready`` before
    it (a trace from before servers wrote it, or bytes already buffered: the wait
    cannot be split), "closed", or None (the events end first)."""
    for later in events[i + 1 :]:
        if later.ev in (Ev.READY, Ev.TAKEN, Ev.CLOSED):
            return later.ev
    return None


def _after_give_back(events: Sequence[ServerEvent], i: int, request_start: float) -> str:
    """The phase a connection enters when a worker gives it back (``events[i]``)."""
    given = events[i]
    if given.extra.get("why") == Why.IDLE:
        # Between requests. One given back before this request began was waiting for
        # it; from the request's start the server reads its header and queues it (no
        # event marks the header's arrival), as after ``accepted``.
        return QUEUED if given.at < request_start else WAITING_ON_CLIENT
    return UNSPLIT if give_back_end(events, i) == Ev.TAKEN else WAITING_ON_CLIENT


def server_segments(request: Request, events: Sequence[ServerEvent]) -> list[Segment]:
    """The request's phases from the server's events of its connection (time order)."""
    end = request.end
    accepted = next((e.at for e in events if e.ev in (Ev.ACCEPTED, Ev.REFUSED)), None)
    out: list[Segment] = []
    cursor = request.connect
    if accepted is not None:
        out.append(Segment(WAITING_TO_CONNECT, cursor, max(cursor, accepted)))
        cursor = max(cursor, accepted)
    # What the connection is doing from `cursor` on, until the next event changes it.
    phase, worker = QUEUED, None
    for i, event in enumerate(events):
        if event.ev not in _PHASE_EVENTS:
            continue
        at = min(max(event.at, cursor), max(end, cursor))
        if at > cursor:
            out.append(Segment(phase, cursor, at, worker))
        cursor = at
        if event.ev == Ev.TAKEN:
            phase, worker = SERVED, event.worker
        elif event.ev == Ev.GIVEN_BACK:
            phase, worker = _after_give_back(events, i, request.connect), None
        elif event.ev == Ev.READY and phase == WAITING_ON_CLIENT:
            phase = QUEUED
        elif event.ev == Ev.REFUSED:
            phase, worker = REFUSED, None
        elif event.ev == Ev.CLOSED:
            break
        # After "response" the worker still holds the connection (it reads the next
        # request, or closes it), so the phase stays as it was.
    if end > cursor:
        # The answer's last bytes on their way to the client.
        out.append(Segment(phase, cursor, end, worker))
    return out


def client_segments(request: Request) -> list[Segment]:
    """The request's phases on the client's side, split by what TCP told it (the
    client's own phases when it told nothing; :mod:`.mirror`): of the sending, the
    server's closed receive window, drawn at its end (the kernel counts it, it does not
    say when); of the wait for the answer, the request still reaching the server."""
    tcp = request.tcp
    out = []
    for phase, start, end in request.client_phases():
        length = end - start
        if phase == "sending" and tcp is not None and tcp.sending is not None:
            held = min(length, tcp.sending.rwnd_limited_s)
            out += [Segment(phase, start, end - held), Segment(HELD_BACK, end - held, end)]
        elif phase == "waiting for first byte" and tcp is not None and tcp.waiting is not None:
            reaching = min(length, tcp.waiting.busy_s)
            out += [Segment(REACHING, start, start + reaching),
                    Segment(phase, start + reaching, end)]  # fmt: skip
        else:
            out.append(Segment(phase, start, end))
    return [s for s in out if s.end > s.start or s.phase not in (HELD_BACK, REACHING)]

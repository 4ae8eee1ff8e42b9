"""What a client felt of one request: its time to first byte and total, and when each
of its steps happened (the client's side of a timeline, docs/trace.md)."""

from __future__ import annotations

from dataclasses import dataclass

from fileproto.tcpinfo import Stalls


@dataclass(frozen=True)
class Timing:
    """What a client felt of one request: seconds from its first byte sent to the
    first byte of the answer (time to first byte), and to the answer's end."""

    ttfb: float
    total: float


@dataclass
class Phases:
    """When one request's steps happened, in time.monotonic() seconds (docs/trace.md):
    connecting began (for a kept connection: the request began), connected, request
    fully sent, first byte of the answer, done (the answer's end, or the error). None:
    not reached. ``port`` is the client's local TCP port, as the server sees it.

    What TCP tells the sender (Linux, fileproto/tcpinfo.py), read at the request's
    start, when it was sent and at the answer's first byte: ``sending``, while the
    request was sent, and ``waiting``, from then to the answer; ``unsent_at_sent``, the
    bytes of the request the server had not yet taken when the client had written the
    last. None: not known."""

    connect: float
    connected: float | None = None
    sent: float | None = None
    first_byte: float | None = None
    done: float | None = None
    port: int | None = None
    sending: Stalls | None = None
    waiting: Stalls | None = None
    unsent_at_sent: int | None = None

"""What a client felt of one request: its time to first byte and total, and the marks
between its phases (the client's side of a timeline, docs/trace.md)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Timing:
    """What a client felt of one request: seconds from its first byte sent to the
    first byte of the answer (time to first byte), and to the answer's end."""

    ttfb: float
    total: float


@dataclass
class Marks:
    """When one request reached each mark between its phases, in time.monotonic()
    seconds (docs/trace.md): connecting began (for a kept connection: the request
    began), connected, request fully sent, first byte of the answer, done (the answer's
    end, or the error). None: not reached. ``port`` is the client's local TCP port, as
    the server sees it."""

    connect: float
    connected: float | None = None
    sent: float | None = None
    first_byte: float | None = None
    done: float | None = None
    port: int | None = None

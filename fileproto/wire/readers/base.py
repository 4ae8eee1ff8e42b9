"""What every request reader shares: the parser state, the receive buffer, the results a
reader returns, and the one error exit (``Rejected``)."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Protocol

from fileproto.wire.events import NEED_DATA, Command, Event, NeedData

WHITESPACE = b" \t\r\n"

_PARAM_NAMES: dict[Command, tuple[str, ...]] = {
    "LIST": (),
    "GET": ("name",),
    "DELETE": ("name",),
    "UPLOAD": ("name", "base64 content"),
}


class ParserState(enum.Enum):
    """Where the client's side of the connection is, as ``RequestParser.state``.

    IDLE: between requests; nothing of the next one has arrived (whitespace aside).
    HEADER: a request has begun and no payload is streaming: the text dialect's command
    and name, a JSON envelope before its payload string (or one with none), or the
    terminator after a JSON object.
    PAYLOAD: from RequestStarted on: the text payload up to its terminator, or the JSON
    payload string and the rest of its object up to the closing brace.
    SKIP: the rest of a refused request is being discarded up to its terminator.
    CLOSED: no request will follow: the peer closed, or the framing is lost (a fatal
    RequestError, see ``Rejected``).
    """

    IDLE = "idle"
    HEADER = "header"
    PAYLOAD = "payload"
    SKIP = "skip"
    CLOSED = "closed"


class ReceiveBuffer:
    """The bytes received and not yet parsed, with the reading position in them.

    The last piece received is kept as it came, not copied into a growing buffer; the
    few bytes a reader left unread are joined to the next piece. Pickles as its unread
    part only.
    """

    __slots__ = ("data", "eof", "pos")

    def __init__(self) -> None:
        self.data = b""
        self.pos = 0
        self.eof = False

    def feed(self, data: bytes) -> None:
        if not data:
            self.eof = True
            return
        if self.pos < len(self.data):
            # Leftover is a few held-back bytes (a split escape or terminator) or the
            # start of a pipelined request; joining copies only in those cases.
            self.data = self.data[self.pos :] + data
        else:
            self.data = data
        self.pos = 0

    @property
    def unread(self) -> int:
        return len(self.data) - self.pos

    def release_if_read(self) -> None:
        """All read: let go of the last piece, so that a waiting connection holds none."""
        if self.pos >= len(self.data):
            self.data, self.pos = b"", 0

    def __getstate__(self) -> tuple[bytes, bool]:
        return self.data[self.pos :], self.eof

    def __setstate__(self, state: tuple[bytes, bool]) -> None:
        self.data, self.eof = state
        self.pos = 0


class Reader(Protocol):
    """One phase of one dialect. Called with the buffer, a reader consumes what it can
    and returns an event to hand out, a ``Next``, or None ("call me again"); it raises
    ``Rejected`` when the request is bad. Readers hold only small, picklable state."""

    @property
    def state(self) -> ParserState: ...

    def __call__(self, buf: ReceiveBuffer) -> Step: ...


@dataclass(frozen=True, slots=True)
class Next:
    """A reader's result when the reader changes or two events are due at once.

    ``reader`` carries the request on; None means the request is over and the parser is
    idle again. ``event`` is handed out now (None: read on), ``then`` on the next call.
    """

    reader: Reader | None
    event: Event | None = None
    then: Event | None = None


Step = Event | Next | None


class RequestEnd(enum.Enum):
    """Where the end of a rejected request lies, which decides what follows it."""

    PASSED = "passed"  # its terminator has been read: the next request may begin
    AHEAD = "ahead"  # its terminator is still to come: skip to it
    UNKNOWN = "unknown"  # it can no longer be found: the connection must close


class Rejected(Exception):
    """The one error exit of every reader: the current request is bad.

    The parser turns it into one ``RequestError(message, fatal)`` and goes on according
    to ``end``; this is the whole rule.

    An error is fatal (``RequestEnd.UNKNOWN``: the parser goes to CLOSED, every later
    call returns Closed) exactly when the end of the request can no longer be found,
    so no next request could be told apart:

    - the peer closed before the request's terminator; or
    - the header passed ``max_header`` bytes without a terminator (JSON skeleton, text
      head, whitespace): looking for its end would mean reading without bound, and
      docs/protocol.md 2.6 lets the server answer and close instead.

    Every other error leaves the framing intact and the connection usable
    (docs/protocol.md 8.3):

    - ``PASSED``: the error was found at the terminator (malformed or incomplete JSON,
      a wrong parameter count, bad base64 at the end of a text payload): the parser is
      IDLE at once;
    - ``AHEAD``: it was found before (bad base64 or a bad escape mid-payload, data after
      the JSON object, an unknown text command): the parser goes to SKIP from the
      buffer's position, ``matched`` bytes of the terminator already seen, and
      discards the rest of the request without decoding or keeping it.
    """

    def __init__(self, message: str, end: RequestEnd, matched: int = 0) -> None:
        super().__init__(message)
        self.message = message
        self.end = end
        self.matched = matched


def header_too_large(limit: int) -> Rejected:
    return Rejected(
        f"request header too large: no end of request within {limit} bytes", RequestEnd.UNKNOWN
    )


def need_data(buf: ReceiveBuffer) -> NeedData:
    """NEED_DATA, or the fatal error if no more data will come."""
    if buf.eof:
        raise Rejected("connection closed before the end of the request", RequestEnd.UNKNOWN)
    return NEED_DATA


def check_params(command: Command, count: int, word: str) -> None:
    """The parameter count of a complete request (so its end has been read)."""
    wanted = _PARAM_NAMES[command]
    if count == len(wanted):
        return
    if wanted:
        what = " and ".join(wanted)
        message = f"{word} takes {len(wanted)} parameter(s): {what}; got {count}"
    else:
        message = f"{word} takes no parameters; got {count}"
    raise Rejected(message, RequestEnd.PASSED)

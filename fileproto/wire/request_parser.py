"""The server side of the protocol: bytes in, request events out (h11 style).

The driver calls ``receive_data`` with what arrived (``b""`` at end of stream) and then
``next_event`` until it returns NEED_DATA. Work happens lazily in ``next_event``, so a
driver that calls ``skip_request`` (say, an upload over its size limit) stops all
decoding at once.

The parsing itself is done by small readers, one per dialect and phase
(``fileproto.wire.readers``); this class only keeps the current one, hands out the
events and applies the one error rule (``fileproto.wire.readers.Rejected``).
"""

from __future__ import annotations

from fileproto.wire.events import NEED_DATA, Event, RequestError
from fileproto.wire.readers import (
    ClosedReader,
    IdleReader,
    Next,
    ParserState,
    Reader,
    ReceiveBuffer,
    Rejected,
    RequestEnd,
    SkipReader,
)

__all__ = ["DEFAULT_MAX_HEADER", "ParserState", "RequestParser"]

DEFAULT_MAX_HEADER = 64 * 1024


class RequestParser:
    """Parses the requests of one connection.

    Picklable at any point, so that another process can carry on with a half-parsed
    request: what goes along is the unread bytes, an event not yet handed out (the bulk
    of a decoded piece, right after its first bytes) and the reader's small state;
    nothing already parsed.
    """

    def __init__(self, max_header: int = DEFAULT_MAX_HEADER) -> None:
        self._max_header = max_header
        self._buffer = ReceiveBuffer()
        self._reader: Reader = IdleReader(max_header)
        self._pending: Event | None = None  # the second of two events due at once

    # -- driver API -------------------------------------------------------------------

    @property
    def max_header(self) -> int:
        """The header limit, fixed at construction (docs/protocol.md 2.6)."""
        return self._max_header

    def receive_data(self, data: bytes) -> None:
        self._buffer.feed(data)

    @property
    def state(self) -> ParserState:
        """Where the connection's incoming side is: see ``ParserState``."""
        return self._reader.state

    @property
    def buffered(self) -> int:
        """Bytes received and not yet parsed (a pipelined request, say)."""
        return self._buffer.unread

    @property
    def in_payload(self) -> bool:
        """True while payload bytes are arriving: drivers use it to tell a slow upload
        from a client that dribbles its header."""
        return self._reader.state is ParserState.PAYLOAD

    @property
    def held(self) -> int:
        """Bytes of received data the parser still holds, parsed or not: a connection
        that waits between requests holds none (its last receive buffer is let go)."""
        return len(self._buffer.data)

    def skip_request(self) -> None:
        """Discard the rest of the current request without further events.

        For a driver that has already answered it (an upload over its size limit, say):
        the payload is neither decoded nor kept, and parsing resumes after its end.
        """
        if self._reader.state in (ParserState.HEADER, ParserState.PAYLOAD):
            self._reader = SkipReader()

    def next_event(self) -> Event:
        if self._pending is not None:
            pending, self._pending = self._pending, None
            return pending
        buf = self._buffer
        while True:
            try:
                result = self._reader(buf)
            except Rejected as rejected:
                return self._reject(rejected)
            if result is None:
                continue
            if isinstance(result, Next):
                reader = result.reader
                self._reader = reader if reader is not None else IdleReader(self._max_header)
                self._pending = result.then
                if result.event is None:
                    continue
                return result.event
            if result is NEED_DATA:
                buf.release_if_read()
            return result

    # -- the error exit ---------------------------------------------------------------

    def _reject(self, rejected: Rejected) -> RequestError:
        """Answer a bad request and go on as ``Rejected`` says: the rule lives there."""
        if rejected.end is RequestEnd.UNKNOWN:
            self._reader = ClosedReader()
            return RequestError(rejected.message, fatal=True)
        if rejected.end is RequestEnd.AHEAD:
            self._reader = SkipReader(rejected.matched)
        else:
            self._reader = IdleReader(self._max_header)
        return RequestError(rejected.message)

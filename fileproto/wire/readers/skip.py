"""The readers of a request being discarded and of a connection that is over."""

from __future__ import annotations

from fileproto.wire.events import NEED_DATA, Closed
from fileproto.wire.readers.base import Next, ParserState, ReceiveBuffer, Step
from fileproto.wire.terminator import find_end


class SkipReader:
    """Discards everything up to the next terminator, each byte looked at once.

    ``matched`` is how much of the terminator has been seen, across pieces.
    """

    __slots__ = ("matched",)
    state = ParserState.SKIP

    def __init__(self, matched: int = 0) -> None:
        self.matched = matched

    def __call__(self, buf: ReceiveBuffer) -> Step:
        end, self.matched = find_end(buf.data, buf.pos, self.matched)
        if end < 0:
            buf.pos = len(buf.data)
            if buf.eof:
                # The request was answered already: the peer leaving is no error.
                return Next(ClosedReader(), Closed())
            return NEED_DATA
        buf.pos = end
        return Next(None)


class ClosedReader:
    """No request follows: every call says so."""

    __slots__ = ()
    state = ParserState.CLOSED

    def __call__(self, buf: ReceiveBuffer) -> Step:
        return Closed()

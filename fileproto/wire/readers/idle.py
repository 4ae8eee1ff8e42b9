"""The reader between requests: skips whitespace and tells the dialect (docs/protocol.md 2.2)."""

from __future__ import annotations

from fileproto.wire.events import NEED_DATA, Closed
from fileproto.wire.readers.base import (
    WHITESPACE,
    Next,
    ParserState,
    ReceiveBuffer,
    Step,
    header_too_large,
)
from fileproto.wire.readers.envelope import JsonEnvelopeReader
from fileproto.wire.readers.skip import ClosedReader
from fileproto.wire.readers.text import TextHeadReader


class IdleReader:
    """Whitespace, then ``{`` for the JSON envelope and anything else for the text dialect.

    ``blank`` counts the whitespace of the current piece against the header limit;
    whitespace of earlier pieces is not held anywhere, so it does not count.
    """

    __slots__ = ("blank", "limit")
    state = ParserState.IDLE

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.blank = 0

    def __call__(self, buf: ReceiveBuffer) -> Step:
        data, n, i = buf.data, len(buf.data), buf.pos
        while i < n and data[i] in WHITESPACE:
            i += 1
        self.blank += i - buf.pos
        buf.pos = i
        if self.blank > self.limit:
            raise header_too_large(self.limit)
        if i >= n:
            if buf.eof:
                return Next(ClosedReader(), Closed())
            self.blank = 0
            return NEED_DATA
        if data[i] == 0x7B:  # {
            return Next(JsonEnvelopeReader(self.limit, self.blank))
        return Next(TextHeadReader(self.limit))

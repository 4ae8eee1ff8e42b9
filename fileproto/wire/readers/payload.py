"""The payload decoding both dialects share: base64 in, Data events out."""

from __future__ import annotations

from fileproto.wire.b64 import Base64Error, Base64StreamDecoder
from fileproto.wire.events import Data
from fileproto.wire.readers.base import Next, Reader, ReceiveBuffer, Rejected, RequestEnd
from fileproto.wire.terminator import matched_suffix


class PayloadSink:
    """Decodes the payload text of one request, piece by piece, without joining pieces.

    ``tail`` keeps the last three bytes of payload text, so that a skip after bad base64
    knows how much of a terminator spanning two pieces it has already seen.
    """

    __slots__ = ("decoder", "tail")

    def __init__(self) -> None:
        self.decoder = Base64StreamDecoder()
        self.tail = b""

    @property
    def position(self) -> int:
        return self.decoder.position

    def matched(self) -> int:
        """How much of the terminator the payload text so far ends with."""
        return matched_suffix(self.tail)

    def feed(
        self, owner: Reader, piece: bytes | memoryview, buf: ReceiveBuffer, start: int
    ) -> Data | Next | None:
        """Decode one piece for ``owner``; its events, or None if it only filled the carry.

        ``start`` is where the piece began in the buffer: after bad base64 the search
        for the request's end resumes there, as the terminator may lie inside the piece.
        """
        try:
            head, body = self.decoder.decode_parts(piece)
        except Base64Error as exc:
            buf.pos = start
            raise Rejected(str(exc), RequestEnd.AHEAD, self.matched()) from None
        if len(piece) >= 3:
            self.tail = bytes(piece[-3:])
        else:
            self.tail = (self.tail + bytes(piece))[-3:]
        if head and body:
            # The quantum completed from the carry, then the bulk: two events, no join.
            return Next(owner, Data(head), Data(body))
        return Data(head or body) if head or body else None

    def finish(self, end: RequestEnd) -> bytes:
        """The end of the payload text; ``end`` says where the request's end then lies."""
        try:
            return self.decoder.finish()
        except Base64Error as exc:
            raise Rejected(str(exc), end, self.matched()) from None

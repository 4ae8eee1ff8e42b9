"""The readers of the text dialect (docs/protocol.md section 4).

``TextHeadReader`` reads the command and the name; for UPLOAD it hands over to
``TextPayloadReader`` at the separator after the name, which streams the payload up to
the terminator.
"""

from __future__ import annotations

from fileproto.wire.events import (
    NEED_DATA,
    Command,
    Data,
    EndOfRequest,
    Request,
    RequestStarted,
    canonical_command,
)
from fileproto.wire.readers.base import (
    WHITESPACE,
    Next,
    ParserState,
    ReceiveBuffer,
    Rejected,
    RequestEnd,
    Step,
    check_params,
    header_too_large,
    need_data,
)
from fileproto.wire.readers.payload import PayloadSink
from fileproto.wire.terminator import TERMINATOR, advance


class TextHeadReader:
    """The request up to its terminator, or for UPLOAD up to the end of the name.

    ``head`` holds the request's bytes so far (capped by the header limit); ``words``
    counts the tokens completed in it, ``word_start`` is where the current one began.
    """

    __slots__ = ("command", "head", "limit", "matched", "word_start", "words")
    state = ParserState.HEADER

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.head = bytearray()
        self.words = 0
        self.word_start: int | None = None
        self.command: Command | None = None
        self.matched = 0

    def __call__(self, buf: ReceiveBuffer) -> Step:
        data, n, i = buf.data, len(buf.data), buf.pos
        head = self.head
        while i < n:
            c = data[i]
            if c in WHITESPACE and self.word_start is not None:
                token = bytes(head[self.word_start :])
                if self.words == 1 and self.command == "UPLOAD":
                    # The name is complete: find where the payload begins.
                    if c == 0x0D and i + 3 >= n and not buf.eof:
                        buf.pos = i
                        return NEED_DATA
                    if data[i : i + 4] != TERMINATOR:
                        return self._payload_begins(buf, i, token)
                self.words += 1
                self.word_start = None
                if self.words == 1:
                    error = self._command(token)
                    if error is not None:
                        buf.pos = i
                        raise Rejected(error, RequestEnd.AHEAD)
            elif c not in WHITESPACE and self.word_start is None:
                self.word_start = len(head)
            head.append(c)
            self.matched = advance(self.matched, c)
            i += 1
            if self.matched == 4:
                buf.pos = i
                return Next(None, EndOfRequest(self._judge()))
            if len(head) > self.limit:
                buf.pos = i
                raise header_too_large(self.limit)
        buf.pos = i
        return need_data(buf)

    def _payload_begins(self, buf: ReceiveBuffer, i: int, token: bytes) -> Next:
        """At the separator after an UPLOAD's name (a space or a CRLF, docs/protocol.md 4.2)."""
        try:
            name = token.decode("utf-8")
        except UnicodeDecodeError:
            buf.pos = i
            raise Rejected("the file name is not valid UTF-8", RequestEnd.AHEAD) from None
        buf.pos = i + (2 if buf.data[i : i + 2] == b"\r\n" else 1)
        return Next(TextPayloadReader(name), RequestStarted("UPLOAD", name, "text"))

    def _command(self, token: bytes) -> str | None:
        """Note the first word's command; the error message if it is none."""
        try:
            word = token.decode("utf-8")
        except UnicodeDecodeError:
            return "the command is not valid UTF-8"
        self.command = canonical_command(word)
        if self.command is not None:
            return None
        if token[:1] in (b"[", b'"') or token.isdigit():
            return 'a JSON request must be an object: {"command": ..., "params": [...]}'
        return f"unknown command {word}"

    def _judge(self) -> Request:
        """The complete request, checked; its end has been read, so errors are PASSED."""
        tokens = bytes(self.head).split()
        if not tokens:
            raise Rejected("empty request", RequestEnd.PASSED)
        try:
            words = [t.decode("utf-8") for t in tokens]
        except UnicodeDecodeError:
            raise Rejected("the request is not valid UTF-8", RequestEnd.PASSED) from None
        command = canonical_command(words[0])
        if command is None:
            raise Rejected(f"unknown command {words[0]}", RequestEnd.PASSED)
        check_params(command, len(words) - 1, words[0])
        return Request(command, words[1] if len(words) > 1 else None, "text", False)


class TextPayloadReader:
    """An UPLOAD's payload, handed out in pieces up to the terminator.

    Base64 has no CR, so only a CR can end the payload: every piece runs up to the next
    one, found with one C-level search that never looks at a byte twice.
    """

    __slots__ = ("name", "payload")
    state = ParserState.PAYLOAD

    def __init__(self, name: str) -> None:
        self.name = name
        self.payload = PayloadSink()

    def __call__(self, buf: ReceiveBuffer) -> Step:
        data, n, pos = buf.data, len(buf.data), buf.pos
        if pos >= n:
            return need_data(buf)
        cr = data.find(b"\r", pos)
        if cr < 0 or cr > pos:
            end = n if cr < 0 else cr
            buf.pos = end
            return self.payload.feed(self, memoryview(data)[pos:end], buf, pos)
        if n - pos < 4 and not buf.eof:
            return NEED_DATA
        if data[pos : pos + 4] != TERMINATOR:
            raise Rejected(
                f"invalid base64 at byte {self.payload.position} (unexpected '\\r')",
                RequestEnd.AHEAD,
                self.payload.matched(),
            )
        buf.pos = pos + 4
        rest = self.payload.finish(RequestEnd.PASSED)
        end_event = EndOfRequest(Request("UPLOAD", self.name, "text", True))
        if rest:
            # Hand out the last bytes first; the end follows on the next call.
            return Next(None, Data(rest), end_event)
        return Next(None, end_event)

"""The readers of the JSON envelope dialect (docs/protocol.md section 3).

``JsonEnvelopeReader`` follows the object up to its closing brace, streaming the
payload string ``params[1]`` out as it comes; ``JsonEndReader`` reads the whitespace and
terminator after it and then judges the whole envelope from its small skeleton.
"""

from __future__ import annotations

import json

from fileproto.wire.events import (
    NEED_DATA,
    Data,
    EndOfRequest,
    Request,
    RequestStarted,
    canonical_command,
)
from fileproto.wire.jsonscan import JsonObjectScanner, Step
from fileproto.wire.readers.base import (
    WHITESPACE,
    Next,
    ParserState,
    ReceiveBuffer,
    Rejected,
    RequestEnd,
    check_params,
    header_too_large,
    need_data,
)
from fileproto.wire.readers.base import Step as ReaderStep
from fileproto.wire.readers.payload import PayloadSink
from fileproto.wire.terminator import advance

PAYLOAD_PATH = ("params", 1)


class JsonEnvelopeReader:
    """From the opening brace to the closing one.

    ``blank`` is the whitespace counted before the object (it counts against the header
    limit, with the whitespace after the object). ``payload`` exists from RequestStarted
    on, which is what makes the state PAYLOAD.
    """

    __slots__ = ("blank", "limit", "payload", "scanner")

    def __init__(self, limit: int, blank: int) -> None:
        self.limit = limit
        self.blank = blank
        self.scanner = JsonObjectScanner(PAYLOAD_PATH, limit)
        self.payload: PayloadSink | None = None

    @property
    def state(self) -> ParserState:
        return ParserState.HEADER if self.payload is None else ParserState.PAYLOAD

    def __call__(self, buf: ReceiveBuffer) -> ReaderStep:
        data = buf.data
        if buf.pos >= len(data):
            return need_data(buf)
        start = buf.pos
        pos, step, piece = self.scanner.step(data, start)
        buf.pos = pos
        if step is Step.STREAM_DATA:
            if self.payload is None:
                return None  # a payload where none belongs: skipped undecoded
            return self.payload.feed(self, piece, buf, start)
        if step is Step.NEED_MORE:
            return need_data(buf) if pos >= len(data) or buf.eof else NEED_DATA
        if step is Step.STREAM_START:
            return self._started()
        if step is Step.STREAM_END:
            if self.payload is not None:
                rest = self.payload.finish(RequestEnd.AHEAD)
                if rest:
                    return Data(rest)
            return None
        if step is Step.OBJECT_END:
            scanner = self.scanner
            return Next(JsonEndReader(self.limit, self.blank, scanner.skeleton, scanner.streamed))
        if step is Step.TERMINATED:
            raise Rejected(
                "incomplete JSON request: the request ended before its closing '}'",
                RequestEnd.PASSED,
            )
        if step is Step.TOO_LARGE:
            raise header_too_large(self.limit)
        matched = self.payload.matched() if self.payload is not None else 0
        raise Rejected(self.scanner.error or "malformed JSON request", RequestEnd.AHEAD, matched)

    def _started(self) -> RequestStarted | None:
        scanner = self.scanner
        word = scanner.string_at(("command",))
        command = canonical_command(word) if word is not None else None
        if word is not None and command != "UPLOAD":
            # Extra parameters on GET, DELETE, LIST or an unknown command: skip them
            # undecoded; the parameter count is what the error will be about.
            return None
        self.payload = PayloadSink()
        # Keys come in any order: the command may still be unknown here.
        return RequestStarted(command, scanner.string_at(("params", 0)), "json")


class JsonEndReader:
    """After the closing brace: only whitespace, up to the terminator."""

    __slots__ = ("blank", "limit", "matched", "skeleton", "streamed")
    state = ParserState.HEADER

    def __init__(self, limit: int, blank: int, skeleton: bytearray, streamed: bool) -> None:
        self.limit = limit
        self.blank = blank
        self.skeleton = skeleton
        self.streamed = streamed
        self.matched = 0

    def __call__(self, buf: ReceiveBuffer) -> ReaderStep:
        data, n, i = buf.data, len(buf.data), buf.pos
        while i < n:
            c = data[i]
            if c not in WHITESPACE:
                buf.pos = i
                # No part of a terminator is pending: the skip starts at this byte.
                raise Rejected("unexpected data after the JSON object", RequestEnd.AHEAD)
            self.matched = advance(self.matched, c)
            i += 1
            if self.matched == 4:
                buf.pos = i
                return Next(None, EndOfRequest(self._judge()))
        self.blank += i - buf.pos
        buf.pos = i
        if self.blank > self.limit:
            raise header_too_large(self.limit)
        return need_data(buf)

    def _judge(self) -> Request:
        """The complete envelope, checked; its end has been read, so errors are PASSED."""
        try:
            envelope = json.loads(self.skeleton, object_pairs_hook=_unique_keys)
        except ValueError as exc:
            raise _bad(f"malformed JSON request: {exc}") from None
        except RecursionError:
            raise _bad("malformed JSON request: nested too deeply") from None
        if not isinstance(envelope, dict):
            raise _bad("a JSON request must be an object")
        word = envelope.get("command")
        if not isinstance(word, str):
            raise _bad('the JSON request has no "command" string')
        command = canonical_command(word)
        if command is None:
            raise _bad(f"unknown command {word}")
        params = envelope.get("params", [])
        if not isinstance(params, list):
            raise _bad('"params" must be a list')
        check_params(command, len(params), word)
        name = params[0] if params else None
        if name is not None and not isinstance(name, str):
            raise _bad("the file name must be a string")
        if command == "UPLOAD" and not self.streamed:
            raise _bad("the base64 content must be a string")
        return Request(command, name, "json", self.streamed)


def _bad(message: str) -> Rejected:
    return Rejected(message, RequestEnd.PASSED)


def _unique_keys(pairs: list[tuple[str, object]]) -> dict[str, object]:
    # json.loads keeps the last of repeated keys, but the payload streamed before the
    # end was judged by the first: refuse the ambiguity instead of picking a side.
    result: dict[str, object] = {}
    for key, value in pairs:
        if key in result:
            raise _bad(f"the JSON request has the key {key!r} more than once")
        result[key] = value
    return result

"""The server side of the protocol: bytes in, request events out (h11 style).

The driver calls ``receive_data`` with what arrived (``b""`` at end of stream) and then
``next_event`` until it returns NEED_DATA. Work happens lazily in ``next_event``, so a
driver that calls ``skip_request`` (say, an upload over its size limit) stops all
decoding at once.
"""

from __future__ import annotations

import enum
import json
from collections.abc import Callable
from typing import Literal

from fileproto.wire.b64 import Base64Error, Base64StreamDecoder
from fileproto.wire.events import (
    NEED_DATA,
    Closed,
    Command,
    Data,
    Dialect,
    EndOfRequest,
    Event,
    Request,
    RequestError,
    RequestStarted,
    canonical_command,
)
from fileproto.wire.jsonscan import JsonObjectScanner, Step
from fileproto.wire.terminator import TERMINATOR, advance, find_end, matched_suffix

DEFAULT_MAX_HEADER = 64 * 1024
Phase = Literal["idle", "header", "payload", "skip"]
_WHITESPACE = b" \t\r\n"
_PAYLOAD_PATH = ("params", 1)
_PARAM_NAMES: dict[Command, tuple[str, ...]] = {
    "LIST": (),
    "GET": ("name",),
    "DELETE": ("name",),
    "UPLOAD": ("name", "base64 content"),
}


class _State(enum.Enum):
    IDLE = 1
    JSON = 2
    JSON_AFTER = 3
    TEXT_HEAD = 4
    TEXT_PAYLOAD = 5
    SKIP = 6
    CLOSED = 7


class _Bad(Exception):
    """Internal: a request-level error; the message goes to the client."""


def _unique_keys(pairs: list[tuple[str, object]]) -> dict[str, object]:
    # json.loads keeps the last of repeated keys, but the payload streamed before the
    # end was judged by the first: refuse the ambiguity instead of picking a side.
    result: dict[str, object] = {}
    for key, value in pairs:
        if key in result:
            raise _Bad(f"the JSON request has the key {key!r} more than once")
        result[key] = value
    return result


def _check_params(command: Command, count: int, word: str) -> None:
    wanted = _PARAM_NAMES[command]
    if count != len(wanted):
        if wanted:
            what = " and ".join(wanted)
            raise _Bad(f"{word} takes {len(wanted)} parameter(s): {what}; got {count}")
        raise _Bad(f"{word} takes no parameters; got {count}")


class RequestParser:
    def __init__(self, max_header: int = DEFAULT_MAX_HEADER) -> None:
        self.max_header = max_header
        self._data = b""
        self._pos = 0
        self._eof = False
        self._state = _State.IDLE
        self._header_bytes = 0
        self._term = 0  # partial terminator match (SKIP, JSON_AFTER, TEXT_HEAD)
        self._scanner: JsonObjectScanner | None = None
        self._decoder: Base64StreamDecoder | None = None
        self._tail = b""  # last payload bytes, to find a terminator that spans pieces
        self._pending: Event | None = None
        self._steps: dict[_State, Callable[[], Event | None]] = {
            _State.IDLE: self._idle,
            _State.JSON: self._json,
            _State.JSON_AFTER: self._json_after,
            _State.TEXT_HEAD: self._text_head,
            _State.TEXT_PAYLOAD: self._text_payload,
            _State.SKIP: self._skip,
        }
        # text dialect
        self._head = bytearray()
        self._tokens: list[bytes] = []
        self._token_start: int | None = None
        self._command: Command | None = None
        self._name: str | None = None

    # -- driver API -------------------------------------------------------------------

    def receive_data(self, data: bytes) -> None:
        if not data:
            self._eof = True
            return
        if self._pos < len(self._data):
            # Leftover is a few held-back bytes (a split escape or terminator) or the
            # start of a pipelined request; joining copies only in those cases.
            self._data = self._data[self._pos :] + data
        else:
            self._data = data
        self._pos = 0

    @property
    def phase(self) -> Phase:
        """Where the current request stands, for a driver's deadlines and dispatch.

        ``idle``: no byte of a request yet (buffered whitespace aside); ``header``: a
        request has begun but its command and name are not known; ``payload``: the
        payload is arriving; ``skip``: the rest of a bad request is being discarded.
        """
        state = self._state
        if state is _State.IDLE or state is _State.CLOSED:
            return "idle"
        if state is _State.SKIP:
            return "skip"
        return "payload" if self.in_payload else "header"

    @property
    def buffered(self) -> int:
        """Bytes received and not yet parsed (a pipelined request, say)."""
        return len(self._data) - self._pos

    @property
    def in_payload(self) -> bool:
        """True while payload bytes are arriving: drivers use it to tell a slow upload
        from a client that dribbles its header."""
        return self._state is _State.TEXT_PAYLOAD or (
            self._state is _State.JSON and self._decoder is not None
        )

    def skip_request(self) -> None:
        """Discard the rest of the current request without further events.

        For a driver that has already answered it (an upload over its size limit, say):
        the payload is neither decoded nor kept, and parsing resumes after its end.
        """
        if self._state in (_State.IDLE, _State.CLOSED, _State.SKIP):
            return
        self._enter_skip()

    def next_event(self) -> Event:
        if self._pending is not None:
            pending, self._pending = self._pending, None
            return pending
        while True:
            if self._state is _State.CLOSED:
                return Closed()
            event = self._steps[self._state]()
            if event is not None:
                if event is NEED_DATA and self._pos >= len(self._data):
                    # All read: let go of the last receive buffer, so that a connection
                    # waiting for its next request holds none.
                    self._data, self._pos = b"", 0
                return event

    # -- helpers ----------------------------------------------------------------------

    def _reset(self) -> None:
        self._state = _State.IDLE
        self._header_bytes = 0
        self._term = 0
        self._scanner = None
        self._decoder = None
        self._tail = b""
        self._head = bytearray()
        self._tokens = []
        self._token_start = None
        self._command = None
        self._name = None

    def _enter_skip(self, seed: int = 0) -> None:
        self._reset()
        self._state = _State.SKIP
        self._term = seed

    def _error(self, message: str) -> RequestError:
        """A request-level error: skip to this request's end, keep the connection."""
        self._enter_skip(matched_suffix(self._tail))
        return RequestError(message)

    def _fatal(self, message: str) -> RequestError:
        self._reset()
        self._state = _State.CLOSED
        return RequestError(message, fatal=True)

    def _out_of_data(self) -> Event:
        if self._eof:
            return self._fatal("connection closed before the end of the request")
        return NEED_DATA

    def _too_large(self) -> RequestError:
        return self._fatal(
            f"request header too large: no end of request within {self.max_header} bytes"
        )

    def _started(self, dialect: Dialect) -> Event | None:
        self._decoder = Base64StreamDecoder()
        return RequestStarted(self._command, self._name, dialect)

    def _payload(self, piece: bytes | memoryview, start: int) -> Event | None:
        """Decode one piece of payload text; an event to return, or None to go on.

        ``start`` is where the piece began in the buffer: after bad base64 the search
        for the request's end resumes there, as the terminator may lie inside the piece.
        """
        if self._decoder is None:
            return None
        try:
            head, body = self._decoder.decode_parts(piece)
        except Base64Error as exc:
            self._pos = start
            return self._error(str(exc))
        if len(piece) >= 3:
            self._tail = bytes(piece[-3:])
        else:
            self._tail = (self._tail + bytes(piece))[-3:]
        if head and body:
            self._pending = Data(body)
            return Data(head)
        return Data(head or body) if head or body else None

    def _finish_payload(self) -> bytes:
        assert self._decoder is not None
        return self._decoder.finish()

    # -- states -----------------------------------------------------------------------

    def _idle(self) -> Event | None:
        data, n, i = self._data, len(self._data), self._pos
        while i < n and data[i] in _WHITESPACE:
            i += 1
        self._header_bytes += i - self._pos
        self._pos = i
        if self._header_bytes > self.max_header:
            return self._too_large()
        if i >= n:
            if self._eof:
                self._state = _State.CLOSED
                return Closed()
            self._header_bytes = 0  # whitespace between requests is not held anywhere
            return NEED_DATA
        if data[i] == 0x7B:  # {
            self._state = _State.JSON
            self._scanner = JsonObjectScanner(_PAYLOAD_PATH, self.max_header)
        else:
            self._state = _State.TEXT_HEAD
        return None

    def _json(self) -> Event | None:
        scanner = self._scanner
        assert scanner is not None
        if self._pos >= len(self._data):
            return self._out_of_data()
        start = self._pos
        pos, step, piece = scanner.step(self._data, start)
        self._pos = pos
        if step is Step.STREAM_DATA:
            return self._payload(piece, start)
        if step is Step.NEED_MORE:
            return self._out_of_data() if pos >= len(self._data) or self._eof else NEED_DATA
        if step is Step.STREAM_START:
            word = scanner.string_at(("command",))
            self._command = canonical_command(word) if word is not None else None
            self._name = scanner.string_at(("params", 0))
            if word is not None and self._command != "UPLOAD":
                # Extra parameters on GET, DELETE, LIST or an unknown command: skip them
                # undecoded; the parameter count is what the error will be about.
                return None
            return self._started("json")
        if step is Step.STREAM_END:
            if self._decoder is not None:
                try:
                    rest = self._finish_payload()
                except Base64Error as exc:
                    return self._error(str(exc))
                if rest:
                    return Data(rest)
            return None
        if step is Step.OBJECT_END:
            self._state = _State.JSON_AFTER
            self._term = 0
            return None
        if step is Step.TERMINATED:
            self._reset()
            return RequestError("incomplete JSON request: the request ended before its closing '}'")
        if step is Step.TOO_LARGE:
            return self._too_large()
        return self._error(scanner.error or "malformed JSON request")

    def _json_after(self) -> Event | None:
        data, n, i = self._data, len(self._data), self._pos
        while i < n:
            c = data[i]
            if c not in _WHITESPACE:
                self._pos = i
                return self._error("unexpected data after the JSON object")
            self._term = advance(self._term, c)
            i += 1
            if self._term == 4:
                self._pos = i
                return self._finish_json()
        self._header_bytes += i - self._pos
        self._pos = i
        if self._header_bytes > self.max_header:
            return self._too_large()
        return self._out_of_data()

    def _finish_json(self) -> Event:
        scanner = self._scanner
        assert scanner is not None
        streamed = scanner.streamed
        try:
            try:
                envelope = json.loads(scanner.skeleton, object_pairs_hook=_unique_keys)
            except ValueError as exc:
                raise _Bad(f"malformed JSON request: {exc}") from None
            except RecursionError:
                raise _Bad("malformed JSON request: nested too deeply") from None
            if not isinstance(envelope, dict):
                raise _Bad("a JSON request must be an object")
            word = envelope.get("command")
            if not isinstance(word, str):
                raise _Bad('the JSON request has no "command" string')
            command = canonical_command(word)
            if command is None:
                raise _Bad(f"unknown command {word}")
            params = envelope.get("params", [])
            if not isinstance(params, list):
                raise _Bad('"params" must be a list')
            _check_params(command, len(params), word)
            name = params[0] if params else None
            if name is not None and not isinstance(name, str):
                raise _Bad("the file name must be a string")
            if command == "UPLOAD" and not streamed:
                raise _Bad("the base64 content must be a string")
        except _Bad as exc:
            self._reset()
            return RequestError(str(exc))
        self._reset()
        return EndOfRequest(Request(command, name, "json", streamed))

    def _text_head(self) -> Event | None:
        data, n, i = self._data, len(self._data), self._pos
        head = self._head
        while i < n:
            c = data[i]
            if c in _WHITESPACE and self._token_start is not None:
                token = bytes(head[self._token_start :])
                if len(self._tokens) == 1 and self._command == "UPLOAD":
                    # The name is complete: find where the payload begins.
                    if c == 0x0D and i + 3 >= n and not self._eof:
                        self._pos = i
                        return NEED_DATA
                    if data[i : i + 4] != TERMINATOR:
                        self._tokens.append(token)
                        try:
                            self._name = token.decode("utf-8")
                        except UnicodeDecodeError:
                            self._pos = i
                            return self._error("the file name is not valid UTF-8")
                        skip = 2 if data[i : i + 2] == b"\r\n" else 1
                        self._pos = i + skip
                        self._state = _State.TEXT_PAYLOAD
                        return self._started("text")
                self._tokens.append(token)
                self._token_start = None
                if len(self._tokens) == 1:
                    error = self._text_command(token)
                    if error is not None:
                        self._pos = i
                        return self._error(error)
            elif c not in _WHITESPACE and self._token_start is None:
                self._token_start = len(head)
            head.append(c)
            self._term = advance(self._term, c)
            i += 1
            if self._term == 4:
                self._pos = i
                return self._finish_text()
            if len(head) > self.max_header:
                self._pos = i
                return self._too_large()
        self._pos = i
        return self._out_of_data()

    def _text_command(self, token: bytes) -> str | None:
        try:
            word = token.decode("utf-8")
        except UnicodeDecodeError:
            return "the command is not valid UTF-8"
        self._command = canonical_command(word)
        if self._command is not None:
            return None
        if token[:1] in (b"[", b'"') or token.isdigit():
            return 'a JSON request must be an object: {"command": ..., "params": [...]}'
        return f"unknown command {word}"

    def _finish_text(self) -> Event:
        tokens = bytes(self._head).split()
        self._reset()
        if not tokens:
            return RequestError("empty request")
        try:
            words = [t.decode("utf-8") for t in tokens]
        except UnicodeDecodeError:
            return RequestError("the request is not valid UTF-8")
        command = canonical_command(words[0])
        if command is None:
            return RequestError(f"unknown command {words[0]}")
        try:
            _check_params(command, len(words) - 1, words[0])
        except _Bad as exc:
            return RequestError(str(exc))
        return EndOfRequest(Request(command, words[1] if len(words) > 1 else None, "text", False))

    def _text_payload(self) -> Event | None:
        data, n, pos = self._data, len(self._data), self._pos
        if pos >= n:
            return self._out_of_data()
        cr = data.find(b"\r", pos)
        if cr < 0 or cr > pos:
            end = n if cr < 0 else cr
            self._pos = end
            return self._payload(memoryview(data)[pos:end], pos)
        if n - pos < 4 and not self._eof:
            return NEED_DATA
        if data[pos : pos + 4] != TERMINATOR:
            assert self._decoder is not None
            return self._error(
                f"invalid base64 at byte {self._decoder.position} (unexpected '\\r')"
            )
        self._pos = pos + 4
        try:
            rest = self._finish_payload()
        except Base64Error as exc:
            self._reset()
            return RequestError(str(exc))
        request = Request("UPLOAD", self._name, "text", True)
        self._reset()
        if rest:
            # Hand out the last bytes first; the end follows on the next call.
            self._pending = EndOfRequest(request)
            return Data(rest)
        return EndOfRequest(request)

    def _skip(self) -> Event | None:
        end, self._term = find_end(self._data, self._pos, self._term)
        if end < 0:
            self._pos = len(self._data)
            if self._eof:
                self._state = _State.CLOSED
                return Closed()
            return NEED_DATA
        self._pos = end
        self._reset()
        return None

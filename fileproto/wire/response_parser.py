"""The client side of the protocol: response bytes in, streamed file data and fields out."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from fileproto.wire.b64 import Base64Error, Base64StreamDecoder
from fileproto.wire.events import NEED_DATA, Data, NeedData
from fileproto.wire.jsonscan import JsonObjectScanner, Step
from fileproto.wire.terminator import advance

# LIST is the largest non-streamed response: 16 MiB is over 60,000 names of 255 bytes,
# and 50 clients of a hostile server cannot be made to hold more than 16 MiB each.
DEFAULT_MAX_RESPONSE_HEADER = 16 * 1024 * 1024
_WHITESPACE = b" \t\r\n"


class ResponseViolation(Exception):
    """The server's bytes are not a valid response."""


@dataclass(frozen=True)
class Response:
    """A complete response. ``data_file`` is never here: it was streamed as Data events."""

    fields: dict[str, Any] = field(default_factory=dict)
    streamed_size: int = 0

    @property
    def ok(self) -> bool:
        return self.fields.get("status") == "OK"

    @property
    def message(self) -> str:
        data = self.fields.get("data")
        return data if isinstance(data, str) else json.dumps(data)


class ResponseParser:
    """Parses one response at a time. After a Response, it is ready for the next."""

    def __init__(self, max_header: int = DEFAULT_MAX_RESPONSE_HEADER) -> None:
        self.max_header = max_header
        self._data = b""
        self._pos = 0
        self._eof = False
        self._pending: Data | None = None
        self._new()

    def _new(self) -> None:
        self._scanner = JsonObjectScanner(("data_file",), self.max_header)
        self._decoder = Base64StreamDecoder()
        self._started = False
        self._after = False
        self._term = 0

    def receive_data(self, data: bytes) -> None:
        if not data:
            self._eof = True
            return
        self._data = self._data[self._pos :] + data if self._pos < len(self._data) else data
        self._pos = 0

    def next_event(self) -> Data | Response | NeedData:
        if self._pending is not None:
            pending, self._pending = self._pending, None
            return pending
        while True:
            data, n = self._data, len(self._data)
            if not self._started:
                while self._pos < n and data[self._pos] in _WHITESPACE:
                    self._pos += 1
                if self._pos >= n:
                    return self._need()
                if data[self._pos] != 0x7B:
                    raise ResponseViolation(
                        "a response must be a JSON object; "
                        f"got {data[self._pos : self._pos + 40]!r}"
                    )
                self._started = True
            if self._after:
                while self._pos < n:
                    c = data[self._pos]
                    self._pos += 1
                    if c not in _WHITESPACE:
                        raise ResponseViolation("unexpected data after the response object")
                    self._term = advance(self._term, c)
                    if self._term == 4:
                        return self._finish()
                return self._need()
            if self._pos >= n:
                return self._need()
            pos, step, piece = self._scanner.step(data, self._pos)
            self._pos = pos
            if step is Step.STREAM_DATA:
                try:
                    head, body = self._decoder.decode_parts(piece)
                except Base64Error as exc:
                    raise ResponseViolation(f"data_file: {exc}") from None
                if head and body:
                    self._pending = Data(body)
                    return Data(head)
                if head or body:
                    return Data(head or body)
            elif step is Step.STREAM_END:
                try:
                    rest = self._decoder.finish()
                except Base64Error as exc:
                    raise ResponseViolation(f"data_file: {exc}") from None
                if rest:
                    return Data(rest)
            elif step is Step.NEED_MORE:
                return self._need()
            elif step is Step.OBJECT_END:
                self._after = True
            elif step is Step.TERMINATED:
                raise ResponseViolation("the response ended before its closing '}'")
            elif step is Step.TOO_LARGE:
                raise ResponseViolation(f"response header larger than {self.max_header} bytes")
            elif step is Step.ERROR:
                raise ResponseViolation(self._scanner.error)

    def _need(self) -> NeedData:
        if self._eof:
            raise ResponseViolation("the server closed the connection before a complete response")
        return NEED_DATA

    def _finish(self) -> Response:
        scanner, decoder = self._scanner, self._decoder
        self._new()
        try:
            fields = json.loads(scanner.skeleton)
        except ValueError as exc:
            raise ResponseViolation(f"malformed JSON response: {exc}") from None
        if not isinstance(fields, dict):
            raise ResponseViolation("a response must be a JSON object")
        if fields.get("status") not in ("OK", "ERROR"):
            raise ResponseViolation(f"bad status {fields.get('status')!r}")
        if scanner.streamed:
            del fields["data_file"]
        elif "data_file" in fields:
            raise ResponseViolation("data_file must be a base64 string")
        return Response(fields, decoder.decoded_size)

"""Incremental scanning of one JSON object whose one big string member is streamed.

Requests carry the payload in ``params[1]``; GET responses carry it in ``data_file``.
The scanner follows just enough structure (strings, nesting, keys, array indexes) to
know when that string begins. The payload is handed out piece by piece, without
copying it into any buffer; everything else goes into a small skeleton with the
payload replaced by ``""``. ``json.loads`` then checks the skeleton, so the scanner
need not be a validator itself.
"""

from __future__ import annotations

import enum
import json
import re

from fileproto.wire.terminator import advance

PathItem = str | int
Path = tuple[PathItem, ...]

_QUOTE = 0x22
#: "\/" followed by text without quotes or backslashes, repeated.
_SLASH_ESCAPE_RUN = re.compile(rb'(?:\\/[^"\\]*)+')
_BACKSLASH = 0x5C
_SIMPLE_ESCAPES = {
    ord('"'): b'"',
    ord("\\"): b"\\",
    ord("/"): b"/",
    ord("b"): b"\b",
    ord("f"): b"\f",
    ord("n"): b"\n",
    ord("r"): b"\r",
    ord("t"): b"\t",
}


class Step(enum.Enum):
    NEED_MORE = "need more"  # consumed what it could; bytes from pos on must be re-fed
    STREAM_START = "stream start"
    STREAM_DATA = "stream data"  # payload text, JSON escapes already resolved
    STREAM_END = "stream end"
    OBJECT_END = "object end"
    TERMINATED = "terminated"  # a CRLFCRLF ended the message before the object closed
    TOO_LARGE = "too large"
    ERROR = "error"


class _Frame:
    __slots__ = ("expecting_key", "index", "is_object", "key")

    def __init__(self, is_object: bool) -> None:
        self.is_object = is_object
        self.key: str | None = None
        self.expecting_key = is_object
        self.index = 0


class JsonObjectScanner:
    def __init__(self, stream_path: Path, max_skeleton: int) -> None:
        self.stream_path = stream_path
        self.max_skeleton = max_skeleton
        self.skeleton = bytearray()
        #: Raw string literals (quotes included) found at paths up to two deep.
        self.strings: dict[Path, bytes] = {}
        self.streamed = False
        self.error = ""
        self._stack: list[_Frame] = []
        self._in_string = False
        self._escape = False
        self._string_start = 0
        self._string_is_key = False
        self._string_path: Path = ()
        self._streaming = False
        self._term = 0

    def string_at(self, path: Path) -> str | None:
        raw = self.strings.get(path)
        if raw is None:
            return None
        try:
            value = json.loads(raw)
        except ValueError:
            return None
        return value if isinstance(value, str) else None

    def _path(self) -> Path:
        return tuple(f.key if f.is_object else f.index for f in self._stack)  # type: ignore[misc]

    def step(self, data: bytes, pos: int) -> tuple[int, Step, bytes | memoryview]:
        if self._streaming:
            return self._stream(data, pos)
        result = self._structure(data, pos)
        if len(self.skeleton) > self.max_skeleton:
            return result[0], Step.TOO_LARGE, b""
        return result

    def _structure(self, data: bytes, pos: int) -> tuple[int, Step, bytes | memoryview]:
        """Walk the small, non-payload part byte by byte; it is capped, so this stays cheap."""
        n = len(data)
        i = pos
        skeleton = self.skeleton
        run = pos  # data[run:i] is still to be copied into the skeleton
        while i < n:
            c = data[i]
            self._term = advance(self._term, c)
            if self._term == 4:
                return i + 1, Step.TERMINATED, b""
            i += 1
            if self._in_string:
                if self._escape:
                    self._escape = False
                elif c == _BACKSLASH:
                    self._escape = True
                elif c == _QUOTE:
                    skeleton += data[run:i]
                    run = i
                    self._end_string()
            elif c == _QUOTE:
                frame = self._stack[-1] if self._stack else None
                self._string_is_key = frame is not None and frame.expecting_key
                self._string_path = () if self._string_is_key else self._path()
                skeleton += data[run : i - 1]
                run = i
                self._string_start = len(skeleton)
                skeleton += b'"'
                if not self._string_is_key and self._string_path == self.stream_path:
                    if self.streamed:
                        # A missing comma or a repeated key: two payloads for one request.
                        self.error = "more than one base64 payload in the request"
                        return i - 1, Step.ERROR, b""
                    self._streaming = True
                    self.streamed = True
                    return i, Step.STREAM_START, b""
                self._in_string = True
            elif c == 0x7B or c == 0x5B:  # { [
                self._stack.append(_Frame(c == 0x7B))
            elif c == 0x7D or c == 0x5D:  # } ]
                if self._stack:
                    self._stack.pop()
                if not self._stack:
                    skeleton += data[run:i]
                    return i, Step.OBJECT_END, b""
            elif c == 0x2C and self._stack:  # ,
                top = self._stack[-1]
                if top.is_object:
                    top.expecting_key = True
                else:
                    top.index += 1
            if len(skeleton) + (i - run) > self.max_skeleton:
                break
        skeleton += data[run:i]
        return i, Step.NEED_MORE, b""

    def _end_string(self) -> None:
        self._in_string = False
        literal = bytes(self.skeleton[self._string_start :])
        if self._string_is_key:
            frame = self._stack[-1]
            try:
                key = json.loads(literal)
            except ValueError:
                key = None
            frame.key = key if isinstance(key, str) else None
            frame.expecting_key = False
        elif len(self._string_path) <= 2:
            self.strings[self._string_path] = literal

    def _stream(self, data: bytes, pos: int) -> tuple[int, Step, bytes | memoryview]:
        n = len(data)
        # Backslash first, then the quote only before it: each search stops where the
        # next piece starts, so a payload full of escapes is still scanned once.
        backslash = data.find(b"\\", pos)
        quote = data.find(b'"', pos, backslash if backslash >= 0 else n)
        if quote >= 0:
            backslash = -1  # the string ends before any escape
        end = quote if quote >= 0 else n
        if backslash < 0:
            if end > pos:
                return end, Step.STREAM_DATA, memoryview(data)[pos:end]
            if quote < 0:
                return n, Step.NEED_MORE, b""
            self.skeleton += b'"'
            self._streaming = False
            return quote + 1, Step.STREAM_END, b""
        if backslash > pos:
            return backslash, Step.STREAM_DATA, memoryview(data)[pos:backslash]
        # "\/" escapes (encoders that escape every slash): take the whole run of them and
        # the plain text between them in one C-level match instead of escape by escape.
        run = _SLASH_ESCAPE_RUN.match(data, pos)
        if run is not None:
            return run.end(), Step.STREAM_DATA, run.group().replace(b"\\/", b"/")
        # Any other escape inside the payload is rare, so done by hand.
        if backslash + 1 >= n:
            return backslash, Step.NEED_MORE, b""
        kind = data[backslash + 1]
        simple = _SIMPLE_ESCAPES.get(kind)
        if simple is not None:
            return backslash + 2, Step.STREAM_DATA, simple
        if kind == ord("u"):
            if backslash + 6 > n:
                return backslash, Step.NEED_MORE, b""
            digits = data[backslash + 2 : backslash + 6]
            try:
                char = chr(int(digits, 16))
            except ValueError:
                self.error = f"invalid JSON escape \\u{digits.decode('latin-1')!s} in payload"
                return backslash, Step.ERROR, b""
            return backslash + 6, Step.STREAM_DATA, char.encode("utf-8", "surrogatepass")
        self.error = f"invalid JSON escape \\{chr(kind)} in payload"
        return backslash, Step.ERROR, b""

"""Property tests of the sans-I/O protocol core: no sockets, any chunking.

The protocol's rules (framing, both dialects, escapes, aliases, base64) checked on our
own parser and encoders by feeding them arbitrary splits of valid byte streams. No
server is involved, so nothing here is marked ``conformance``.
"""

from __future__ import annotations

import base64
import json
import random
from dataclasses import dataclass

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fileproto.wire import (
    NEED_DATA,
    TERMINATOR,
    Base64Error,
    Base64StreamDecoder,
    Closed,
    Data,
    EndOfRequest,
    Request,
    RequestError,
    RequestParser,
    RequestStarted,
    Response,
    ResponseParser,
    clean_name,
    encode_chunk,
    encode_request,
    get_response_prefix,
    get_response_suffix,
    iter_upload_request,
)
from fileproto.wire.events import COMMAND_ALIASES
from fileproto.wire.names import MAX_NAME_BYTES, RESERVED_PREFIX
from fileproto.wire.request_parser import DEFAULT_MAX_HEADER
from tests.helpers.names import TEXT_WHITESPACE, fit_name, json_names, text_names

pytestmark = pytest.mark.smoke

MIB = 1 << 20
_B64_ALPHABET = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=")
_NON_ALPHABET = sorted(set(range(256)) - _B64_ALPHABET)

_fast = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
_slow = settings(
    max_examples=4,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


# -- strategies ---------------------------------------------------------------------------


@st.composite
def command_words(draw: st.DrawFn, command: str) -> str:
    """One of the wire names of ``command`` (aliases included), in random letter case."""
    words = sorted(w for w, c in COMMAND_ALIASES.items() if c == command)
    word = draw(st.sampled_from(words))
    lower = draw(st.lists(st.booleans(), min_size=len(word), max_size=len(word)))
    return "".join(ch.lower() if flip else ch for ch, flip in zip(word, lower, strict=True))


def _split(stream: bytes, cuts: list[int]) -> list[bytes]:
    bounds = sorted({c for c in cuts if 0 < c < len(stream)})
    starts = [0, *bounds]
    ends = [*bounds, len(stream)]
    return [stream[a:b] for a, b in zip(starts, ends, strict=True) if b > a]


def cuts_for(size: int, max_cuts: int = 30) -> st.SearchStrategy[list[int]]:
    return st.lists(st.integers(0, max(size, 0)), max_size=max_cuts)


def _chunks(payload: bytes, size: int) -> list[bytes]:
    """Raw pieces whose sizes are multiples of 3 (but the last), as the encoders need."""
    return [payload[i : i + size] for i in range(0, len(payload), size)]


# -- the request model --------------------------------------------------------------------


@dataclass(frozen=True)
class Req:
    command: str  # canonical
    word: str  # as written on the wire
    name: str | None
    payload: bytes | None
    dialect: str
    style: str = "encoder"  # encoder | manual | reversed | indent
    separator: bytes = b" "
    chunk: int = 3 << 10
    lead: bytes = b""  # whitespace before the request: the dialect is told by what follows

    def encode(self) -> bytes:
        return self.lead + self._encode()

    def _encode(self) -> bytes:
        if self.payload is None:
            params = [] if self.name is None else [self.name]
            if self.dialect == "json" and self.style == "reversed":
                text = json.dumps({"params": params, "command": self.word}, indent=1)
                return text.encode("ascii") + TERMINATOR
            return encode_request(self.word, *params, dialect=self.dialect)  # type: ignore[arg-type]
        b64 = base64.b64encode(self.payload).decode("ascii")
        if self.dialect == "text":
            if self.style == "encoder":
                pieces = iter_upload_request(
                    self.name, _chunks(self.payload, self.chunk), "text", self.separator
                )
                return b"".join(pieces)
            return (
                self.word.encode("ascii")
                + b" "
                + self.name.encode("utf-8")
                + self.separator
                + b64.encode("ascii")
                + TERMINATOR
            )
        if self.style == "encoder":
            pieces = iter_upload_request(self.name, _chunks(self.payload, self.chunk), "json")
            return b"".join(pieces)
        if self.style == "reversed":
            # params before command, and every '/' of the base64 written as the '\/' escape
            escaped = b64.replace("/", "\\/")
            text = (
                '{"params": [' + json.dumps(self.name) + ', "' + escaped + '"], '
                '"command": ' + json.dumps(self.word) + "}"
            )
            assert json.loads(text) == {"params": [self.name, b64], "command": self.word}
            return text.encode("ascii") + TERMINATOR
        indent = 2 if self.style == "indent" else None
        envelope = {"command": self.word, "params": [self.name, b64]}
        return json.dumps(envelope, indent=indent).encode("ascii") + TERMINATOR

    def expected(self) -> list[tuple[object, ...]]:
        end = ("end", Request(self.command, self.name, self.dialect, self.payload is not None))
        if self.payload is None:
            return [end]
        return [("start", self.dialect, self.name), ("data", self.payload), end]


leads = st.sampled_from([b"", b"", b"", b" ", b"\r\n", b"\n\t ", b"\r\n\r\n"])


@st.composite
def simple_requests(draw: st.DrawFn, dialect: str | None = None) -> Req:
    dialect = dialect or draw(st.sampled_from(["json", "text"]))
    command = draw(st.sampled_from(["LIST", "GET", "DELETE"]))
    word = draw(command_words(command))
    names = text_names if dialect == "text" else json_names
    name = None if command == "LIST" else draw(names)
    style = draw(st.sampled_from(["encoder", "reversed"])) if dialect == "json" else "encoder"
    return Req(command, word, name, None, dialect, style, lead=draw(leads))


@st.composite
def upload_requests(
    draw: st.DrawFn, dialect: str | None = None, payloads: st.SearchStrategy[bytes] | None = None
) -> Req:
    dialect = dialect or draw(st.sampled_from(["json", "text"]))
    payload = draw(payloads if payloads is not None else st.binary(max_size=2000))
    chunk = 3 * draw(st.integers(1, 300))
    if dialect == "text":
        name = draw(text_names)
        style = draw(st.sampled_from(["encoder", "manual"]))
        # CRLF before an empty payload is ambiguous by design: "UPLOAD n\r\n\r\n\r\n".
        separator = draw(st.sampled_from([b" ", b"\r\n"])) if payload else b" "
    else:
        name = draw(json_names)
        style = draw(st.sampled_from(["encoder", "manual", "reversed", "indent"]))
        separator = b" "
    word = "UPLOAD" if style == "encoder" else draw(command_words("UPLOAD"))
    return Req("UPLOAD", word, name, payload, dialect, style, separator, chunk, draw(leads))


any_request = st.one_of(simple_requests(), upload_requests())


# -- driving the parser -------------------------------------------------------------------


def drive(pieces: list[bytes], parser: RequestParser | None = None) -> list[object]:
    """Feed ``pieces`` then end of stream; every event up to Closed (bounded)."""
    parser = parser or RequestParser()
    events: list[object] = []
    for piece in [*pieces, b""]:
        parser.receive_data(piece)
        for _ in range(1_000_000):
            event = parser.next_event()
            if event is NEED_DATA:
                break
            events.append(event)
            if isinstance(event, Closed):
                return events
        else:
            raise AssertionError("the parser kept returning events without asking for data")
    raise AssertionError(f"no Closed after end of stream; events: {events[-5:]!r}")


def normalize(events: list[object]) -> list[tuple[object, ...]]:
    """Adjacent Data joined; RequestStarted reduced to what the spec promises."""
    out: list[tuple[object, ...]] = []
    buffer: bytearray | None = None
    for event in events:
        if isinstance(event, Data):
            assert buffer is not None, f"Data outside a payload: {out[-3:]!r}"
            buffer += event.data
            continue
        if buffer is not None:
            out.append(("data", bytes(buffer)))
            buffer = None
        if isinstance(event, RequestStarted):
            # In JSON the command may still be unknown at the start (keys in any order).
            assert event.command in ("UPLOAD", None), event
            if event.dialect == "text":
                assert event.command == "UPLOAD", event
            out.append(("start", event.dialect, event.name))
            buffer = bytearray()
        elif isinstance(event, EndOfRequest):
            out.append(("end", event.request))
        elif isinstance(event, RequestError):
            out.append(("error", event.message, event.fatal))
        elif isinstance(event, Closed):
            out.append(("closed",))
        else:
            raise AssertionError(f"unexpected event {event!r}")
    return out


def check(reqs: list[Req], cuts: list[int]) -> None:
    stream = b"".join(r.encode() for r in reqs)
    got = normalize(drive(_split(stream, cuts)))
    want = [item for r in reqs for item in r.expected()] + [("closed",)]
    assert got == want, f"stream {stream[:300]!r}"


# -- requests -----------------------------------------------------------------------------


@_fast
@given(req=upload_requests(dialect="json"), data=st.data())
def test_json_upload_any_split(req: Req, data: st.DataObject) -> None:
    cuts = data.draw(cuts_for(len(req.encode())))
    check([req], cuts)


@_fast
@given(req=upload_requests(dialect="text"), data=st.data())
def test_text_upload_any_split(req: Req, data: st.DataObject) -> None:
    cuts = data.draw(cuts_for(len(req.encode())))
    check([req], cuts)


@_fast
@given(
    name=text_names,
    dialect=st.sampled_from(["json", "text"]),
    separator=st.sampled_from([b" ", b"\r\n"]),
    data=st.data(),
)
def test_upload_with_the_project_encoder_every_byte_apart(
    name: str, dialect: str, separator: bytes, data: st.DataObject
) -> None:
    """One byte per receive_data: every possible boundary at once."""
    payload = data.draw(st.binary(min_size=1, max_size=200))
    req = Req("UPLOAD", "UPLOAD", name, payload, dialect, "encoder", separator, 3)
    stream = req.encode()
    got = normalize(drive([stream[i : i + 1] for i in range(len(stream))]))
    assert got == [*req.expected(), ("closed",)]


@_fast
@given(
    dialect=st.sampled_from(["json", "text"]),
    separator=st.sampled_from([b" ", b"\r\n"]),
    name=text_names,
)
def test_empty_upload(dialect: str, separator: bytes, name: str) -> None:
    if dialect == "text":
        separator = b" "  # the CRLF form is ambiguous for an empty payload
    req = Req("UPLOAD", "UPLOAD", name, b"", dialect, "encoder", separator)
    check([req], [])


@_fast
@given(req=simple_requests(), data=st.data())
def test_list_get_delete_any_split(req: Req, data: st.DataObject) -> None:
    cuts = data.draw(cuts_for(len(req.encode())))
    check([req], cuts)


@_fast
@given(reqs=st.lists(any_request, min_size=2, max_size=6), data=st.data())
def test_pipelined_requests_any_split(reqs: list[Req], data: st.DataObject) -> None:
    size = sum(len(r.encode()) for r in reqs)
    check(reqs, data.draw(cuts_for(size, 60)))


@_fast
@given(
    payload=st.binary(min_size=1, max_size=3000),
    name=json_names,
    word=command_words("UPLOAD"),
    data=st.data(),
)
def test_json_reversed_keys_and_escaped_slashes(
    payload: bytes, name: str, word: str, data: st.DataObject
) -> None:
    # Make sure '/' appears in the base64 so the escape path is exercised.
    payload = b"\xff\xff\xff" + payload
    req = Req("UPLOAD", word, name, payload, "json", "reversed")
    assert b"\\/" in req.encode()
    check([req], data.draw(cuts_for(len(req.encode()))))


@pytest.mark.parametrize(
    ("word", "command"),
    [
        ("download", "GET"),
        ("put", "UPLOAD"),
        ("post", "UPLOAD"),
        ("Delete", "DELETE"),
        ("list", "LIST"),
        ("gEt", "GET"),
        ("Download", "GET"),
        ("PoSt", "UPLOAD"),
    ],
)
@pytest.mark.parametrize("dialect", ["json", "text"])
def test_aliases_and_case(word: str, command: str, dialect: str) -> None:
    name = None if command == "LIST" else "f.bin"
    payload = b"alias payload" if command == "UPLOAD" else None
    check([Req(command, word, name, payload, dialect, "manual")], [])


@_slow
@given(
    seed=st.integers(0, 2**32 - 1),
    size=st.sampled_from([2 * MIB, 2 * MIB + 1, 3 * MIB - 1]),
    dialect=st.sampled_from(["json", "text"]),
    separator=st.sampled_from([b" ", b"\r\n"]),
    data=st.data(),
)
def test_multi_mib_upload_any_split(
    seed: int, size: int, dialect: str, separator: bytes, data: st.DataObject
) -> None:
    payload = random.Random(seed).randbytes(size)
    req = Req("UPLOAD", "UPLOAD", "big.bin", payload, dialect, "encoder", separator, 3 << 18)
    stream = req.encode()
    cuts = data.draw(cuts_for(len(stream), 40))
    events = drive(_split(stream, cuts))
    got = normalize(events)
    assert got == [*req.expected(), ("closed",)]
    # Streamed, not held: many Data events, none much larger than a received piece.
    biggest = max(len(e.data) for e in events if isinstance(e, Data))
    pieces = _split(stream, cuts)
    assert biggest <= max(len(p) for p in pieces)


# -- responses ----------------------------------------------------------------------------


def _drive_response(pieces: list[bytes]) -> tuple[bytes, list[Response]]:
    parser = ResponseParser()
    data = bytearray()
    responses: list[Response] = []
    for piece in pieces:
        parser.receive_data(piece)
        for _ in range(1_000_000):
            event = parser.next_event()
            if event is NEED_DATA:
                break
            if isinstance(event, Data):
                data += event.data
            else:
                assert isinstance(event, Response)
                responses.append(event)
        else:
            raise AssertionError("response parser never asked for more data")
    return bytes(data), responses


@_fast
@given(
    content=st.binary(max_size=5000),
    name=json_names,
    chunk=st.integers(1, 400).map(lambda k: 3 * k),
    data=st.data(),
)
def test_streamed_get_response_any_split(
    content: bytes, name: str, chunk: int, data: st.DataObject
) -> None:
    stream = (
        get_response_prefix(name)
        + b"".join(encode_chunk(c) for c in _chunks(content, chunk))
        + get_response_suffix()
    )
    got, responses = _drive_response(_split(stream, data.draw(cuts_for(len(stream), 40))))
    assert got == content
    assert len(responses) == 1
    response = responses[0]
    assert response.ok
    assert response.fields["data_namafile"] == name
    assert "data_file" not in response.fields
    assert response.streamed_size == len(content)


@_slow
@given(seed=st.integers(0, 2**32 - 1), data=st.data())
def test_streamed_get_response_multi_mib(seed: int, data: st.DataObject) -> None:
    content = random.Random(seed).randbytes(2 * MIB + 2)
    stream = (
        get_response_prefix("big.bin")
        + b"".join(encode_chunk(c) for c in _chunks(content, 3 << 18))
        + get_response_suffix()
    )
    got, responses = _drive_response(_split(stream, data.draw(cuts_for(len(stream), 40))))
    assert got == content
    assert [r.fields["data_namafile"] for r in responses] == ["big.bin"]


# -- base64 -------------------------------------------------------------------------------


@_fast
@given(raw=st.binary(max_size=5000), chunk=st.integers(1, 500).map(lambda k: 3 * k))
def test_chunked_base64_equals_one_shot(raw: bytes, chunk: int) -> None:
    assert b"".join(encode_chunk(c) for c in _chunks(raw, chunk)) == base64.b64encode(raw)


def _decode_pieces(pieces: list[bytes]) -> bytes:
    decoder = Base64StreamDecoder()
    out = bytearray()
    for piece in pieces:
        out += decoder.decode(piece)
    out += decoder.finish()
    return bytes(out)


@_fast
@given(raw=st.binary(max_size=3000), data=st.data())
def test_stream_decoder_any_split(raw: bytes, data: st.DataObject) -> None:
    text = base64.b64encode(raw)
    assert _decode_pieces(_split(text, data.draw(cuts_for(len(text), 40)))) == raw


@_fast
@given(raw=st.binary(max_size=3000), data=st.data())
def test_stream_decoder_missing_final_padding(raw: bytes, data: st.DataObject) -> None:
    text = base64.b64encode(raw).rstrip(b"=")
    assert _decode_pieces(_split(text, data.draw(cuts_for(len(text), 40)))) == raw


@_fast
@given(raw=st.binary(max_size=600), bad=st.sampled_from(_NON_ALPHABET), data=st.data())
def test_stream_decoder_reports_the_offset_of_a_bad_byte(
    raw: bytes, bad: int, data: st.DataObject
) -> None:
    text = base64.b64encode(raw)
    k = data.draw(st.integers(0, len(text)), label="k")
    corrupted = text[:k] + bytes([bad]) + text[k:]
    with pytest.raises(Base64Error) as info:
        _decode_pieces(_split(corrupted, data.draw(cuts_for(len(corrupted), 20))))
    assert info.value.offset == k
    assert f"invalid base64 at byte {k}" in str(info.value)


# -- bounded memory -----------------------------------------------------------------------


@_fast
@given(
    head=st.sampled_from(
        [b"GET ", b"UPLOAD", b"LIST", b'{"command": "GET", "params": ["', b'{"command": ', b"x"]
    ),
    filler=st.sampled_from([b"a", b"A1", b"\xc3\xa9"]),
    piece=st.integers(1, 8192),
)
def test_no_terminator_is_a_fatal_too_large(head: bytes, filler: bytes, piece: int) -> None:
    """A header that never ends is refused once it passes the limit, not buffered on."""
    total = DEFAULT_MAX_HEADER * 4
    stream = head + filler * (total // len(filler))
    parser = RequestParser()
    fed = 0
    error: RequestError | None = None
    for start in range(0, len(stream), piece):
        chunk = stream[start : start + piece]
        parser.receive_data(chunk)
        fed += len(chunk)
        event = parser.next_event()
        while event is not NEED_DATA:
            assert isinstance(event, RequestError), event
            error = event
            break
        if error is not None:
            break
    assert error is not None, "no error after 4x the header limit"
    assert error.fatal
    assert "too large" in error.message
    # Refused as soon as the limit was passed, not after buffering all the input.
    assert fed <= DEFAULT_MAX_HEADER + 2 * piece + len(head)
    assert isinstance(parser.next_event(), Closed)


def test_64k_request_without_terminator_in_one_piece() -> None:
    parser = RequestParser()
    parser.receive_data(b"GET " + b"n" * (64 * 1024 + 10))
    event = parser.next_event()
    assert isinstance(event, RequestError)
    assert event.fatal
    assert "too large" in event.message


# -- the name strategies ------------------------------------------------------------------


@_fast
@given(name=json_names)
def test_json_names_are_valid_by_construction(name: str) -> None:
    assert clean_name(name) == name
    assert 0 < len(name.encode("utf-8")) <= MAX_NAME_BYTES


@_fast
@given(name=text_names)
def test_text_names_are_valid_by_construction_and_without_whitespace(name: str) -> None:
    assert clean_name(name) == name
    assert not set(name) & set(TEXT_WHITESPACE)
    assert encode_request("GET", name, dialect="text").startswith(b"GET ")


@pytest.mark.parametrize("char", ["\u00e9", "\u20ac", "\U0001d11e"], ids=["2B", "3B", "4B"])
@pytest.mark.parametrize("head", range(MAX_NAME_BYTES - 4, MAX_NAME_BYTES + 1))
def test_fit_name_cuts_between_characters_at_the_limit(char: str, head: int) -> None:
    raw = "n" * head + char * 3  # always past the limit, the cut on each byte of ``char``
    name = fit_name(raw)
    size = len(name.encode("utf-8"))
    assert raw.startswith(name)
    assert size <= MAX_NAME_BYTES < size + len(char.encode("utf-8"))
    assert clean_name(name) == name


def test_fit_name_avoids_the_names_the_rules_refuse() -> None:
    assert fit_name(".") == "._"
    assert fit_name("..") == ".._"
    reserved = fit_name(RESERVED_PREFIX + "x")
    assert not reserved.startswith(RESERVED_PREFIX)
    assert len(reserved) == len(RESERVED_PREFIX) + 1
    for name in (".", "..", RESERVED_PREFIX + "x"):
        assert clean_name(fit_name(name)) == fit_name(name)

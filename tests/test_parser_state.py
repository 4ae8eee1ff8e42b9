"""The request parser's state: ``ParserState`` through a request, the one error rule
(which errors are fatal), and pickling at any point (a worker in another process
carries on with a half-parsed request).

Sans-I/O only: no server is involved.
"""

from __future__ import annotations

import pickle

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fileproto.wire import (
    NEED_DATA,
    Closed,
    Data,
    EndOfRequest,
    ParserState,
    Request,
    RequestError,
    RequestParser,
    RequestStarted,
    iter_upload_request,
)
from fileproto.wire.events import Event
from tests.test_wire_properties import _split, any_request, cuts_for

pytestmark = pytest.mark.smoke

_fast = settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
LIST = b"LIST\r\n\r\n"
LISTED = EndOfRequest(Request("LIST", None, "text", False))


def events_until_need(parser: RequestParser) -> list[Event]:
    out: list[Event] = []
    for _ in range(10_000):
        event = parser.next_event()
        if event is NEED_DATA or isinstance(event, Closed):
            out.append(event)
            return out
        out.append(event)
    raise AssertionError("the parser kept returning events without asking for data")


# -- ParserState ------------------------------------------------------------------------


def test_states_through_a_text_upload() -> None:
    parser = RequestParser()
    assert parser.state is ParserState.IDLE
    parser.receive_data(b"\r\nUPL")
    assert parser.next_event() is NEED_DATA
    assert parser.state is ParserState.HEADER
    parser.receive_data(b"OAD a.bin QUJ")
    assert parser.next_event() == RequestStarted("UPLOAD", "a.bin", "text")
    assert parser.state is ParserState.PAYLOAD and parser.in_payload
    assert events_until_need(parser) == [NEED_DATA]  # "QUJ" waits for its quantum
    parser.receive_data(b"D\r\n\r\n")
    assert events_until_need(parser) == [
        Data(b"ABC"),
        EndOfRequest(Request("UPLOAD", "a.bin", "text", True)),
        NEED_DATA,
    ]
    assert parser.state is ParserState.IDLE
    parser.receive_data(b"")
    assert parser.next_event() == Closed()
    assert parser.state is ParserState.CLOSED


def test_a_json_envelope_is_payload_until_its_closing_brace() -> None:
    parser = RequestParser()
    parser.receive_data(b'{"command": "UPLOAD", "params": ["a", "QUJD"] ')
    assert events_until_need(parser) == [
        RequestStarted("UPLOAD", "a", "json"),
        Data(b"ABC"),
        NEED_DATA,
    ]
    assert parser.state is ParserState.PAYLOAD
    parser.receive_data(b"}\r\n")
    assert parser.next_event() is NEED_DATA
    assert parser.state is ParserState.HEADER  # waiting for the terminator
    parser.receive_data(b"\r\n")
    assert parser.next_event() == EndOfRequest(Request("UPLOAD", "a", "json", True))
    assert parser.state is ParserState.IDLE


def test_extra_parameters_of_a_get_are_not_a_payload() -> None:
    parser = RequestParser()
    parser.receive_data(b'{"command": "GET", "params": ["a", "QUJD')
    assert parser.next_event() is NEED_DATA
    assert parser.state is ParserState.HEADER and not parser.in_payload


def test_skip_request_only_inside_a_request() -> None:
    parser = RequestParser()
    parser.skip_request()
    assert parser.state is ParserState.IDLE
    parser.receive_data(b"UPLOAD a QUJD")
    assert parser.next_event() == RequestStarted("UPLOAD", "a", "text")
    parser.skip_request()
    assert parser.state is ParserState.SKIP
    parser.receive_data(b"QUJD\r\n\r\n" + LIST)
    assert events_until_need(parser) == [LISTED, NEED_DATA]  # the payload is not decoded


# -- the one error rule -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("request_bytes", "after"),
    [
        (b'{"command": "UPLOAD", "params": ["a", "QU!D"]}\r\n\r\n', ParserState.SKIP),
        (b'{"command": "GET", "params": ["a"]} x\r\n\r\n', ParserState.SKIP),
        (b"FOO a\r\n\r\n", ParserState.SKIP),
        (b"UPLOAD a QU\rJD\r\n\r\n", ParserState.SKIP),
        (b'{"command": 1}\r\n\r\n', ParserState.IDLE),
        (b'{"command": "GET"\r\n\r\n', ParserState.IDLE),
        (b"GET a b\r\n\r\n", ParserState.IDLE),
        (b"UPLOAD a Q\r\n\r\n", ParserState.IDLE),
    ],
)
def test_an_error_with_the_framing_intact_keeps_the_connection(
    request_bytes: bytes, after: ParserState
) -> None:
    """Found before the terminator: SKIP to it; found at it: IDLE at once. Either way the
    next request is answered (docs/protocol.md 8.3)."""
    parser = RequestParser()
    parser.receive_data(request_bytes)
    events = [e for e in events_until_need(parser) if not isinstance(e, RequestStarted | Data)]
    assert len(events) == 2 and isinstance(events[0], RequestError), events
    assert not events[0].fatal
    parser.receive_data(LIST)
    assert events_until_need(parser) == [LISTED, NEED_DATA]
    # Where it went right after the error, fed up to the error only:
    parser = RequestParser()
    parser.receive_data(request_bytes)
    while not isinstance(parser.next_event(), RequestError):
        pass
    assert parser.state is after


@pytest.mark.parametrize(
    "request_bytes",
    [b"GET " + b"n" * 100, b'{"command": "GET", "params": ["' + b"n" * 100, b" " * 100],
)
def test_a_header_past_the_limit_is_fatal(request_bytes: bytes) -> None:
    parser = RequestParser(max_header=64)
    parser.receive_data(request_bytes)
    event = parser.next_event()
    assert isinstance(event, RequestError) and event.fatal and "too large" in event.message
    assert parser.state is ParserState.CLOSED
    parser.receive_data(LIST)
    assert parser.next_event() == Closed()


@pytest.mark.parametrize("request_bytes", [b"GET a", b"UPLOAD a QUJD", b'{"command"'])
def test_the_peer_leaving_mid_request_is_fatal(request_bytes: bytes) -> None:
    parser = RequestParser()
    parser.receive_data(request_bytes)
    events_until_need(parser)
    parser.receive_data(b"")
    event = parser.next_event()
    assert event == RequestError("connection closed before the end of the request", fatal=True)
    assert parser.state is ParserState.CLOSED and parser.next_event() == Closed()


def test_the_peer_leaving_mid_skip_is_no_error() -> None:
    parser = RequestParser()
    parser.receive_data(b"FOO x yyy")
    assert isinstance(parser.next_event(), RequestError)
    parser.receive_data(b"")
    assert parser.next_event() == Closed()


# -- pickling ---------------------------------------------------------------------------

_NOISE = [b"{", b"}", b'"', b"\\", b"\\r", b"\r", b"\n", b"\r\n\r\n", b" ", b"=", b"!", b"x"]
noisy_pieces = st.one_of(
    any_request.map(lambda r: r.encode()),
    st.sampled_from(_NOISE),
    st.binary(max_size=5),
)


def run(pieces: list[bytes], skip_at: set[int], pickle_every: int) -> list[object]:
    """Every event and the state after it; pickled and unpickled every so many calls
    (0: never) and after each piece is parsed. ``skip_at``: calls after which the driver
    skips the request (as one refusing an upload does)."""
    parser = RequestParser(max_header=4096)
    out: list[object] = []
    calls = 0
    for piece in [*pieces, b""]:
        parser.receive_data(piece)
        for _ in range(100_000):
            calls += 1
            if pickle_every and calls % pickle_every == 0:
                parser = pickle.loads(pickle.dumps(parser))
            event = parser.next_event()
            out.append((event, parser.state, parser.buffered))
            if calls in skip_at:
                parser.skip_request()
            if event is NEED_DATA or isinstance(event, Closed):
                break
        if pickle_every:
            parser = pickle.loads(pickle.dumps(parser))
        if isinstance(event, Closed):
            return out
    raise AssertionError("no Closed after end of stream")


@_fast
@given(
    parts=st.lists(noisy_pieces, min_size=1, max_size=8),
    skip_at=st.sets(st.integers(1, 40), max_size=2),
    pickle_every=st.integers(1, 4),
    data=st.data(),
)
def test_a_pickled_parser_goes_on_exactly_like_the_original(
    parts: list[bytes], skip_at: set[int], pickle_every: int, data: st.DataObject
) -> None:
    stream = b"".join(parts)
    pieces = _split(stream, data.draw(cuts_for(len(stream), 40)))
    assert run(pieces, skip_at, pickle_every) == run(pieces, skip_at, 0)


def test_a_pickle_mid_payload_holds_no_payload() -> None:
    """Mid-payload, with a base64 carry, the pickle holds the carry and the small header
    state, not the payload received so far (the parsed bytes are not kept)."""
    raw = bytes(range(256)) * 4096  # 1 MiB
    for dialect in ("json", "text"):
        parser = RequestParser()
        stream = b"".join(iter_upload_request("big.bin", [raw], dialect))  # type: ignore[arg-type]
        cut = len(stream) // 2 + 1
        parser.receive_data(stream[:cut])
        before = [e for e in events_until_need(parser) if isinstance(e, Data)]
        assert parser.state is ParserState.PAYLOAD
        blob = pickle.dumps(parser)
        assert len(blob) < 2048, len(blob)
        clone = pickle.loads(blob)
        clone.receive_data(stream[cut:])
        after = [e for e in events_until_need(clone) if isinstance(e, Data)]
        assert b"".join(e.data for e in before + after) == raw


def test_a_pickle_keeps_the_payload_tail_a_skip_starts_from() -> None:
    """Bad base64 right after an escaped CR: the skip counts that CR as the start of the
    terminator, so the LIST after "\\r" + LF CR LF is a request of its own. The last
    payload bytes must survive a pickle at every byte for that to hold."""
    stream = b'{"command": "UPLOAD", "params": ["a", "AB\\r\n\r\n' + LIST
    pieces = [stream[i : i + 1] for i in range(len(stream))]
    never = run(pieces, set(), 0)
    assert run(pieces, set(), 1) == never
    events = [e for e, _, _ in never]
    errors = [e for e in events if isinstance(e, RequestError)]
    assert len(errors) == 1 and "invalid base64" in errors[0].message
    assert LISTED in events

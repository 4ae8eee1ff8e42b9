"""Property tests of the server session, driven directly: no sockets, no real clock.

The session decides every answer and every deadline, so these properties hold for every
server kind that drives it: any split of the incoming bytes gives the same answers,
pipelined requests are answered in order and one at a time, and each deadline fires
with its answer and leaves no temporary file.
"""

from __future__ import annotations

import base64
import itertools
import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fileproto.session import LINGER, Close, Limits, Receive, Send, ServerSession, State, Work
from fileproto.store import FileStore
from fileproto.wire import TERMINATOR, encode_request, iter_upload_request
from fileproto.wire.names import RESERVED_PREFIX
from tests.helpers.session import LIMITS, responses, run_session

pytestmark = pytest.mark.smoke

_settings = settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)

# Names by construction: a small alphabet safe in both dialects, so nothing is filtered.
names = st.text("abcxyz019._-", min_size=1, max_size=12).filter(lambda n: n not in (".", ".."))
contents = st.binary(max_size=700)
dialects = st.sampled_from(["json", "text"])


@st.composite
def requests(draw: st.DrawFn) -> bytes:
    """One request: valid or not, in either dialect."""
    dialect = draw(dialects)
    kind = draw(st.sampled_from(["upload", "get", "list", "delete", "unknown", "badb64"]))
    name = draw(names)
    if kind == "upload":
        data = draw(contents)
        return b"".join(iter_upload_request(name, [data], dialect))  # type: ignore[arg-type]
    if kind == "badb64":
        return b"UPLOAD " + name.encode() + b" QU!D" + TERMINATOR
    if kind == "unknown":
        return b"FROB " + name.encode() + TERMINATOR
    command = {"get": "GET", "list": "LIST", "delete": "DELETE"}[kind]
    params = () if command == "LIST" else (name,)
    return encode_request(command, *params, dialect=dialect)  # type: ignore[arg-type]


def split(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({c % (len(data) + 1) for c in cuts})
    bounds = [0, *points, len(data)]
    return [data[a:b] for a, b in itertools.pairwise(bounds) if b > a]


def clear(store: FileStore) -> None:
    for path in store.root.iterdir():
        path.unlink()


@_settings
@given(batch=st.lists(requests(), min_size=1, max_size=6), cuts=st.lists(st.integers(0, 10**6)))
def test_any_split_gives_the_same_answers(
    tmp_path: Path, batch: list[bytes], cuts: list[int]
) -> None:
    store = FileStore(tmp_path)
    stream = b"".join(batch)
    clear(store)
    whole, close_whole = run_session(store, [stream])
    state_whole = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    clear(store)
    pieces, close_pieces = run_session(store, split(stream, cuts))
    state_pieces = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    assert pieces == whole
    assert close_pieces == close_whole == Close("peer closed", "peer")
    assert state_pieces == state_whole
    assert not any(name.startswith(RESERVED_PREFIX) for name in state_whole)
    # One answer per request, in order.
    assert len(responses(whole)) == len(batch)


@_settings
@given(name=names, data=contents, dialect=dialects)
def test_pipelined_requests_see_each_others_effects(
    tmp_path: Path, name: str, data: bytes, dialect: str
) -> None:
    """The session pauses after each request until its answer is out, so a GET
    pipelined behind an UPLOAD reads what the UPLOAD stored."""
    store = FileStore(tmp_path)
    clear(store)
    stream = (
        b"".join(iter_upload_request(name, [data], dialect))  # type: ignore[arg-type]
        + encode_request("GET", name, dialect=dialect)  # type: ignore[arg-type]
        + encode_request("DELETE", name, dialect=dialect)  # type: ignore[arg-type]
        + encode_request("GET", name, dialect=dialect)  # type: ignore[arg-type]
    )
    out, _ = run_session(store, [stream])
    upload, get, delete, missing = responses(out)
    assert upload["status"] == "OK" and upload["data_namafile"] == name
    assert get["status"] == "OK"
    assert base64.b64decode(str(get["data_file"])) == data
    assert delete["status"] == "OK"
    assert missing["status"] == "ERROR"


def test_get_streams_in_pieces_of_the_read_chunk(tmp_path: Path) -> None:
    store = FileStore(tmp_path)
    data = bytes(range(256)) * 10  # 2,560 bytes: several 192-byte chunks
    (tmp_path / "f.bin").write_bytes(data)
    session = ServerSession(store, LIMITS, accepted_at=0.0)
    session.receive_data(encode_request("GET", "f.bin"), 0.0)
    sends: list[bytes] = []
    served = []
    while isinstance(action := session.next_action(0.0), Send):
        sends.append(bytes(action.data))
        session.sent(len(action.data), 0.0)
        served.append(session.served)
    assert isinstance(action, Receive) and session.state is State.AWAITING_REQUEST
    assert len(sends) > 10  # prefix, many chunks, the last with the suffix
    assert all(len(s) <= 4 * LIMITS.read_chunk // 3 for s in sends[1:-1])
    # The response counts as done once its last byte is out, not before.
    assert served == [0] * (len(sends) - 1) + [1]
    body = json.loads(b"".join(sends)[: -len(TERMINATOR)])
    assert base64.b64decode(body["data_file"]) == data


# -- deadlines ----------------------------------------------------------------------------


def wait_until(session: ServerSession, now: float) -> tuple[list[Send], Close | Receive]:
    sends = []
    while isinstance(action := session.next_action(now), Send):
        sends.append(Send(bytes(action.data)))
        session.sent(len(action.data), now)
    return sends, action


def error_of(sends: list[Send]) -> str:
    (response,) = responses(b"".join(s.data for s in sends))
    assert response["status"] == "ERROR"
    return str(response["data"])


def test_header_deadline_runs_from_accept(tmp_path: Path) -> None:
    session = ServerSession(FileStore(tmp_path), LIMITS, accepted_at=100.0)
    sends, action = wait_until(session, 100.0)
    assert sends == [] and isinstance(action, Receive) and action.deadline == 120.0
    assert not session.timed_out(119.9)  # early: nothing fires
    assert session.timed_out(120.0)
    sends, action = wait_until(session, 120.0)
    assert error_of(sends) == "request timeout: header not complete after 20 s"
    assert action == Close("header deadline", "deadline", "header", LINGER)


def test_header_deadline_extends_at_the_minimum_rate_up_to_twice(tmp_path: Path) -> None:
    session = ServerSession(FileStore(tmp_path), LIMITS, accepted_at=0.0)
    session.receive_data(b"GET " + b"a" * 2000, 1.0)  # 2,004 bytes: 4 s more at 500 B/s
    _, action = wait_until(session, 1.0)
    assert isinstance(action, Receive) and session.state is State.RECEIVING_HEADER
    assert action.deadline == pytest.approx(20.0 + 2004 / 500)
    session.receive_data(b"a" * 60_000, 2.0)  # far more: capped at twice the timeout
    _, action = wait_until(session, 2.0)
    assert isinstance(action, Receive) and action.deadline == 40.0
    assert session.timed_out(40.0)
    sends, action = wait_until(session, 40.0)
    assert "header not complete after 40 s" in error_of(sends)
    assert isinstance(action, Close)


def test_keepalive_closes_silently_and_the_next_header_has_its_own_clock(tmp_path: Path) -> None:
    session = ServerSession(FileStore(tmp_path), LIMITS, accepted_at=0.0)
    session.receive_data(encode_request("LIST"), 1.0)
    sends, action = wait_until(session, 1.0)
    assert len(sends) == 1 and isinstance(action, Receive)
    assert session.state is State.AWAITING_REQUEST and action.deadline == 31.0
    session.receive_data(b"LI", 30.0)  # a new request begins just in time
    _, action = wait_until(session, 30.0)
    assert isinstance(action, Receive) and session.state is State.RECEIVING_HEADER
    assert action.deadline == pytest.approx(50.0 + 2 / 500)
    quiet = ServerSession(FileStore(tmp_path), LIMITS, accepted_at=0.0)
    quiet.receive_data(encode_request("LIST"), 1.0)
    wait_until(quiet, 1.0)
    assert quiet.timed_out(31.0)
    sends, action = wait_until(quiet, 31.0)
    assert sends == [] and action == Close("keep-alive deadline", "deadline", "keep-alive")


def test_slow_body_is_cut_off_and_its_upload_removed(tmp_path: Path) -> None:
    store = FileStore(tmp_path)
    session = ServerSession(store, LIMITS, accepted_at=0.0)
    session.receive_data(b"UPLOAD slow.bin " + b"QUJD" * 100, 0.0)
    _, action = wait_until(session, 0.0)
    assert isinstance(action, Receive) and session.state is State.RECEIVING_BODY
    assert store.temp_files(), "the upload is being written"
    # 400 bytes in a 20 s window is below 500 B/s.
    assert session.timed_out(action.deadline)
    sends, action = wait_until(session, action.deadline)
    assert "slower than 500 bytes/s" in error_of(sends)
    assert isinstance(action, Close) and action.kind == "deadline"
    assert store.temp_files() == ()
    assert store.list() == []


def test_a_body_at_the_minimum_rate_keeps_going(tmp_path: Path) -> None:
    store = FileStore(tmp_path)
    session = ServerSession(store, LIMITS, accepted_at=0.0)
    session.receive_data(b"UPLOAD ok.bin ", 0.0)
    now = 0.0
    for _ in range(5):  # five windows of 20 s, each with 10,000+ bytes (500 B/s)
        session.receive_data(b"QUJD" * 2600, now)
        assert not session.timed_out(now)  # fast enough: the window rolls on
        _, action = wait_until(session, now)
        assert isinstance(action, Receive) and action.deadline > now
        now = action.deadline
    session.receive_data(TERMINATOR, now)
    sends, _ = wait_until(session, now)
    (answer,) = responses(b"".join(s.data for s in sends))
    assert answer["status"] == "OK"
    assert (tmp_path / "ok.bin").stat().st_size == 5 * 2600 * 3


def test_poll_finds_the_header_without_touching_the_store(tmp_path: Path) -> None:
    """What a readiness driver relies on: a parked session's poll says 'work' once a
    header has arrived, and does no disk work (the worker does that)."""
    store = FileStore(tmp_path)
    session = ServerSession(store, LIMITS, accepted_at=0.0)
    assert isinstance(session.poll(0.0), Receive)
    session.receive_data(b"UPLOAD x.bin QUJD", 0.5)
    assert isinstance(session.poll(0.5), Work)
    assert store.temp_files() == ()
    idle = ServerSession(store, LIMITS, accepted_at=0.0)
    assert isinstance(idle.poll(25.0), Receive)  # poll never fires a deadline itself
    assert idle.timed_out(25.0)


def test_a_waiting_get_tells_the_size_of_the_file_it_asks_for(tmp_path: Path) -> None:
    """What the run queue reads to put a download of a large file with the long
    transfers from its start (docs/architecture.md, "Scheduling")."""
    store = FileStore(tmp_path)
    (tmp_path / "big.bin").write_bytes(b"x" * 3000)

    def asked(request: bytes) -> int | None:
        session = ServerSession(store, LIMITS, accepted_at=0.0)
        session.receive_data(request, 0.1)
        assert isinstance(session.poll(0.1), Work)
        return session.asks_for

    assert asked(encode_request("GET", "big.bin")) == 3000
    assert asked(encode_request("GET", "missing.bin")) is None
    assert asked(encode_request("GET", "dir/")) is None  # refused by the store
    assert asked(encode_request("LIST")) is None
    assert asked(b"UPLOAD big.bin QUJD") is None
    assert store.temp_files() == ()


def test_data_already_arrived_is_judged_before_the_deadline(tmp_path: Path) -> None:
    """A worker that comes late to a waiting connection reads what its client sent in
    time and serves it: the deadline fires only when nothing (more) came."""
    session = ServerSession(FileStore(tmp_path), LIMITS, accepted_at=0.0)
    session.receive_data(encode_request("LIST"), 30.0)  # read at 30 s, past the 20 s
    sends, _ = wait_until(session, 30.0)
    (answer,) = responses(b"".join(s.data for s in sends))
    assert answer == {"status": "OK", "data": []}


def test_a_header_after_a_skipped_request_has_its_own_clock(tmp_path: Path) -> None:
    """A bad request is answered and skipped; the next request's header deadline runs
    from its own first byte, not from the skipped one's."""
    session = ServerSession(FileStore(tmp_path), LIMITS, accepted_at=0.0)
    session.receive_data(b"FROB x " + b"y" * 100, 1.0)  # unknown command, still arriving
    sends, action = wait_until(session, 1.0)
    assert "unknown command" in error_of(sends)
    assert isinstance(action, Receive) and session.state is State.RECEIVING_BODY
    session.receive_data(b"\r\n\r\nLI", 5.0)  # the skipped one ends, a new one begins
    _, action = wait_until(session, 5.0)
    assert isinstance(action, Receive) and session.state is State.RECEIVING_HEADER
    assert action.deadline == pytest.approx(25.0)


def test_a_waiting_connection_holds_no_receive_buffer(tmp_path: Path) -> None:
    session = ServerSession(FileStore(tmp_path), LIMITS, accepted_at=0.0)
    session.receive_data(b"".join(iter_upload_request("big.bin", [b"x" * 300_000])), 0.0)
    _, action = wait_until(session, 0.0)
    assert isinstance(action, Receive) and session.state is State.AWAITING_REQUEST
    assert session.idle
    assert session.held == 0  # the last receive buffer is let go


# -- what the drivers rely on: partial sends, the send deadline, refusal, travel ----------


def test_a_connection_that_waits_has_no_parser_until_its_first_byte(tmp_path: Path) -> None:
    session = ServerSession(FileStore(tmp_path), LIMITS, accepted_at=10.0)
    action = session.next_action(10.0)
    assert action == Receive(30.0)  # the first header's deadline, from accept
    assert session._parser is None and session.idle


def test_a_piece_that_did_not_fit_is_asked_for_again(tmp_path: Path) -> None:
    """The rest of a piece the socket did not take comes back, byte-exact, and the
    response is done only with its last byte."""
    data = bytes(range(256)) * 4
    (tmp_path / "f.bin").write_bytes(data)
    session = ServerSession(FileStore(tmp_path), LIMITS, accepted_at=0.0)
    session.receive_data(encode_request("GET", "f.bin"), 0.0)
    out = bytearray()
    for _ in range(10_000):
        action = session.next_action(0.0)
        if not isinstance(action, Send):
            break
        taken = max(1, len(action.data) // 3)  # the socket takes a third each time
        out += action.data[:taken]
        session.sent(taken, 0.0)
    (answer,) = responses(bytes(out))
    assert base64.b64decode(str(answer["data_file"])) == data
    assert session.served == 1 and session.state is State.AWAITING_REQUEST


def test_a_client_that_takes_nothing_is_closed_at_the_send_deadline(tmp_path: Path) -> None:
    (tmp_path / "f.bin").write_bytes(b"x" * 5000)
    limits = Limits(send_timeout=30.0, read_chunk=3 * 64)
    session = ServerSession(FileStore(tmp_path), limits, accepted_at=0.0)
    session.receive_data(encode_request("GET", "f.bin"), 0.0)
    action = session.next_action(1.0)
    assert isinstance(action, Send) and session.state is State.SENDING_RESPONSE
    session.sent(10, 1.0)  # some of it, then nothing more
    assert session.deadline == 31.0
    session.client_read(20.0)  # a buffering transport saw its buffer shrink: not stalled
    assert session.deadline == 50.0
    assert not session.timed_out(49.9)
    assert session.timed_out(50.0)
    action = session.next_action(50.0)
    # Mid-response the framing cannot carry an error: closed without an answer.
    assert action == Close("send deadline", "deadline", "send")


def test_a_refused_connection_is_answered_then_closed_lingering(tmp_path: Path) -> None:
    session = ServerSession(FileStore(tmp_path), LIMITS, accepted_at=0.0)
    session.refuse("server busy: 3 connections")
    sends, action = wait_until(session, 0.0)
    assert error_of(sends) == "server busy: 3 connections"
    assert isinstance(action, Close) and action.kind == "refused" and action.linger > 0


def test_a_peer_that_leaves_between_requests_is_closed_by_poll(tmp_path: Path) -> None:
    session = ServerSession(FileStore(tmp_path), LIMITS, accepted_at=0.0)
    session.receive_data(b"", 1.0)
    assert session.poll(1.0) == Close("peer closed", "peer")


def test_a_session_travels_mid_upload_and_mid_download(tmp_path: Path) -> None:
    """Pickled with its descriptors handed over separately (as a process pool does),
    a session goes on where it stopped: the upload is stored whole, the download
    arrives byte-exact."""
    import os
    import pickle

    store = FileStore(tmp_path)
    session = ServerSession(store, LIMITS, accepted_at=0.0)
    session.receive_data(b"UPLOAD moved.bin " + base64.b64encode(b"abcdefgh")[:5], 0.0)
    assert isinstance(session.next_action(0.0), Receive)
    fds = session.descriptors()
    assert list(fds) == ["upload"]
    copies = {name: os.dup(fd) for name, fd in fds.items()}
    for fd in fds.values():
        os.close(fd)
    moved = pickle.loads(pickle.dumps(session))
    moved.adopt(store, copies)
    moved.receive_data(base64.b64encode(b"abcdefgh")[5:] + TERMINATOR, 1.0)
    sends, _ = wait_until(moved, 1.0)
    assert responses(b"".join(s.data for s in sends))[0]["status"] == "OK"
    assert (tmp_path / "moved.bin").read_bytes() == b"abcdefgh"

    session = moved  # the one that went on; the original's descriptors are closed
    data = os.urandom(3 * 64 * 5 + 7)
    (tmp_path / "big.bin").write_bytes(data)
    session.receive_data(encode_request("GET", "big.bin"), 2.0)
    out = bytearray()
    for _ in range(3):  # the prefix and a piece and a half
        action = session.next_action(2.0)
        assert isinstance(action, Send)
        taken = len(action.data) if len(out) < 50 else len(action.data) // 2
        out += action.data[:taken]
        session.sent(taken, 2.0)
    fds = session.descriptors()
    assert list(fds) == ["source"]
    copies = {name: os.dup(fd) for name, fd in fds.items()}
    for fd in fds.values():
        os.close(fd)
    moved = pickle.loads(pickle.dumps(session))
    moved.adopt(store, copies)
    sends, _ = wait_until(moved, 3.0)
    out += b"".join(s.data for s in sends)
    (answer,) = responses(bytes(out))
    assert base64.b64decode(str(answer["data_file"])) == data

"""Hostile input against real servers: path tricks in names, malformed requests, fuzzing.

Names go out in both dialects, written by hand (raw sockets, ``json.dumps``), so that
names our own client refuses to encode (spaces, control characters) reach the server
too. Tests marked ``conformance`` only look at the answers, so they also run against
someone else's server with ``--fileproto-target``; the others start a server of their
own and look into its root folder and around it.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import os
import socket
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fileproto.pytest.servers import RunningServer, ServerPool
from fileproto.wire.names import RESERVED_PREFIX
from tests.helpers import (
    IO_TIMEOUT,
    MAX_RESPONSE,
    TERMINATOR,
    RawConnection,
    assert_error,
    json_request,
    no_temp_files,
    request,
    root_snapshot,
    skip_if_target,
    temp_files,
    text_request,
    unique,
    wait_for,
)
from tests.helpers.hostile import (
    BAD_REQUESTS,
    DIALECTS,
    INVALID,
    NAME_CASES,
    ODD_ENVELOPES,
    OURS_ONLY_INVALID,
    odd_envelope,
)
from tests.helpers.kinds import each_kind, every_kind, representative

conformance = pytest.mark.conformance
smoke = pytest.mark.smoke


def assert_list_ok(conn: RawConnection) -> list[str]:
    response = conn.request(json_request("LIST"))
    assert response["status"] == "OK", response
    names = response["data"]
    assert isinstance(names, list) and names == sorted(names), response
    return names


def assert_serves_next_client(server: RunningServer) -> list[str]:
    with RawConnection(server) as conn:
        return assert_list_ok(conn)


# -- servers of our own -------------------------------------------------------------------


@pytest.fixture(scope="module")
def fresh(request: pytest.FixtureRequest, fileproto_servers: ServerPool) -> Iterator[RunningServer]:
    """A server started for this module (kind from the parameter), with an empty root."""
    skip_if_target(fileproto_servers, "inspects the root of a server it starts itself")
    server = fileproto_servers.start(request.param, 2)
    yield server
    fileproto_servers.stop(server)


@pytest.fixture
def clean_root(fresh: RunningServer) -> Iterator[Path]:
    """The fresh server's root, emptied after each test so one failure does not cascade."""
    root = fresh.root
    assert root is not None
    yield root
    for path in root.iterdir():
        with contextlib.suppress(OSError):
            path.unlink()


def _decoded_file(response: dict[str, object]) -> bytes:
    data = response.get("data_file")
    assert isinstance(data, str), response
    return base64.b64decode(data, validate=True)


def _walk_name(
    conn: RawConnection,
    dialect: str,
    raw: str,
    reduced: str | None,
    content: bytes,
    check: Callable[[str], None] = lambda step: None,
    refused_needles: tuple[str, ...] = (),
    missing_needles: tuple[str, ...] = (),
) -> None:
    """GET, DELETE, UPLOAD, GET, DELETE ``raw``; ``check(step)`` runs after each answer.

    ``reduced`` is None for a name that must be refused, else the name the server must
    use: not there at first, then stored, read back and deleted. The needles are words
    the error messages must contain (JSON dialect only: the text dialect cannot carry
    every name intact, so its errors may be about the request's shape instead).
    """
    if reduced is None:
        needles = refused_needles if dialect == "json" else ()
        for command in ("GET", "DELETE", "UPLOAD", "GET", "DELETE"):
            content_or_none = content if command == "UPLOAD" else None
            answer = conn.request(request(dialect, command, raw, content_or_none))
            assert_error(answer, *needles)
            check(f"{command} of a refused name")
        return
    # Nothing under that name yet: whatever lies outside the root is not read or deleted.
    for command in ("GET", "DELETE"):
        assert_error(conn.request(request(dialect, command, raw)), *missing_needles)
        check(f"{command} before the upload")
    uploaded = conn.request(request(dialect, "UPLOAD", raw, content))
    assert uploaded["status"] == "OK", uploaded
    assert uploaded.get("data_namafile") == reduced, uploaded
    check("UPLOAD")
    got = conn.request(request(dialect, "GET", raw))
    assert got["status"] == "OK", got
    assert got.get("data_namafile") == reduced, {k: got[k] for k in got if k != "data_file"}
    assert _decoded_file(got) == content
    check("GET after the upload")
    deleted = conn.request(request(dialect, "DELETE", raw))
    assert deleted["status"] == "OK", deleted
    assert deleted.get("data_namafile") == reduced, deleted
    check("DELETE after the upload")
    assert_error(conn.request(request(dialect, "GET", raw)), *missing_needles)
    check("GET after the delete")


def _sha_or_none(path: Path) -> str | None:
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError:
        return None


#: The hostile names every kind meets in the default run; the session decides the
#: answer to every other one the same way for every kind (tests/test_session_hostile.py).
EVERY_KIND_NAMES = ("etc-passwd-relative", "nul")


@pytest.mark.parametrize("fresh", each_kind(), indirect=True)
@pytest.mark.parametrize("dialect", DIALECTS)
@pytest.mark.parametrize(
    "case", representative([*NAME_CASES, *OURS_ONLY_INVALID], everywhere=EVERY_KIND_NAMES)
)
def test_hostile_names_never_reach_outside_the_root(
    fresh: RunningServer, clean_root: Path, dialect: str, case: str
) -> None:
    root = clean_root
    raw, reduced = NAME_CASES.get(case, (OURS_ONLY_INVALID.get(case, ""), None))
    outside = root.parent
    tag = uuid.uuid4().hex.encode()
    # Files beside the root, under every name a path in REDUCED could point to.
    sentinels = {
        outside / "sentinel": b"sentinel " + tag,
        outside / "x": b"outside x " + tag,
        outside / "b": b"outside b " + tag,
        outside / "passwd": b"outside passwd " + tag,
        outside / RESERVED_PREFIX.rstrip("-"): b"outside reserved " + tag,
        outside.parent / "etc" / "passwd": b"basetemp etc/passwd " + tag,
    }
    for path, data in sentinels.items():
        path.parent.mkdir(exist_ok=True)
        path.write_bytes(data)
    etc_passwd = _sha_or_none(Path("/etc/passwd"))
    content = b"inside " + tag
    # Anything the server stores goes into the root, not elsewhere.
    allowed = {reduced} if reduced is not None else set()

    def check(step: str) -> None:
        for path, data in sentinels.items():
            assert path.is_file(), f"{step}: {path} was deleted"
            assert path.read_bytes() == data, f"{step}: {path} was overwritten"
        assert _sha_or_none(Path("/etc/passwd")) == etc_passwd, f"{step}: /etc/passwd changed"
        names = {p.name for p in root.iterdir()}
        assert names <= allowed, f"{step}: unexpected files in the root: {names - allowed}"

    try:
        with RawConnection(fresh) as conn:
            _walk_name(
                conn,
                dialect,
                raw,
                reduced,
                content,
                check,
                refused_needles=("name",),
                missing_needles=("not found",),
            )
            assert_list_ok(conn)  # the connection is still usable after every answer
        assert list(root.iterdir()) == []
        no_temp_files(root)
        if reduced is not None:
            # Stored while it existed: exactly inside the root, nowhere else.
            assert not (outside / reduced).exists() or (outside / reduced) in sentinels
    finally:
        for path in sentinels:
            path.unlink(missing_ok=True)


@smoke
@pytest.mark.parametrize("fresh", every_kind(), indirect=True)
@pytest.mark.parametrize("dialect", DIALECTS)
def test_upload_in_progress_is_not_reachable_by_its_temporary_name(
    fresh: RunningServer, clean_root: Path, dialect: str
) -> None:
    """A client that guesses (here: reads) a temporary file's name can't read, replace or
    delete it, directly or through a path."""
    root = clean_root
    name = unique("inflight")
    payload = base64.b64encode(os.urandom(300_000))
    with RawConnection(fresh) as writer:
        writer.send(b"UPLOAD " + name.encode() + b" " + payload[: len(payload) // 2])
        (temp,) = wait_for(lambda: temp_files(root), what="the upload in progress")
        written = (root / temp).stat().st_size
        with RawConnection(fresh) as conn:
            for raw in (temp, f"../{root.name}/{temp}", f"x\\{temp}"):
                for command in ("GET", "DELETE"):
                    assert_error(conn.request(request(dialect, command, raw)))
                assert_error(conn.request(request(dialect, "UPLOAD", raw, b"overwrite")))
            assert temp not in assert_list_ok(conn)
        assert temp_files(root) == [temp]
        assert (root / temp).stat().st_size >= written
        writer.send(payload[len(payload) // 2 :] + TERMINATOR)
        assert writer.read()["status"] == "OK"
    no_temp_files(root)
    assert sorted(root_snapshot(root)) == [name]


#: Names with a path, as templates around a unique last component (``{u}``), so they
#: are safe on a server that already holds files; the last component is what remains.
CONFORMANCE_PATHS = {
    "dotdot-path": "../{u}",
    "etc-relative": "../../etc/{u}",
    "etc-absolute": "/etc/{u}",
    "backslash": "..\\{u}",
    "a-dotdot-dotdot-b": "a/../../{u}",
    "windows-drive": "C:\\Windows\\{u}",
}
CONFORMANCE_NAMES = [*CONFORMANCE_PATHS, *INVALID]


@conformance
@pytest.mark.parametrize("fileproto_server", each_kind(), indirect=True)
@pytest.mark.parametrize("dialect", DIALECTS)
@pytest.mark.parametrize("case", CONFORMANCE_NAMES)
def test_hostile_names_answers(fileproto_server: RunningServer, dialect: str, case: str) -> None:
    """Only the answers: ERROR with a message, or the name reduced to its last component."""
    last = unique("hostile")
    if case in CONFORMANCE_PATHS:
        raw, reduced = CONFORMANCE_PATHS[case].format(u=last), last
    else:
        raw, reduced = INVALID[case], None
    with RawConnection(fileproto_server) as conn:
        _walk_name(conn, dialect, raw, reduced, b"payload " + os.urandom(16))
        names = assert_list_ok(conn)
    assert last not in names
    assert_serves_next_client(fileproto_server)


# -- malformed requests -------------------------------------------------------------------


def _send_bad(
    server: RunningServer, case: str, name: str
) -> tuple[dict[str, object], RawConnection]:
    conn = RawConnection(server)
    try:
        conn.send(BAD_REQUESTS[case].make(name))
        return conn.read(), conn
    except BaseException:
        conn.sock.close()
        raise


def _after_bad(conn: RawConnection, server: RunningServer, case: str, name: str) -> None:
    """The connection still works where framing is intact; the server takes a new client."""
    with conn:
        if not BAD_REQUESTS[case].fatal:
            names = assert_list_ok(conn)
            assert name not in names
    names = assert_serves_next_client(server)
    assert name not in names


#: The malformed requests every kind meets in the default run: one the connection
#: survives, one that loses the framing (the server answers, then closes).
EVERY_KIND_REQUESTS = ("b64-bad-char-mid-quantum-json", "header-cap-text")


@pytest.mark.parametrize("fresh", each_kind(), indirect=True)
@pytest.mark.parametrize("case", representative(BAD_REQUESTS, everywhere=EVERY_KIND_REQUESTS))
def test_malformed_request_answered_and_nothing_stored(
    fresh: RunningServer, clean_root: Path, case: str
) -> None:
    root = clean_root
    before = root_snapshot(root)
    name = unique("bad")
    response, conn = _send_bad(fresh, case, name)
    assert_error(response, *BAD_REQUESTS[case].needles)
    _after_bad(conn, fresh, case, name)
    no_temp_files(root)
    assert root_snapshot(root) == before


@conformance
@pytest.mark.parametrize("fileproto_server", each_kind(), indirect=True)
@pytest.mark.parametrize("case", list(BAD_REQUESTS), ids=list(BAD_REQUESTS))
def test_malformed_request_answered(fileproto_server: RunningServer, case: str) -> None:
    name = unique("bad")
    response, conn = _send_bad(fileproto_server, case, name)
    assert_error(response, *BAD_REQUESTS[case].portable)
    _after_bad(conn, fileproto_server, case, name)


# -- JSON envelopes with a payload in an unusual place ----------------------------------


@conformance
@pytest.mark.parametrize("fileproto_server", each_kind(), indirect=True)
@pytest.mark.parametrize("case", list(ODD_ENVELOPES))
def test_odd_json_envelope_gets_one_answer(fileproto_server: RunningServer, case: str) -> None:
    name = unique("odd")
    with RawConnection(fileproto_server) as conn:
        conn.send(odd_envelope(case, name))
        try:
            response = conn.read()
        except AssertionError as exc:
            pytest.fail(f"no answer to {odd_envelope(case, name)!r}: {exc}")
        if response["status"] == "ERROR":
            assert_error(response)
        assert_list_ok(conn)  # the framing was intact: the connection stays usable
        with contextlib.suppress(AssertionError):
            conn.request(json_request("DELETE", name))
    assert_serves_next_client(fileproto_server)


@pytest.mark.parametrize("fresh", each_kind(), indirect=True)
@pytest.mark.parametrize("case", list(ODD_ENVELOPES))
def test_odd_json_envelope_leaves_no_temporary_file(
    fresh: RunningServer, clean_root: Path, case: str
) -> None:
    name = unique("odd")
    with RawConnection(fresh) as conn:
        conn.send(odd_envelope(case, name))
        # One answer, whatever it says (tests/test_session_hostile.py): a server that
        # closed instead fails here.
        assert conn.read()["status"] in ("OK", "ERROR")
    assert_serves_next_client(fresh)
    no_temp_files(clean_root)  # a leaked temporary file never goes
    assert set(root_snapshot(clean_root)) <= {name}


# -- fuzzing ------------------------------------------------------------------------------

_FUZZ_CONTENT = b"fuzz content \x00\xff" * 7
VALID_REQUESTS = [
    b"LIST" + TERMINATOR,
    b"list" + TERMINATOR,
    json_request("LIST"),
    text_request("GET", "fuzz-a.bin"),
    json_request("DOWNLOAD", "fuzz-a.bin"),
    text_request("UPLOAD", "fuzz-a.bin", base64.b64encode(_FUZZ_CONTENT)),
    b"PUT fuzz-b.bin\r\n" + base64.b64encode(_FUZZ_CONTENT[:-1]) + TERMINATOR,
    json_request("UPLOAD", "fuzz-c.bin", base64.b64encode(_FUZZ_CONTENT).decode()),
    b'{"params": ["fuzz-d.bin", "'
    + base64.b64encode(b"xy")
    + b'"], "command": "post"}'
    + TERMINATOR,
    text_request("DELETE", "fuzz-b.bin"),
    json_request("DELETE", "fuzz-c.bin"),
    json_request("GET", "../fuzz-a.bin"),
]


def _flip(request: bytes, flips: list[tuple[int, int]]) -> bytes:
    data = bytearray(request)
    for index, value in flips:
        data[index % len(data)] = value
    return bytes(data)


_valid = st.sampled_from(VALID_REQUESTS)
_truncated = st.tuples(_valid, st.integers(min_value=0, max_value=400)).map(
    lambda t: t[0][: t[1] % max(1, len(t[0]))]
)
_flipped = st.tuples(
    _valid,
    st.lists(
        st.tuples(st.integers(min_value=0, max_value=400), st.integers(0, 255)),
        min_size=1,
        max_size=4,
    ),
).map(lambda t: _flip(*t))
_deleted = st.tuples(
    _valid, st.integers(min_value=0, max_value=400), st.integers(min_value=1, max_value=3)
).map(lambda t: t[0][: t[1] % len(t[0])] + t[0][t[1] % len(t[0]) + t[2] :])
_spliced = st.tuples(
    _valid, _valid, st.integers(0, 400), st.integers(0, 400), st.integers(0, 400)
).map(
    lambda t: (
        t[0][: t[2] % len(t[0])]
        + t[1][t[3] % len(t[1]) : t[3] % len(t[1]) + t[4] % 40]
        + t[0][t[2] % len(t[0]) :]
    )
)
_piece = st.one_of(st.binary(max_size=300), _truncated, _flipped, _deleted, _spliced, _valid)
FUZZ_INPUT = st.lists(_piece, min_size=1, max_size=3).map(b"".join)


FUZZ_IDLE_TIMEOUT = 2.0
#: How long the fuzzing client waits for answers and the close: past the server's idle
#: timeout, so that the server always closes first (unless it hangs), and every run checks
#: the same things whatever the machine's speed.
FUZZ_READ_BOUND = FUZZ_IDLE_TIMEOUT + IO_TIMEOUT


def _fuzz_once(server: RunningServer, data: bytes) -> None:
    """Send ``data``, half-close, read what comes back until the server closes; every
    answer must be well formed."""
    sock = socket.create_connection((server.host, server.port), timeout=IO_TIMEOUT)
    try:
        sock.settimeout(FUZZ_READ_BOUND)
        with contextlib.suppress(OSError):
            sock.sendall(data)
            sock.shutdown(socket.SHUT_WR)
        received = bytearray()
        closed = False
        try:
            for _ in range(1000):
                chunk = sock.recv(1 << 16)
                if not chunk:
                    closed = True
                    break
                received += chunk
                assert len(received) < MAX_RESPONSE, "endless answer"
        except TimeoutError:
            pytest.fail(
                f"the server neither closed nor answered within {FUZZ_READ_BOUND:g} s "
                f"(its idle timeout is {FUZZ_IDLE_TIMEOUT:g} s); input {data[:200]!r}"
            )
        except ConnectionResetError:
            return
    finally:
        sock.close()
    *messages, rest = bytes(received).split(TERMINATOR)
    for message in messages:
        response = json.loads(message)
        assert isinstance(response, dict), message
        assert response.get("status") in ("OK", "ERROR"), response
        if response["status"] == "ERROR":
            assert isinstance(response.get("data"), str) and response["data"], response
    if closed:
        assert rest == b"", f"the server closed in the middle of an answer: {rest[:200]!r}"


@pytest.mark.parametrize("kind", each_kind())
def test_fuzzed_requests_do_not_hurt_the_server(fileproto_servers: ServerPool, kind: str) -> None:
    skip_if_target(fileproto_servers, "inspects the root of a server it starts itself")
    server = fileproto_servers.start(kind, 2, "--idle-timeout", str(FUZZ_IDLE_TIMEOUT))
    root = server.root
    assert root is not None and server.process is not None
    try:

        @settings(
            max_examples=300,
            deadline=None,
            database=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
        )
        @given(data=FUZZ_INPUT)
        def fuzz(data: bytes) -> None:
            _fuzz_once(server, data)

        fuzz()
        assert server.process.running, server.process.output()
        with server.client(timeout=IO_TIMEOUT) as client:
            names = client.list()
            assert names == sorted(names)
            content = os.urandom(100_003)
            for dialect in DIALECTS:
                with server.client(dialect=dialect, timeout=IO_TIMEOUT) as c:
                    name = unique(f"after-fuzz-{dialect}")
                    assert c.upload(content, name).name == name
                    assert c.get(name).sha256 == hashlib.sha256(content).hexdigest()
                    assert name in c.list()
                    c.delete(name)
        no_temp_files(root)
    finally:
        fileproto_servers.stop(server)

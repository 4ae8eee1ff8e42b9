"""Real servers of every kind, driven through sockets, the Client and the command line.

The protocol rules any server must keep are the conformance catalogue's
(fileproto/conformance, run against every kind by tests/test_conformance.py). What stays
here is about our servers themselves: their messages, their root folder on disk, their
entry points, timeouts and workers, and our client against them.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import queue
import re
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from fileproto.client import Client
from fileproto.errors import ServerError
from fileproto.pytest.servers import RunningServer, ServerPool
from fileproto.server.config import DISPATCHES
from fileproto.server.registry import KINDS as REGISTRY
from fileproto.server.registry import MODES
from fileproto.wire import TERMINATOR, encode_request
from tests.helpers import (
    RawConnection,
    assert_error,
    log_of,
    no_temp_files,
    pool_workers,
    skip_if_external,
    skip_if_target,
    temp_files,
    unique,
    wait_for,
)
from tests.helpers.kinds import each_kind, each_mode, every_kind
from tests.helpers.traced import held_by_the_parent, traced

#: The ``python -m`` entry point of each kind, and the classic ``servers.<module>`` ones.
ENTRY_POINTS = [kind.module for kind in REGISTRY.values()] + [
    "servers.threadpool",
    "servers.processpool",
    "servers.eventloop",
]
IO_TIMEOUT = 20.0
MAX_RESPONSE = 64 << 20
REPO = Path(__file__).resolve().parent.parent


def upload_bytes(name: str, content: bytes, dialect: str = "json") -> bytes:
    return encode_request("UPLOAD", name, base64.b64encode(content).decode(), dialect=dialect)  # type: ignore[arg-type]


def assert_ok_list(conn: RawConnection) -> list[str]:
    response = conn.request(encode_request("LIST"))
    assert response["status"] == "OK", response
    names = response["data"]
    assert isinstance(names, list)
    assert names == sorted(names)
    return names


@pytest.mark.smoke
@pytest.mark.parametrize("fileproto_server", every_kind(), indirect=True)
@pytest.mark.parametrize("dialect", ["json", "text"])
@pytest.mark.parametrize("size", [0, 1, 300_001])
def test_round_trip_with_our_client(
    fileproto_server: RunningServer, dialect: str, size: int
) -> None:
    content = os.urandom(size)
    name = unique("round")
    with fileproto_server.client(dialect=dialect, timeout=IO_TIMEOUT, chunk_size=3 * 4096) as c:
        sent = c.upload(content, name)
        assert (sent.name, sent.size) == (name, size)
        assert name in c.list()
        sink = _Sink()
        got = c.get(name, sink)
        assert bytes(sink.data) == content
        assert (got.name, got.size, got.sha256) == (name, size, sent.sha256)
        assert c.delete(name) == name
        assert name not in c.list()
        with pytest.raises(ServerError, match="not found"):
            c.get(name)


@pytest.mark.smoke
@pytest.mark.parametrize("fileproto_server", every_kind(), indirect=True)
def test_a_large_file_streams_both_ways(fileproto_server: RunningServer) -> None:
    """16 MiB, far more than any buffer on the way: it streams through every kind whole."""
    content = os.urandom(16 << 20)
    name = unique("large")
    with fileproto_server.client(timeout=IO_TIMEOUT) as c:
        sent = c.upload(content, name)
        sink = _Sink()
        got = c.get(name, sink)
        assert (got.size, got.sha256) == (len(content), sent.sha256)
        assert bytes(sink.data) == content
        c.delete(name)


class _Sink:
    def __init__(self) -> None:
        self.data = bytearray()

    def write(self, data: bytes) -> int:
        self.data += data
        return len(data)


# -- errors -------------------------------------------------------------------------------

_MISSING = unique("missing")
_BAD_B64 = unique("badb64")


def _json(command: str, *params: object) -> bytes:
    return json.dumps({"command": command, "params": list(params)}).encode() + TERMINATOR


ERROR_CASES = {
    "get-missing-json": (encode_request("GET", _MISSING), ["not found", _MISSING]),
    "get-missing-text": (encode_request("GET", _MISSING, dialect="text"), ["not found", _MISSING]),
    "download-missing": (encode_request("download", _MISSING), ["not found", _MISSING]),
    "delete-missing-json": (encode_request("DELETE", _MISSING), ["not found", _MISSING]),
    "delete-missing-text": (
        encode_request("delete", _MISSING, dialect="text"),
        ["not found", _MISSING],
    ),
    "unknown-command-json": (_json("FROB", "x"), ["unknown command", "FROB"]),
    "unknown-command-text": (b"FROB x\r\n\r\n", ["unknown command", "FROB"]),
    "invalid-base64-json": (_json("UPLOAD", _BAD_B64, "QUJD*QUJD"), ["invalid base64", "4"]),
    "invalid-base64-text": (
        f"UPLOAD {_BAD_B64} QUJDRA==QUJD\r\n\r\n".encode(),
        ["invalid base64", "8"],
    ),
    "invalid-base64-text-crlf": (
        f"UPLOAD {_BAD_B64}\r\nQU JD\r\n\r\n".encode(),
        ["invalid base64", "2"],
    ),
    "get-no-name-json": (_json("GET"), ["parameter", "name"]),
    "get-no-name-text": (b"GET\r\n\r\n", ["parameter", "name"]),
    "delete-no-name": (_json("DELETE"), ["parameter", "name"]),
    "upload-no-content-json": (_json("UPLOAD", _BAD_B64), ["parameter", "base64"]),
    "upload-no-content-text": (f"UPLOAD {_BAD_B64}\r\n\r\n".encode(), ["parameter", "base64"]),
    "list-extra-param": (_json("LIST", "x"), ["parameter"]),
    "name-dotdot": (_json("GET", ".."), ["name", ".."]),
    "name-dot-text": (b"DELETE .\r\n\r\n", ["name"]),
    "name-empty": (_json("GET", ""), ["name"]),
    "name-only-a-path": (_json("GET", "some/dir/"), ["name"]),
    "name-control-char": (_json("UPLOAD", "a\x01b.bin", "QUJD"), ["name"]),
    "name-nul": (_json("DELETE", "a\x00b"), ["name"]),
    "name-too-long": (_json("GET", "n" * 256), ["name", "255"]),
    "name-not-a-string": (_json("GET", 7), ["name"]),
    "json-not-an-object": (b'["GET", "x"]\r\n\r\n', ["object"]),
    "json-malformed": (b'{"command": "LIST", "params": [}\r\n\r\n', ["json"]),
    "json-no-command": (b'{"params": []}\r\n\r\n', ["command"]),
}


@pytest.mark.parametrize("fileproto_server", each_kind(), indirect=True)
@pytest.mark.parametrize("case", list(ERROR_CASES), ids=list(ERROR_CASES))
def test_our_error_messages_name_the_problem(fileproto_server: RunningServer, case: str) -> None:
    """Our wording (the catalogue checks only status and effect, for any server)."""
    skip_if_external(fileproto_server, "about our server's messages")
    request, needles = ERROR_CASES[case]
    with RawConnection(fileproto_server) as conn:
        assert_error(conn.request(request), *needles)
        names = assert_ok_list(conn)
        # Nothing half-written became visible, and the failed name was not stored.
        assert _BAD_B64 not in names
        assert not any(n.startswith(".fileproto-upload-") for n in names)
        assert conn.request(encode_request("GET", _MISSING))["status"] == "ERROR"


@pytest.fixture(params=every_kind())
def own_server(
    request: pytest.FixtureRequest, fileproto_servers: ServerPool
) -> Iterator[RunningServer]:
    """A server whose root no other test touches: for assertions about every file in it
    (a shared server's root may hold another test's upload in flight)."""
    skip_if_target(fileproto_servers, "inspects the root of a server it starts itself")
    server = fileproto_servers.start(request.param, 2)
    yield server
    fileproto_servers.stop(server)


@pytest.mark.smoke
def test_failed_upload_leaves_no_temporary_file(own_server: RunningServer) -> None:
    fileproto_server = own_server
    assert fileproto_server.root is not None
    name = unique("tmp")
    big_bad = (
        b"UPLOAD "
        + name.encode()
        + b" "
        + base64.b64encode(os.urandom(3 << 18))
        + b"!!!!"
        + TERMINATOR
    )
    with RawConnection(fileproto_server) as conn:
        assert_error(conn.request(big_bad), "invalid base64", str(4 << 18))
        assert_ok_list(conn)  # the server has finished with the request
    leftovers = [p.name for p in fileproto_server.root.iterdir() if p.name.startswith(".fileproto")]
    assert leftovers == []
    assert not (fileproto_server.root / name).exists()


@pytest.mark.smoke
@pytest.mark.parametrize("fileproto_server", every_kind(), indirect=True)
def test_nothing_written_outside_the_root(fileproto_server: RunningServer) -> None:
    root = fileproto_server.root
    assert root is not None
    name = unique("escape")
    with fileproto_server.client(timeout=IO_TIMEOUT) as client:
        assert client.upload(b"x", f"../../{name}").name == name
        assert (root / name).read_bytes() == b"x"
        assert not (root.parent / name).exists()
        assert not (root.parent.parent / name).exists()
        client.delete(name)


@pytest.mark.smoke
def test_disconnect_mid_upload_leaves_nothing(own_server: RunningServer) -> None:
    fileproto_server = own_server
    root = fileproto_server.root
    assert root is not None
    name = unique("cut")
    with RawConnection(fileproto_server) as conn:
        conn.send(b"UPLOAD " + name.encode() + b" " + base64.b64encode(os.urandom(600_000)))
        conn.send(encode_request("LIST"))  # inside the payload: only makes it invalid later
    no_temp_files(root)
    assert not (root / name).exists()


@pytest.mark.smoke
@pytest.mark.parametrize("fileproto_server", every_kind(), indirect=True)
def test_symlinks_and_folders_in_the_root_are_not_followed(
    fileproto_server: RunningServer, tmp_path: Path
) -> None:
    root = fileproto_server.root
    assert root is not None
    outside = tmp_path / "outside.txt"
    outside.write_bytes(b"secret")
    link, folder = unique("link"), unique("dir")
    (root / link).symlink_to(outside)
    (root / folder).mkdir()
    try:
        with fileproto_server.client(timeout=IO_TIMEOUT) as client:
            for name in (link, folder):
                with pytest.raises(ServerError, match="not found"):
                    client.get(name)
                with pytest.raises(ServerError, match="not found"):
                    client.delete(name)
                with pytest.raises(ServerError, match=re.escape(name)):
                    client.upload(b"overwritten", name)
                assert name not in client.list()
        assert outside.read_bytes() == b"secret"
        assert (root / link).is_symlink()
    finally:
        (root / link).unlink()
        (root / folder).rmdir()


@pytest.mark.smoke
@pytest.mark.parametrize("fileproto_server", every_kind(), indirect=True)
@pytest.mark.parametrize("dialect", ["json", "text"])
def test_client_raises_server_error_with_the_message(
    fileproto_server: RunningServer, dialect: str
) -> None:
    skip_if_external(fileproto_server, "matches our server's messages")
    name = unique("nope")
    with fileproto_server.client(dialect=dialect, timeout=IO_TIMEOUT) as client:
        with pytest.raises(ServerError) as info:
            client.get(name)
        assert "not found" in info.value.message
        assert name in info.value.message
        with pytest.raises(ServerError, match=re.escape(name)):
            client.delete(name)
        with pytest.raises(ServerError, match="name"):
            client.upload(b"abc", "..")
        assert isinstance(client.list(), list)  # still usable after errors


# -- entry points -------------------------------------------------------------------------


def _line_reader(stream: object) -> queue.Queue[str | None]:
    lines: queue.Queue[str | None] = queue.Queue()

    def pump() -> None:
        for line in stream:  # type: ignore[attr-defined]
            lines.put(line)
        lines.put(None)

    threading.Thread(target=pump, daemon=True).start()
    return lines


@pytest.fixture
def spawned() -> Iterator[list[subprocess.Popen[str]]]:
    """Processes a test starts; their whole group is killed if the test leaves them running."""
    procs: list[subprocess.Popen[str]] = []
    yield procs
    for proc in procs:
        if proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(10)


@pytest.mark.smoke
@pytest.mark.parametrize("module", ENTRY_POINTS)
def test_python_m_server_prints_one_line_and_serves(
    module: str, tmp_path: Path, spawned: list[subprocess.Popen[str]]
) -> None:
    root = tmp_path / "root"
    proc = subprocess.Popen(
        [sys.executable, "-m", module, "2", "--port", "0", "--root", str(root)],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=REPO,
        start_new_session=True,
    )
    spawned.append(proc)
    lines = _line_reader(proc.stdout)
    try:
        first = lines.get(timeout=60)
    except queue.Empty:
        pytest.fail(f"{module} printed nothing within 60 s")
    assert first is not None, proc.stderr.read() if proc.stderr else ""
    match = re.fullmatch(r"listening on 127\.0\.0\.1:(\d+)\n", first)
    assert match, first
    port = int(match.group(1))
    assert 0 < port < 65536
    with Client("127.0.0.1", port, timeout=IO_TIMEOUT) as client:
        client.upload(b"served", "hello.txt")
        assert client.list() == ["hello.txt"]
    assert (root / "hello.txt").read_bytes() == b"served"
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(20) == 0
    rest = []
    while (line := lines.get(timeout=10)) is not None:
        rest.append(line)
    assert [line for line in rest if line.startswith("listening on")] == []
    assert rest == [], rest  # exactly one line on stdout


def _cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "fileproto", *args],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=cwd,
        stdin=subprocess.DEVNULL,
    )


@pytest.mark.smoke
def test_serve_listens_where_the_client_commands_look_by_default() -> None:
    """``fileproto serve &`` then ``fileproto ls`` works: with no --port the server binds
    the address every client command (and the stress command) uses with no --server.
    (Checked on the parser: a test never binds a fixed port on a shared machine.)"""
    from fileproto.cli import build_parser
    from fileproto.client import parse_address

    parser = build_parser()
    serve = parser.parse_args(["serve"])
    for command in (["ls"], ["get", "x"], ["put", "x"], ["rm", "x"], ["stress"]):
        server = parser.parse_args(command).server
        # stress parses its HOST:PORT already; the others keep the text.
        address = parse_address(server) if isinstance(server, str) else tuple(server)
        assert address == (serve.host, serve.port), (command, server)
    assert serve.port == 45000


@pytest.mark.smoke
@pytest.mark.parametrize("fileproto_server", ["thread"], indirect=True)
def test_cli_put_ls_get_rm(fileproto_server: RunningServer, tmp_path: Path) -> None:
    address = f"{fileproto_server.host}:{fileproto_server.port}"
    name = unique("cli")
    source = tmp_path / "source.bin"
    content = os.urandom(200_001)
    source.write_bytes(content)

    put = _cli("put", str(source), name, "--server", address, cwd=tmp_path)
    assert put.returncode == 0, put.stderr
    assert name in put.stdout

    ls = _cli("ls", "--server", address, cwd=tmp_path)
    assert ls.returncode == 0, ls.stderr
    assert name in ls.stdout.splitlines()

    out = tmp_path / "copy.bin"
    get = _cli("get", name, str(out), "--server", address, cwd=tmp_path)
    assert get.returncode == 0, get.stderr
    assert out.read_bytes() == content

    rm = _cli("rm", name, "--server", address, cwd=tmp_path)
    assert rm.returncode == 0, rm.stderr
    assert name in rm.stdout

    missing = _cli("get", name, str(tmp_path / "nothing.bin"), "--server", address, cwd=tmp_path)
    assert missing.returncode != 0
    assert "not found" in missing.stderr
    assert name in missing.stderr
    assert not (tmp_path / "nothing.bin").exists()
    assert not (tmp_path / "nothing.bin.part").exists()


@pytest.mark.parametrize("mode", each_mode())
@pytest.mark.parametrize("send", [b"", b"LIS"], ids=["silent", "partial-header"])
def test_idle_connection_closed_after_timeout(
    fileproto_servers: ServerPool, mode: str, send: bytes
) -> None:
    """In every kind and dispatch mode: the deadline is waited for in a worker (accept),
    in a selector (ready) or in an event loop."""
    skip_if_target(fileproto_servers, "starts its own server")
    kind, args = MODES[mode]
    # A short deadline: the test waits it out, and only asks that it closes the connection.
    server = fileproto_servers.start(kind, 1, *args, "--idle-timeout", "0.25")
    try:
        with RawConnection(server, timeout=5.0) as conn:
            if send:
                conn.send(send)
            try:
                conn.read_until_closed()
            except TimeoutError:
                pytest.fail("the idle connection was still open after 5 s")
        # The server still serves new connections afterwards.
        with RawConnection(server, timeout=5.0) as conn:
            assert assert_ok_list(conn) == []
    finally:
        fileproto_servers.stop(server)


@pytest.mark.smoke
@pytest.mark.parametrize("fileproto_server", ["thread"], indirect=True)
def test_cli_get_to_stdout(fileproto_server: RunningServer, tmp_path: Path) -> None:
    """``fileproto get NAME -`` writes the file to stdout, as its help says."""
    address = f"{fileproto_server.host}:{fileproto_server.port}"
    name = unique("stdout")
    content = b"to stdout\n" * 100
    with fileproto_server.client(timeout=IO_TIMEOUT) as client:
        client.upload(content, name)
    try:
        result = subprocess.run(
            [sys.executable, "-m", "fileproto", "get", name, "-", "--server", address],
            capture_output=True,
            timeout=60,
            cwd=tmp_path,
            stdin=subprocess.DEVNULL,
        )
        assert result.returncode == 0, result.stderr
        assert not (tmp_path / "-").exists(), "wrote a file named '-' instead of stdout"
        assert result.stdout == content
    finally:
        with fileproto_server.client(timeout=IO_TIMEOUT) as client:
            client.delete(name)


# -- the process pool survives a dead worker ----------------------------------------------


@pytest.fixture(params=DISPATCHES)
def fresh_process_server(
    fileproto_servers: ServerPool, request: pytest.FixtureRequest
) -> Iterator[RunningServer]:
    skip_if_target(fileproto_servers, "kills workers of a server it starts itself")
    server = fileproto_servers.start("process", 2, "--dispatch", request.param)
    yield server
    fileproto_servers.stop(server)


@pytest.mark.smoke
def test_busy_worker_dies_its_client_sees_eof_and_server_keeps_serving(
    fileproto_servers: ServerPool,
) -> None:
    """The classic dispatch: a worker owns its connection from accept to close, and the
    connection ends with it."""
    with traced(fileproto_servers, "process", 2, "--dispatch", "accept") as (server, _):
        assert server.root is not None and server.process is not None
        root = server.root
        with RawConnection(server, timeout=10.0) as busy:
            busy.send(b"UPLOAD held.bin QUJD")
            wait_for(lambda: temp_files(root), what="a worker to take the upload")
            workers = pool_workers(server)
            assert len(workers) == 2, workers
            for pid in workers:
                # Once one worker dies the pool terminates its siblings itself.
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
            try:
                assert busy.read_until_closed() == b""
            except ConnectionResetError:
                pass
            except TimeoutError:
                pytest.fail("the connection of a dead worker was left hanging")
        with server.client(timeout=IO_TIMEOUT) as client:
            assert client.list() == []
        assert "worker process died" in server.process.output()


@pytest.mark.smoke
def test_a_connection_given_back_outlives_the_workers(fileproto_servers: ServerPool) -> None:
    """The readiness dispatch: an upload whose body paused is given back to the parent
    with its session; the worker killed then, it waits there, and the worker that
    replaces it finishes it."""
    with traced(fileproto_servers, "process", 1) as (server, trace):
        assert server.root is not None and server.process is not None
        root = server.root
        with RawConnection(server, timeout=10.0) as busy:
            busy.send(b"UPLOAD held.bin QUJD")
            held_by_the_parent(server, trace, busy.sock)
            (worker,) = pool_workers(server)
            os.kill(worker, signal.SIGKILL)
            busy.send(b"REVG\r\n\r\n")
            assert busy.read()["status"] == "OK"
        assert (root / "held.bin").read_bytes() == b"ABCDEF"
        assert "worker process died" in server.process.output()


@pytest.mark.smoke
def test_idle_worker_dies_next_client_is_still_answered(
    fresh_process_server: RunningServer,
) -> None:
    """If a worker dies, the server replaces the pool and keeps serving
    (docs/architecture.md): a connection no worker ever took is served by the new pool,
    not dropped."""
    server = fresh_process_server
    workers = pool_workers(server)
    assert len(workers) == 2, workers
    os.kill(workers[0], signal.SIGKILL)
    # A client arriving while the broken pool is being torn down may lose its
    # connection with it (an error or a reset); "the next client" is one that comes
    # once the pool has been replaced, which the server logs.
    wait_for(lambda: "replacing the pool" in log_of(server), what="the pool's replacement")
    for attempt in range(3):
        with RawConnection(server, timeout=10.0) as conn:
            try:
                response = conn.request(encode_request("LIST"))
            except (AssertionError, ConnectionResetError) as exc:
                pytest.fail(f"connection {attempt} after the worker died was dropped: {exc}")
            assert response == {"status": "OK", "data": []}

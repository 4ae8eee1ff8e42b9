"""Faults around real servers: clients that vanish or stall, racing uploads, dead
workers, SIGTERM mid-transfer, and the upload size limit.

Most of these start a server of their own (they look into its root, kill its workers or
signal it); those marked ``conformance`` only talk to the server through its socket.
"""

from __future__ import annotations

import base64
import contextlib
import os
import select
import signal
import socket
import struct
import subprocess
import threading
import time
from collections.abc import Iterator

import pytest

from fileproto.pytest.servers import RunningServer, ServerPool
from tests.helpers import (
    IO_TIMEOUT,
    LIST_REQUEST,
    MIB,
    TERMINATOR,
    log_of,
    no_temp_files,
    peer_name,
    pool_workers,
    read_response,
    sha,
    skip_if_target,
    temp_files,
    unique,
    upload_prefix,
    upload_suffix,
    wait_for,
)
from tests.helpers.kinds import each_kind, every_kind
from tests.helpers.traced import held_by_the_parent, traced

conformance = pytest.mark.conformance

DIALECTS = ["json", "text"]


@pytest.fixture(scope="module")
def fresh(request: pytest.FixtureRequest, fileproto_servers: ServerPool) -> Iterator[RunningServer]:
    """A server of this module's own (kind from the parameter, 2 workers), empty root."""
    skip_if_target(fileproto_servers)
    server = fileproto_servers.start(request.param, 2)
    yield server
    fileproto_servers.stop(server)


# -- a client vanishes mid-upload ---------------------------------------------------------


@pytest.mark.parametrize("fresh", each_kind(), indirect=True)
@pytest.mark.parametrize("dialect", DIALECTS)
@pytest.mark.parametrize("how", ["close", "reset"])
def test_disconnect_halfway_keeps_the_previous_version(
    fresh: RunningServer, dialect: str, how: str
) -> None:
    root = fresh.root
    assert root is not None
    name = unique("half")
    previous = os.urandom(MIB + 7)
    with fresh.client(timeout=IO_TIMEOUT) as client:
        client.upload(previous, name)
    before = set(p.name for p in root.iterdir())
    encoded = base64.b64encode(os.urandom(4 * MIB))
    half = encoded[: len(encoded) // 2]
    sock = socket.create_connection((fresh.host, fresh.port), timeout=IO_TIMEOUT)
    try:
        sock.sendall(upload_prefix(dialect, name))
        for start in range(0, len(half), 256 * 1024):
            sock.sendall(half[start : start + 256 * 1024])
        # The server is writing the new version somewhere by now.
        wait_for(lambda: temp_files(root), what="the upload in progress (a temporary file)")
        assert (root / name).read_bytes() == previous, "a half-written file became visible"
        if how == "reset":
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    finally:
        sock.close()
    no_temp_files(root)
    assert set(p.name for p in root.iterdir()) == before, "a partial file appeared"
    assert sha((root / name).read_bytes()) == sha(previous)
    with fresh.client(timeout=IO_TIMEOUT) as client:
        assert client.get(name).sha256 == sha(previous)
        client.delete(name)


# -- uploads of one name race -------------------------------------------------------------


@conformance
@pytest.mark.parametrize("fileproto_server", each_kind(), indirect=True)
@pytest.mark.parametrize("uploaders", [2, 10])
def test_concurrent_uploads_of_one_name_leave_one_whole_version(
    fileproto_server: RunningServer, uploaders: int
) -> None:
    name = unique("race")
    versions = [os.urandom(2 * MIB + i) for i in range(uploaders)]
    hashes = {sha(v) for v in versions}
    barrier = threading.Barrier(uploaders, timeout=30)
    errors: list[BaseException] = []

    def put(content: bytes) -> None:
        try:
            with fileproto_server.client(timeout=60.0) as client:
                barrier.wait()
                assert client.upload(content, name).name == name
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=put, args=(v,), daemon=True) for v in versions]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=90)
    assert not any(t.is_alive() for t in threads), "an upload hung"
    assert errors == []
    with fileproto_server.client(timeout=IO_TIMEOUT) as client:
        got = client.get(name)
        assert got.sha256 in hashes, "the stored file is not one of the uploaded versions"
        assert got.size in {len(v) for v in versions if sha(v) == got.sha256}
        client.delete(name)


# -- idle clients -------------------------------------------------------------------------

IDLE_TIMEOUT = 1.0
#: How long to wait for the server to close an idle connection: a bound on a hang, far
#: past the idle timeout, not a measure of when it should happen.
CLOSE_BOUND = IDLE_TIMEOUT + 30


def _hold_until_closed(sock: socket.socket, mode: str, bound: float) -> bool:
    """Keep ``sock`` open the way ``mode`` says until the server closes it (True), or
    give up after ``bound`` seconds (False)."""
    if mode == "dribble-header":
        pending = iter(b"GET " + b"n" * 1000)
    elif mode == "dribble-payload":
        sock.sendall(b"UPLOAD dribble.bin ")
        pending = iter(b"QUJD" * 1000)
    else:
        pending = iter(())
    deadline = time.monotonic() + bound
    while time.monotonic() < deadline:
        byte = next(pending, None)
        if byte is not None:
            try:
                sock.sendall(bytes([byte]))
            except (BrokenPipeError, ConnectionResetError):
                return True
        # Waits for the close, and paces the dribble at a byte a second: a slowloris
        # client, slow on purpose (the select returns at once when the server closes).
        ready, _, _ = select.select([sock], [], [], 1.0)
        if ready:
            try:
                data = sock.recv(1 << 16)
            except ConnectionResetError:
                return True
            if not data:
                return True
            # An error answer before closing is fine; keep waiting for the close.
    return False


@pytest.mark.parametrize("kind", each_kind())
@pytest.mark.parametrize("mode", ["silent", "dribble-header", "dribble-payload"])
def test_idle_connection_closed_and_waiting_client_served(
    fileproto_servers: ServerPool, kind: str, mode: str
) -> None:
    skip_if_target(fileproto_servers)
    # The classic dispatch, where a waiting client holds the one worker (the readiness
    # dispatch never gives it one: tests/test_waiting_clients.py).
    # --verbose: the server logs when a worker takes a connection and why it closes one.
    args = ("--dispatch", "accept", "--idle-timeout", str(IDLE_TIMEOUT), "--verbose")
    server = fileproto_servers.start(kind, 1, *args)
    try:
        idle = socket.create_connection((server.host, server.port), timeout=IO_TIMEOUT)
        waiting = None
        try:
            idle_peer = peer_name(idle.getsockname())
            # The one worker takes the idle connection first.
            wait_for(
                lambda: f"{idle_peer}: connected" in log_of(server),
                what=lambda: f"the worker to take {idle_peer}; server log:\n{log_of(server)}",
            )
            waiting = socket.create_connection((server.host, server.port), timeout=IO_TIMEOUT)
            waiting.sendall(LIST_REQUEST)
            assert _hold_until_closed(idle, mode, CLOSE_BOUND), (
                f"{mode}: still open {CLOSE_BOUND:g} s later (idle timeout {IDLE_TIMEOUT:g} s)"
            )
            # Closed because its deadline fired, not for another reason.
            deadline = "body" if mode == "dribble-payload" else "header"
            wait_for(
                lambda: f"{idle_peer}: closing: {deadline} deadline" in log_of(server),
                what=lambda: (
                    f"the server to log the idle timeout of {idle_peer}:\n{log_of(server)}"
                ),
            )
            try:
                response = read_response(waiting)
            except TimeoutError:
                pytest.fail("the waiting client got no answer after the idle one was closed")
            # Served once the worker was free: its request arrived in time, though the
            # worker came to read it only after the idle one's deadline.
            assert response == {"status": "OK", "data": []}
            waiting.close()  # the classic worker is held until its client leaves
            with socket.create_connection((server.host, server.port), IO_TIMEOUT) as late:
                late.sendall(LIST_REQUEST)
                assert read_response(late) == {"status": "OK", "data": []}
        finally:
            idle.close()
            if waiting is not None:
                waiting.close()
        assert server.root is not None
        no_temp_files(server.root)
    finally:
        fileproto_servers.stop(server)


# -- a worker process dies mid-request ----------------------------------------------------


@pytest.mark.smoke
def test_worker_killed_mid_upload(fileproto_servers: ServerPool) -> None:
    """The worker killed while an upload's body pauses (given back to the parent with
    its session): its replacement finishes it, stored whole, and the server goes on
    serving. (A connection a worker holds when it dies ends with it, and a pool's other
    workers go with the dead one: tests/test_servers.py.)"""
    with traced(fileproto_servers, "process", 1) as (server, trace):
        root = server.root
        assert root is not None and server.process is not None
        victims = pool_workers(server)
        assert len(victims) == 1, victims
        content = os.urandom(300_000)
        killed = unique("killed")
        with socket.create_connection((server.host, server.port), timeout=IO_TIMEOUT) as busy:
            busy.sendall(b"UPLOAD " + killed.encode() + b" " + base64.b64encode(content))
            held_by_the_parent(server, trace, busy)
            os.kill(victims[0], signal.SIGKILL)
            busy.sendall(TERMINATOR)
            assert read_response(busy)["status"] == "OK"
        with server.client(timeout=IO_TIMEOUT) as client:
            assert client.get(killed).sha256 == sha(content)
            client.delete(killed)
            after = os.urandom(500_001)
            name = unique("after-kill")
            assert client.upload(after, name).name == name
            assert client.get(name).sha256 == sha(after)
            assert client.list() == [name]
            client.delete(name)
        assert server.process.running
        assert not set(pool_workers(server)) & set(victims)
        process = server.process
    assert process.proc is not None and process.proc.returncode == 0, process.output()
    assert temp_files(root) == [], "a temporary file outlived the server"


# -- SIGTERM with uploads in flight -------------------------------------------------------

IN_FLIGHT = 5
#: Each upload's size, and the grace period: the two fast ones (2 MiB at once) finish well
#: within it, the slow ones (over 6 s of pacing) cannot.
TERM_SIZE = 2 * MIB
GRACE = 1.0
#: How long to wait for the server's exit after SIGTERM: a bound on a hang, far past the
#: grace period, not a measure of when it should happen.
EXIT_BOUND = GRACE + 30


@pytest.mark.smoke
@pytest.mark.parametrize("kind", every_kind())
def test_sigterm_with_uploads_in_flight(fileproto_servers: ServerPool, kind: str) -> None:
    """Uploads that can finish within the grace period are stored; the rest are cut off
    and leave nothing; the server exits 0 and no temporary file remains."""
    skip_if_target(fileproto_servers)
    server = fileproto_servers.start(kind, IN_FLIGHT, "--grace", str(GRACE))
    root = server.root
    assert root is not None and server.process is not None
    proc = server.process.proc
    assert proc is not None
    contents = {unique(f"term{i}"): os.urandom(TERM_SIZE) for i in range(IN_FLIGHT)}
    names = list(contents)
    fast = set(names[:2])  # send the rest at once after SIGTERM; the others crawl
    started = threading.Barrier(IN_FLIGHT + 1, timeout=30)
    go = threading.Event()
    outcomes: dict[str, str] = {}

    def upload(name: str) -> None:
        encoded = base64.b64encode(contents[name])
        first = len(encoded) // 4
        try:
            with socket.create_connection((server.host, server.port), timeout=IO_TIMEOUT) as sock:
                sock.sendall(b"UPLOAD " + name.encode() + b" " + encoded[:first])
                started.wait()
                go.wait(30)
                rest = encoded[first:]
                piece = len(rest) if name in fast else 64 * 1024
                for start in range(0, len(rest), piece):
                    sock.sendall(rest[start : start + piece])
                    if name not in fast:
                        # Pacing, not synchronisation: a client too slow to finish
                        # within the grace period (33 pieces, 0.2 s apart).
                        time.sleep(0.2)
                sock.sendall(TERMINATOR)
                response = read_response(sock)
                outcomes[name] = str(response["status"])
        except (OSError, EOFError) as exc:
            outcomes[name] = f"cut: {exc!r}"
        except BaseException as exc:
            outcomes[name] = f"failed: {exc!r}"

    threads = [threading.Thread(target=upload, args=(n,), daemon=True) for n in names]
    try:
        for thread in threads:
            thread.start()
        started.wait()
        wait_for(
            lambda: len(temp_files(root)) == IN_FLIGHT,
            what=lambda: f"all {IN_FLIGHT} uploads in flight: {temp_files(root)}",
        )
        proc.send_signal(signal.SIGTERM)
        go.set()
        try:
            code = proc.wait(timeout=EXIT_BOUND)
        except subprocess.TimeoutExpired:
            pytest.fail(
                f"the server did not exit within {EXIT_BOUND:g} s of SIGTERM (grace {GRACE:g} s):"
                f"\n{server.process.output()}"
            )
        for thread in threads:
            thread.join(timeout=IO_TIMEOUT + 10)
        assert not any(t.is_alive() for t in threads), "an uploader hung"
    finally:
        go.set()
        fileproto_servers.stop(server)
    assert code == 0, server.process.output()
    assert temp_files(root) == [], "temporary files left after SIGTERM"
    stored = {p.name: p.read_bytes() for p in root.iterdir()}
    for name, data in stored.items():
        assert name in contents, f"unexpected file {name}"
        assert sha(data) == sha(contents[name]), f"{name} is incomplete ({len(data)} bytes)"
    for name, outcome in outcomes.items():
        if outcome == "OK":
            assert name in stored, f"{name} was acknowledged but not stored"
        assert not outcome.startswith("failed"), (name, outcome)
    for name in fast:
        assert outcomes.get(name) == "OK", f"an upload that finished within the grace: {outcomes}"
    for name in set(names) - fast:  # over 6 s of pacing: past the grace, cut off
        assert outcomes[name].startswith("cut"), (name, outcomes[name])
        assert name not in stored, f"{name} was cut off but stored"
    assert len(outcomes) == IN_FLIGHT, outcomes


# -- the upload size limit ----------------------------------------------------------------


#: Pieces of the upload sent before the client stops and waits for the refusal. The limit
#: (1 MiB) is passed in piece 6 (each decodes to 192 KiB); the request is far from complete.
SENT_BEFORE_WAITING = 12


@pytest.fixture(scope="module")
def limited(
    request: pytest.FixtureRequest, fileproto_servers: ServerPool
) -> Iterator[RunningServer]:
    skip_if_target(fileproto_servers)
    server = fileproto_servers.start(request.param, 2, "--max-file-size", "1M")
    yield server
    fileproto_servers.stop(server)


@pytest.mark.parametrize("limited", each_kind(), indirect=True)
@pytest.mark.parametrize("dialect", DIALECTS)
def test_upload_over_the_limit_refused_while_sending(limited: RunningServer, dialect: str) -> None:
    root = limited.root
    assert root is not None
    name = unique("big")
    encoded = base64.b64encode(os.urandom(8 * MIB))
    piece = 256 * 1024
    pieces = [encoded[i : i + piece] for i in range(0, len(encoded), piece)]
    assert len(pieces) > SENT_BEFORE_WAITING
    buffer = bytearray()
    with socket.create_connection((limited.host, limited.port), timeout=IO_TIMEOUT) as sock:
        sock.sendall(upload_prefix(dialect, name))
        for chunk in pieces[:SENT_BEFORE_WAITING]:
            sock.sendall(chunk)
        # The client sends nothing more until it has the answer: a server that answers
        # only once the whole upload has arrived never answers here.
        try:
            response = read_response(sock, buffer)
        except TimeoutError:
            pytest.fail(
                f"no answer after {SENT_BEFORE_WAITING} of {len(pieces)} pieces, past the "
                "limit: the server waits for the whole upload before refusing it"
            )
        for chunk in pieces[SENT_BEFORE_WAITING:]:
            sock.sendall(chunk)
        sock.sendall(upload_suffix(dialect))
        assert response["status"] == "ERROR", response
        message = str(response.get("data", ""))
        assert "limit" in message.lower() or "too large" in message.lower(), message
        assert str(MIB) in message or "1M" in message or "1 MiB" in message, message
        # The rest of the request was skipped; the connection keeps serving.
        sock.sendall(LIST_REQUEST)
        listed = read_response(sock, buffer)
        assert listed["status"] == "OK" and name not in listed["data"], listed  # type: ignore[operator]
        # Exactly the limit is allowed, one byte more is not.
        at_limit = os.urandom(MIB)
        sock.sendall(upload_prefix(dialect, name) + base64.b64encode(at_limit))
        sock.sendall(upload_suffix(dialect))
        assert read_response(sock, buffer)["status"] == "OK"
        sock.sendall(upload_prefix(dialect, name) + base64.b64encode(at_limit + b"x"))
        sock.sendall(upload_suffix(dialect))
        assert read_response(sock, buffer)["status"] == "ERROR"
    no_temp_files(root)
    assert (root / name).read_bytes() == at_limit
    assert set(p.name for p in root.iterdir()) == {name}
    (root / name).unlink()
    with limited.client(timeout=IO_TIMEOUT) as client:
        assert client.list() == []


@pytest.mark.parametrize("kind", each_kind())
def test_a_burst_of_signals_stops_the_server_all_the_same(
    fileproto_servers: ServerPool, kind: str
) -> None:
    """SIGTERM several times in a row (a supervisor, a parent-death signal and a user's
    kill at once): the server still stops and exits 0. A handler that took a lock could
    be interrupted by the next signal while holding it, and wait forever."""
    skip_if_target(fileproto_servers)
    server = fileproto_servers.start(kind, 2)
    assert server.process is not None and server.process.proc is not None
    proc = server.process.proc
    try:
        for _ in range(200):
            if proc.poll() is not None:
                break
            with contextlib.suppress(ProcessLookupError):
                proc.send_signal(signal.SIGTERM)
        try:
            code = proc.wait(timeout=EXIT_BOUND)
        except subprocess.TimeoutExpired:
            pytest.fail(f"the server hung after a burst of SIGTERM:\n{server.process.output()}")
    finally:
        fileproto_servers.stop(server)
    assert code == 0, server.process.output()

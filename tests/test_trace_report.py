"""A server trace read on its own (docs/trace.md, "A trace read on its own"): against
every kind and dispatch of the registry, a real server writes its trace while clients
of known habits use it, and ``fileproto report TRACE --json`` alone must say whose side
each connection waited on. The shares are asserted, never the times."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from fileproto.pytest.process import ServerProcess
from fileproto.server.registry import KINDS, MODES
from tests.helpers.kinds import each_mode
from tests.helpers.paced import (
    FastClient,
    fast_capacity,
    slow_download,
    slow_upload,
    upload_request,
)
from tests.helpers.servers import one_worker
from tests.helpers.wire import json_request

pytestmark = one_worker("trace_report")

#: Large enough that the slow clients take a second or so; small enough that a fast
#: client's buffers hold the whole request or answer (base64 is 4/3 of it).
SIZE = min(2 << 20, fast_capacity() * 3 // 4 - (4 << 10))
#: The slow sender: 64 KiB every 50 ms. Each pause hands the connection back and forth
#: (given back, ready, taken again): the pause is long enough that the hand-over, slow
#: on a busy machine, stays a small part of it.
SLOW_PIECE, SLOW_PAUSE = 64 << 10, 0.05
#: How long the server is stopped while the fast clients send everything.
PAUSED = 0.5


def _report(trace: Path, out: Path) -> tuple[dict[str, dict[str, Any]], list[str]]:
    """``fileproto report TRACE --json OUT``, run as a user would: the connections by
    their client's port, and the notes on what the trace cannot tell."""
    done = subprocess.run(
        [sys.executable, "-m", "fileproto", "report", str(trace), "--json", str(out)],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    document = json.loads(out.read_text())
    by_port = {c["peer"].rpartition(":")[2]: c for c in document["connections"]}
    return by_port, document["notes"]


def _fast_clients(server: ServerProcess, content: bytes) -> list[int]:
    """A fast upload and a fast download, sent while the server is stopped: everything
    they send is in the kernel before the server looks, and their buffers take the
    whole answer, so the server never waits on them (and accepts them late)."""
    clients = [
        FastClient(server, upload_request("fast.bin", content)),
        FastClient(server, json_request("GET", "source.bin")),
    ]
    os.killpg(server.pid, signal.SIGSTOP)
    try:
        for client in clients:
            client.start()
        for client in clients:
            assert client.sent.wait(20), "the request did not fit in the kernel's buffers"
        time.sleep(PAUSED)
    finally:
        os.killpg(server.pid, signal.SIGCONT)
    return [client.finish() for client in clients]


@pytest.fixture(scope="module", params=each_mode())
def traced(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, Any]]:
    """A server of one mode, traced, used by a slow reader, a slow sender and two fast
    clients: the report's connections and notes, each client's ports, the mode."""
    kind, args = MODES[request.param]
    folder = tmp_path_factory.mktemp(f"trace-{request.param}")
    content = os.urandom(SIZE)
    (folder / "root").mkdir()
    (folder / "root" / "source.bin").write_bytes(content)
    trace = folder / "trace.jsonl"
    with ServerProcess(
        kind, 2, folder / "root", extra_args=[*args, "--trace", str(trace)]
    ) as server:
        # The fast ones first: the server is stopped while they send, and a connection
        # closing meanwhile would be seen closed only when it runs again.
        ports = {"fast": _fast_clients(server, content)}
        # The two slow ones side by side (each has a worker of its own to wait on).
        with ThreadPoolExecutor(max_workers=2) as pool:
            reader = pool.submit(slow_download, server, "source.bin")
            sender = pool.submit(slow_upload, server, "slow.bin", content, SLOW_PIECE, SLOW_PAUSE)
            ports["slow reader"], ports["slow sender"] = [reader.result()], [sender.result()]
    connections, notes = _report(trace, folder / "connections.json")
    yield {"connections": connections, "ports": ports, "notes": notes, "mode": request.param}


def _share(conn: dict[str, Any], *keys: str) -> float:
    total: float = conn["total_s"]
    assert total > 0, conn
    return sum(conn[k] for k in keys) / total


def test_a_slow_reader_waits_for_the_client_to_read(traced: Any) -> None:
    connections, ports = traced["connections"], traced["ports"]
    (conn,) = (connections[str(p)] for p in ports["slow reader"])
    assert _share(conn, "client_read_s") > 0.5, conn
    assert [r["cmd"] for r in conn["requests"]] == ["GET"]


def test_a_slow_sender_waits_for_the_client_to_send(traced: Any) -> None:
    connections, ports = traced["connections"], traced["ports"]
    (conn,) = (connections[str(p)] for p in ports["slow sender"])
    assert _share(conn, "client_send_s") > 0.5, conn
    assert [r["cmd"] for r in conn["requests"]] == ["UPLOAD"]


def test_a_fast_client_is_never_waited_on_and_its_late_accept_shows(traced: Any) -> None:
    connections, ports = traced["connections"], traced["ports"]
    for port in ports["fast"]:
        conn = connections[str(port)]
        assert _share(conn, "client_send_s", "client_read_s") < 0.1, conn
        # Stopped before it was accepted: the kernel's account of the listen queue.
        assert _share(conn, "accept_wait_s") > 0.5, conn


def test_every_connection_adds_up(traced: Any) -> None:
    """The phases of a connection cover its time exactly, and its requests' time is
    within it."""
    connections = traced["connections"]
    keys = ("accept_wait_s", "queued_s", "served_s", "client_send_s", "client_read_s", "idle_s")
    for conn in connections.values():
        assert sum(conn[k] for k in keys) == pytest.approx(conn["total_s"], abs=1e-5), conn
        assert sum(r["total_s"] for r in conn["requests"]) <= conn["total_s"] + 1e-5, conn


def test_the_notes_say_what_this_dispatch_cannot_tell(traced: Any) -> None:
    kind, args = MODES[traced["mode"]]
    notes = " ".join(traced["notes"])
    classic = "accept" in args or KINDS[kind].fixed_dispatch == "accept"
    assert ("classic dispatch" in notes) == classic, notes
    assert ("Event loops serve many connections" in notes) == (kind == "asyncio"), notes
    assert "exact to one kernel tick" in notes

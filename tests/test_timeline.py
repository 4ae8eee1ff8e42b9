"""Timelines (docs/trace.md): each request's phases measured by real clients against a
real server, the probes' beside them, and the server's trace file read back per case."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from fileproto.client import Client, ConnectError
from fileproto.load.testfiles import make_test_file
from fileproto.pytest.servers import ServerPool
from fileproto.pytest.settings import Options
from fileproto.results import LoadResult
from fileproto.results.timeline import TraceReader
from fileproto.stress import LoadSpec, Surroundings, merge_rounds, run_load
from fileproto.stress.spec import Method
from tests.helpers import skip_if_target

RunPytest = Callable[..., subprocess.CompletedProcess[str]]

pytestmark = pytest.mark.smoke


@pytest.mark.parametrize("method", ["thread", "process"])
def test_a_round_records_each_request_and_probe(
    fileproto_servers: ServerPool, tmp_path: Path, method: Method
) -> None:
    skip_if_target(fileproto_servers)
    server = fileproto_servers.get("thread", 2)
    source = make_test_file(tmp_path / "small.bin", 300_000)
    spec = LoadSpec(
        server.host, server.port, "UPLOAD", 3, source, method=method, timeout=30.0,
        remote_name=fileproto_servers.name(f"timeline-{method}.bin"),
    )  # fmt: skip
    outcome = run_load(spec, surroundings=Surroundings(probe=True))
    try:
        result = merge_rounds([outcome], "thread", 2)
        info = json.loads(json.dumps(result.extra_info()))
        timeline = info["timeline"]
        clients = timeline["clients"]
        assert [c["client"] for c in clients] == [0, 1, 2]
        assert all(c["ok"] and c["error"] is None and c["op"] == "UPLOAD" for c in clients)
        # The client's local ports, to join with the server's "peer": real and distinct.
        assert len({c["port"] for c in clients}) == 3 and all(c["port"] for c in clients)
        phases = ("connect", "connected", "sent", "first_byte", "done")
        for client in clients:
            moments = [client[p] for p in phases]
            # From the case's start, in every process alike (one monotonic clock).
            assert moments[0] >= 0 and moments == sorted(moments), client
            assert moments[-1] <= outcome.wall_time + 0.5
        assert timeline["dropped"] == 0 and timeline["probes"]
        assert timeline["probes"][0]["due"] == 0.0
        # Every client was due at the start: the corrected figures include what the
        # uncorrected ones (from the request's first byte sent) leave out.
        assert info["ttfb_s"]["count"] == info["ttfb_sent_s"]["count"] == 3
        assert info["ttfb_s"]["max"] >= info["ttfb_sent_s"]["max"]
        assert info["request_s"]["max"] >= info["request_sent_s"]["max"]
        assert info["probe_in_flight"] >= 1 and info["probe_late"] >= 0
        assert LoadResult.from_extra_info(info).timeline == result.timeline
    finally:
        server.remove(spec.upload_name(i) for i in range(spec.clients))


def _event(mono: float, conn: str, ev: str, **more: Any) -> bytes:
    return json.dumps({"mono": mono, "t": 1.0, "conn": conn, "ev": ev, **more}).encode() + b"\n"


def test_the_trace_reader_takes_what_came_after_the_mark(tmp_path: Path) -> None:
    trace = tmp_path / "server.trace.jsonl"
    trace.write_bytes(_event(99.0, "1", "accepted", peer="127.0.0.1:5"))  # an earlier case
    reader = TraceReader(trace, bound=3)
    reader.mark()
    with open(trace, "ab") as out:
        out.write(_event(100.25, "2", "accepted", peer="127.0.0.1:6", worker=None))
        out.write(b"not json\n")  # a foreign line is skipped, not fatal
        out.write(_event(100.5, "2", "taken", worker="thread:1"))
        out.write(_event(101.0, "2", "response", cmd="LIST", status="OK"))
        out.write(_event(101.5, "2", "closed", reason="eof", deadline=None))
        out.write(_event(102.0, "3", "accepted")[:20])  # still being written
    events, dropped = reader.since_mark(origin=100.0)
    assert [e["at"] for e in events] == [0.25, 0.5, 1.0]
    assert "mono" not in events[0] and events[0]["peer"] == "127.0.0.1:6"
    assert events[1]["worker"] == "thread:1"
    assert dropped == 1  # the bound kept three, the fourth is counted
    with open(trace, "ab") as out:
        out.write(_event(102.0, "3", "accepted")[20:])
    reader.mark()  # the next round: nothing older
    assert reader.since_mark(origin=100.0) == ([], 0)
    assert TraceReader(tmp_path / "absent.jsonl").since_mark(0.0) == ([], 0)


def test_traced_servers_write_a_trace_the_client_joins_by_port(
    fileproto_servers: ServerPool, tmp_path: Path
) -> None:
    skip_if_target(fileproto_servers)
    options = Options(None, "json", 1, None, ("thread",), None, False, trace=True)
    pool = ServerPool(tmp_path, options)
    try:
        server = pool.start("thread", 1)
        assert server.process is not None
        command = server.process.command
        assert server.trace is not None and str(server.trace.path) in command
        server.mark_trace()
        with server.client(timeout=10.0) as client:
            client.list()
            phases = client.last_phases
        assert phases is not None and phases.port is not None
        # Written when the server accepted, so before the answer came.
        events, _ = server.trace.since_mark(origin=phases.connect)
        # The client's port joins its request with the server's events.
        peer = f"127.0.0.1:{phases.port}"
        seen = [e for e in events if e["ev"] == "accepted" and e.get("peer") == peer]
        assert seen and -1.0 < seen[0]["at"] < 10.0
    finally:
        pool.close()


def test_a_client_that_cannot_connect_has_only_its_start() -> None:
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        port = unused.getsockname()[1]
    client = Client("127.0.0.1", port, connect_timeout=5.0)
    with pytest.raises(ConnectError):
        client.list()
    phases = client.last_phases
    assert phases is not None and phases.connected is None and phases.first_byte is None
    assert phases.done is not None and phases.done >= phases.connect


ROOT = Path(__file__).resolve().parent.parent


def test_the_plugin_records_timelines_and_traces_its_servers(
    tmp_path: Path, run_pytest: RunPytest
) -> None:
    """One smoke matrix case in a session of its own, with --fileproto-trace: its record
    has the clients' timeline and the server's events, joined by the clients' ports."""
    out = tmp_path / "run.json"
    run = run_pytest(
        "-q", "tests/test_matrix.py", "-k", "thread-DOWNLOAD-10MiB-c5-w1", "--fileproto-trace",
        f"--benchmark-json={out}",
    )  # fmt: skip
    assert run.returncode == 0, run.stdout + run.stderr
    (case,) = json.loads(out.read_text())["benchmarks"]
    info = case["extra_info"]
    ports = {c["port"] for c in info["timeline"]["clients"]}
    assert len(ports) == 5 and None not in ports
    peers = {e.get("peer") for e in info["server_events"] if e["ev"] == "accepted"}
    assert {f"127.0.0.1:{port}" for port in ports} <= peers
    assert info["server_events_dropped"] == 0


def test_stress_json_has_the_timeline(fileproto_servers: ServerPool, tmp_path: Path) -> None:
    skip_if_target(fileproto_servers)
    server = fileproto_servers.get("thread", 2)
    out = tmp_path / "stress.json"
    run = subprocess.run(
        [sys.executable, "-m", "fileproto", "stress", "-s", server.address, "--operation",
         "UPLOAD", "--size-mib", "0.25", "--clients", "2", "--no-progress", "--json", str(out)],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert run.returncode == 0, run.stdout + run.stderr
    assert "  from its send" in run.stdout  # the uncorrected figures, under the corrected
    assert " cut off by the end; " in run.stdout
    (case,) = json.loads(out.read_text())["benchmarks"]
    info = case["extra_info"]
    # Every probe due is counted once: answered, failed, or cut off by the case's end.
    assert info["probe_due"] >= 1 and info["probe_due"] == len(info["timeline"]["probes"])
    assert info["probe_due"] == (
        info["probe_answered"] + info["probe_failures"] + info["probe_cut_off"]
    )
    timeline = LoadResult.from_extra_info(case["extra_info"]).timeline
    assert timeline is not None and [c.client for c in timeline.clients] == [0, 1]
    assert all(c.ok and c.port and c.done for c in timeline.clients)

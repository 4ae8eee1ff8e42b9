"""The timelines as a reader gets them: a Chrome Trace Event file (Perfetto UI,
chrome://tracing) and a timeline PNG per case."""

from __future__ import annotations

import itertools
import json
import socket
import subprocess
import time
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

import pytest

from fileproto.pytest.process import ServerProcess
from fileproto.report.cases import load_cases
from fileproto.report.phases import SERVED
from fileproto.report.timeline import legend_phases, render_timeline_png
from fileproto.report.trace_events import render_trace_events
from fileproto.report.workers import worker_names
from fileproto.server.policy import FAST_HOLD
from fileproto.server.registry import get_kind
from tests.helpers import wait_for
from tests.helpers.cli import run_cli
from tests.helpers.kinds import every_kind
from tests.helpers.timeline_runs import refuse, simulated_case, simulated_run, without_ready

pytestmark = pytest.mark.smoke

ROOT = Path(__file__).resolve().parent.parent
FULL_RUN = ROOT / "tests" / "data" / "one-round-run.json"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _report(*args: str) -> subprocess.CompletedProcess[str]:
    return run_cli("report", *args)


def _names(events: list[dict[str, Any]], kind: str) -> dict[tuple[int, int], str]:
    return {(e["pid"], e["tid"]): e["args"]["name"] for e in events if e["name"] == kind}


def test_one_process_per_case_and_a_track_per_client_and_worker() -> None:
    document = simulated_run(kinds=("thread", "asyncio"), clients=(5,), workers=(1, 2))
    trace = render_trace_events(load_cases(document))
    events = trace["traceEvents"]
    processes = {e["pid"]: e["args"]["name"] for e in events if e["name"] == "process_name"}
    assert sorted(processes.values()) == sorted(b["param"] for b in document["benchmarks"])
    threads = _names(events, "thread_name")
    pid = next(p for p, name in processes.items() if name == "thread-UPLOAD-10MiB-c5-w2")
    mine = sorted(name for (p, _), name in threads.items() if p == pid)
    # Workers by readable names; beside each client's own track, the server's view of it.
    clients = [f"client {i}" for i in range(5)] + [f"client {i}: at the server" for i in range(5)]
    assert mine == sorted(["thread 1", "thread 2", *clients])
    probes = [e for e in events if e["ph"] == "b" and e["pid"] == pid and e["name"] == "LIST probe"]
    (bench,) = [b for b in document["benchmarks"] if b["param"] == "thread-UPLOAD-10MiB-c5-w2"]
    assert len(probes) == len(bench["extra_info"]["timeline"]["probes"])
    # The made-up late probe: 50 ms late, 51 ms from its due time, 1 ms from its start.
    late = next(e for e in probes if e["args"]["latency from due (ms)"] > 50)
    assert late["args"]["latency from start (ms)"] == pytest.approx(1.0)
    slices = [e for e in events if e["ph"] == "X" and e["pid"] == pid]
    by_track: dict[str, list[str]] = defaultdict(list)
    for e in slices:
        by_track[threads[(pid, e["tid"])]].append(e["name"])
        assert e["cat"] == ("server" if threads[(pid, e["tid"])].startswith("thread ")
                            else "client")  # fmt: skip
    assert by_track["client 3"] == ["connecting", "sending", "waiting for first byte",
                                    "receiving"]  # fmt: skip
    # Each connection is taken twice (it was given back mid-request once).
    served = Counter(n for t in ("thread 1", "thread 2") for n in by_track[t])
    assert served == Counter({f"serving conn {i}": 2 for i in range(1, 6)})


def test_slices_of_a_track_never_overlap_and_async_slices_pair() -> None:
    """Complete slices on one track must nest perfectly (the format; Perfetto drops the
    rest): an asyncio loop serves many connections at once, so it gets more lanes."""
    case = simulated_case("asyncio", 20, 1)
    # One loop serving every connection at once: slices that overlap in time.
    for event in case["extra_info"]["server_events"]:
        if event["ev"] == "taken":
            event["at"] = min(event["at"], 0.03)
    trace = render_trace_events(load_cases({"benchmarks": [case]}))
    events = trace["traceEvents"]
    per_tid: dict[tuple[int, int], list[tuple[float, float]]] = defaultdict(list)
    for e in events:
        if e["ph"] == "X":
            assert e["ts"] >= 0 and e["dur"] >= 0
            per_tid[(e["pid"], e["tid"])].append((e["ts"], e["ts"] + e["dur"]))
    for spans in per_tid.values():
        spans.sort()
        for (_, end), (start, _) in itertools.pairwise(spans):
            assert start >= end - 1e-6
    lanes = [n for n in _names(events, "thread_name").values() if n.startswith("loop 1")]
    assert len(lanes) > 1 and "loop 1 #2" in lanes
    begins = Counter((e["id"], e["name"]) for e in events if e["ph"] == "b")
    ends = Counter((e["id"], e["name"]) for e in events if e["ph"] == "e")
    assert begins == ends and begins


def test_cli_writes_a_trace_file(tmp_path: Path) -> None:
    run_file = tmp_path / "run.json"
    run_file.write_text(json.dumps(simulated_run(kinds=("thread",), clients=(5,), workers=(1,))))
    out = tmp_path / "trace.json"
    run = _report(str(run_file), "--trace-events", str(out))
    assert run.returncode == 0, run.stderr
    assert "wrote the timelines of 1 case(s) as Chrome trace events" in run.stdout
    trace = json.loads(out.read_text())
    assert trace["displayTimeUnit"] == "ms"
    assert {e["ph"] for e in trace["traceEvents"]} >= {"M", "X", "b", "e"}


def test_cli_trace_of_chosen_cases(tmp_path: Path) -> None:
    run_file = tmp_path / "run.json"
    run_file.write_text(json.dumps(simulated_run(kinds=("thread",), clients=(1, 5))))
    out = tmp_path / "trace.json"
    run = _report(str(run_file), "--trace-events", str(out), "--case", "thread-UPLOAD-10MiB-c5-w1")
    assert run.returncode == 0, run.stderr
    trace = json.loads(out.read_text())
    names = [e["args"]["name"] for e in trace["traceEvents"] if e["name"] == "process_name"]
    assert names == ["thread-UPLOAD-10MiB-c5-w1"]
    run = _report(str(run_file), "--trace-events", str(out), "--case", "c7")
    assert run.returncode == 2 and "no case c7 in the run" in run.stderr


def test_a_run_without_timelines_says_why(tmp_path: Path) -> None:
    """tests/data/one-round-run.json is older than timelines: the command says so, names the file,
    and says how to record a run that has them; it writes nothing."""
    for option, out in (("--trace-events", tmp_path / "t.json"), ("--timeline", tmp_path / "tl")):
        run = _report(str(FULL_RUN), option, str(out))
        assert run.returncode == 2
        assert f"{FULL_RUN} has no timelines" in run.stderr
        assert "recorded without them" in run.stderr and "pytest -m full" in run.stderr
        assert not out.exists()
    # A chosen case of a run that has timelines, but none for that case, still says so.
    document = simulated_run(kinds=("thread",), clients=(1, 5), workers=(1,))
    document["benchmarks"][0]["extra_info"].pop("timeline")
    run_file = tmp_path / "run.json"
    run_file.write_text(json.dumps(document))
    run = _report(str(run_file), "--timeline", str(tmp_path / "one"),
                  "--case", "thread-UPLOAD-10MiB-c1-w1")  # fmt: skip
    assert run.returncode == 2
    assert "none of the chosen cases has a timeline" in run.stderr


def test_outputs_go_into_a_folder_that_does_not_exist_yet(tmp_path: Path) -> None:
    """--trace-events DIR/f beside --timeline DIR: DIR is made for the first of them."""
    run_file = tmp_path / "run.json"
    run_file.write_text(json.dumps(simulated_run(kinds=("thread",), clients=(5,), workers=(1,))))
    folder = tmp_path / "new" / "dir"
    run = _report(str(run_file), "--trace-events", str(folder / "t.json"), "--timeline",
                  str(folder), "--md", str(tmp_path / "other" / "r.md"))  # fmt: skip
    assert run.returncode == 0, run.stderr
    assert sorted(p.name for p in folder.iterdir()) == ["t.json", "thread-UPLOAD-10MiB-c5-w1.png"]
    assert (tmp_path / "other" / "r.md").exists()


def test_timeline_pngs_of_the_telling_cases_and_of_chosen_ones(tmp_path: Path) -> None:
    run_file = tmp_path / "run.json"
    run_file.write_text(json.dumps(simulated_run(kinds=("thread", "process"))))
    folder = tmp_path / "tl"
    run = _report(str(run_file), "--timeline", str(folder))
    assert run.returncode == 0, run.stderr
    # The default: 50 clients on 1 and on 5 workers of each kind.
    assert sorted(p.name for p in folder.iterdir()) == sorted(
        f"{k}-UPLOAD-10MiB-c50-w{w}.png" for k in ("thread", "process") for w in (1, 5)
    )
    for png in folder.iterdir():
        assert png.read_bytes().startswith(PNG_MAGIC)
    chosen = tmp_path / "one"
    run = _report(str(run_file), "--timeline", str(chosen), "--case", "process-UPLOAD-10MiB-c1-w5")
    assert run.returncode == 0, run.stderr
    assert [p.name for p in chosen.iterdir()] == ["process-UPLOAD-10MiB-c1-w5.png"]
    run = _report(str(run_file), "--timeline", str(chosen), "--case", "nope-c9")
    assert run.returncode == 2
    assert "no case nope-c9 in the run" in run.stderr


@pytest.mark.parametrize("kind", every_kind())
def test_a_real_servers_trace_joins_its_clients(kind: str, tmp_path: Path) -> None:
    """A real server with --trace, four clients on their own sockets: each client
    request finds its connection's events by its local port, the worker that served it
    is named as the server names it, and the trace has that worker's track."""
    trace_file = tmp_path / "trace.jsonl"
    server = ServerProcess(
        kind, 1, tmp_path / "root", extra_args=["--trace", str(trace_file)]
    ).start()
    origin = time.monotonic()
    requests: list[dict[str, Any]] = []
    try:
        for client in range(4):
            connect = time.monotonic()
            with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
                connected = time.monotonic()
                port = sock.getsockname()[1]
                sock.sendall(b"LIST\r\n\r\n")
                sent = time.monotonic()
                answer, first_byte = b"", None
                while not answer.endswith(b"\r\n\r\n"):
                    chunk = sock.recv(65536)
                    assert chunk, "the server closed without answering"
                    first_byte = first_byte or time.monotonic()
                    answer += chunk
                done = time.monotonic()
            requests.append(
                {"client": client, "op": "LIST", "port": port, "ok": True, "error": None,
                 **{k: v - origin for k, v in (("connect", connect), ("connected", connected),
                    ("sent", sent), ("first_byte", first_byte or done), ("done", done))}}
            )  # fmt: skip
        # The server writes its last events (closed) when it sees each client go.
        _wait_for_lines(trace_file, '"closed"', 4)
    finally:
        server.stop()
    events = []
    for line in trace_file.read_text().splitlines():
        event = json.loads(line)
        event["at"] = event.pop("mono") - origin
        events.append(event)
    bench = simulated_case(kind, 4, 1)
    bench["extra_info"]["timeline"] = {"clients": requests, "probes": [], "bound": 100,
                                       "dropped": 0}  # fmt: skip
    bench["extra_info"]["server_events"] = events
    (case,) = load_cases({"benchmarks": [bench]})
    joined = case.conn_events()
    workers = set()
    for request in case.requests:
        assert request.port in joined, (request, events)
        served = [s for s in case.segments(request, joined[request.port]) if s.phase == SERVED]
        assert served, joined[request.port]
        workers |= {s.worker for s in served}
    prefix = f"{get_kind(kind).worker}:"
    assert workers and all(w and w.startswith(prefix) for w in workers), workers
    trace = render_trace_events([case])["traceEvents"]
    tracks = {e["args"]["name"] for e in trace if e["name"] == "thread_name"}
    names = worker_names(case.server_events)
    assert {names[w] for w in workers if w} <= tracks
    assert sum(e["ph"] == "X" and e["name"].startswith("serving conn") for e in trace) >= 4


# -- the phases after a give-back, and refusals ---------------------------------------------


def test_a_give_back_waits_on_the_client_until_ready_then_for_a_worker() -> None:
    """The made-up connection: taken, given back mid-request, ready, taken again."""
    (case,) = load_cases({"benchmarks": [simulated_case("thread", 1, 1)]})
    (request,) = case.requests
    events = case.conn_events()[request.port]
    segments = case.segments(request, events)
    # Consecutive segments of one phase (split at each event, e.g. "response") merged.
    assert [p for p, _ in itertools.groupby(s.phase for s in segments)] == [
        "waiting to be accepted", "queued for a worker", "being served",
        "waiting on the client", "queued for a worker", "being served",
    ]  # fmt: skip
    at = {e.ev: e.at for e in events if e.ev in ("given_back", "ready")}
    (waiting,) = [s for s in segments if s.phase == "waiting on the client"]
    assert (waiting.start, waiting.end) == (at["given_back"], at["ready"])
    after = segments[segments.index(waiting) + 1]
    assert (after.phase, after.start) == ("queued for a worker", at["ready"])
    # A trace from before the ready event: the give-back to the next take is one phase.
    (old,) = load_cases(without_ready({"benchmarks": [simulated_case("thread", 1, 1)]}))
    segments = old.segments(request, old.conn_events()[request.port])
    phases = [p for p, _ in itertools.groupby(s.phase for s in segments)]
    assert phases[3:] == ["given back: the client, then the queue", "being served"]


def test_trace_events_split_the_wait_after_a_give_back() -> None:
    document = {"benchmarks": [simulated_case("thread", 3, 1)]}
    events = render_trace_events(load_cases(document))["traceEvents"]
    waits = Counter(e["name"] for e in events if e["ph"] == "b" and e["cat"] == "server")
    # Per connection: queued after accept and after ready, waiting on the client once.
    assert waits == Counter({"waiting for a worker": 6, "waiting on the client": 3})
    old = render_trace_events(load_cases(without_ready(document)))["traceEvents"]
    waits = Counter(e["name"] for e in old if e["ph"] == "b" and e["cat"] == "server")
    assert waits == Counter({"waiting for a worker": 3, "given back: the client, then a worker": 3})


def test_refusals_join_by_their_own_peer() -> None:
    bench = refuse(simulated_case("thread", 4, 1), [2, 3])
    (case,) = load_cases({"benchmarks": [bench]})
    joined = case.conn_events()
    for request in case.requests[2:]:
        (refusal,) = joined[request.port]
        assert refusal.ev == "refused" and refusal.peer_port == request.port
        phases = [s.phase for s in case.segments(request, [refusal])]
        assert phases == ["waiting to be accepted", "refused at the cap"]
    events = render_trace_events([case])["traceEvents"]
    refused = sorted((e["args"]["conn"], e["args"]["peer"]) for e in events
                     if e["name"] == "refused")  # fmt: skip
    ports = [r.port for r in case.requests[2:]]
    assert refused == [(f"refused-4000-{n}", f"127.0.0.1:{p}") for n, p in enumerate(ports)]
    # A trace from before refusals had ids of their own ("-" for all): the same.
    for event in bench["extra_info"]["server_events"]:
        if event["ev"] == "refused":
            event["conn"] = "-"
    (old,) = load_cases({"benchmarks": [bench]})
    assert {p: [e.ev for e in joined[p]] for p in ports} == {
        p: [e.ev for e in old.conn_events()[p]] for p in ports
    }
    events = render_trace_events([old])["traceEvents"]
    assert sorted(e["args"]["peer"] for e in events if e["name"] == "refused") == [
        f"127.0.0.1:{p}" for p in ports
    ]


def test_the_legend_names_the_phases_the_rows_have(tmp_path: Path) -> None:
    def phases_of(document: dict[str, Any]) -> tuple[str, ...]:
        (case,) = load_cases(document)
        joined = case.conn_events()
        segments = [s for r in case.requests for s in case.segments(r, joined.get(r.port))]
        render_timeline_png(case, tmp_path / "t.png")
        assert (tmp_path / "t.png").read_bytes().startswith(PNG_MAGIC)
        return legend_phases(segments, bool(case.server_events))

    bench = simulated_case("thread", 4, 1)
    main = ("waiting to be accepted", "queued for a worker", "being served",
            "waiting on the client")  # fmt: skip
    assert phases_of({"benchmarks": [bench]}) == main
    old = without_ready({"benchmarks": [bench]})
    assert phases_of(old) == (*main, "given back: the client, then the queue")
    assert phases_of({"benchmarks": [refuse(bench, [3])]}) == (*main, "refused at the cap")
    untraced = simulated_case("thread", 4, 1, traced=False)
    assert phases_of({"benchmarks": [untraced]})[0] == "connecting"


def _trace_of(trace_file: Path, origin: float) -> list[dict[str, Any]]:
    events = []
    for line in trace_file.read_text().splitlines():
        event = json.loads(line)
        event["at"] = event.pop("mono") - origin
        events.append(event)
    return events


def _wait_for_lines(trace_file: Path, needle: str, count: int) -> None:
    """Wait until the trace has ``count`` lines with ``needle``; fail saying so if not."""

    def lines() -> int:
        text = trace_file.read_text() if trace_file.exists() else ""
        return sum(needle in line for line in text.splitlines())

    wait_for(lambda: lines() >= count, what=lambda: f"{count} {needle} events, saw {lines()}")


def test_a_real_slow_upload_waits_on_the_client_then_for_the_worker(tmp_path: Path) -> None:
    """A real thread server (ready dispatch, one worker), an upload whose body comes in
    pieces twice the fast hold apart (a slow sender by the pace rule): the worker gives
    the connection back between pieces, the server writes ready when the next piece
    comes, and the report splits the two waits."""
    trace_file = tmp_path / "trace.jsonl"
    server = ServerProcess(
        "thread", 1, tmp_path / "root", extra_args=["--trace", str(trace_file)]
    ).start()
    origin = time.monotonic()
    try:
        with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
            connected = time.monotonic()
            port = sock.getsockname()[1]
            sock.sendall(b"UPLOAD slow.bin ")
            for _ in range(6):
                time.sleep(2 * FAST_HOLD)  # the client's pace, slower than a hold
                sock.sendall(b"QUFB" * 1000)
            sock.sendall(b"\r\n\r\n")
            sent = time.monotonic()
            answer = b""
            while not answer.endswith(b"\r\n\r\n"):
                chunk = sock.recv(65536)
                assert chunk, "the server closed without answering"
                answer += chunk
            done = time.monotonic()
        _wait_for_lines(trace_file, '"closed"', 1)
    finally:
        server.stop()
    assert b"OK" in answer, answer
    request = {"client": 0, "op": "UPLOAD", "port": port, "ok": True, "error": None,
               "connect": 0.0, "connected": connected - origin, "sent": sent - origin,
               "first_byte": done - origin, "done": done - origin}  # fmt: skip
    bench = simulated_case("thread", 1, 1)
    bench["extra_info"]["timeline"] = {"clients": [request], "probes": [], "bound": 100,
                                       "dropped": 0}  # fmt: skip
    bench["extra_info"]["server_events"] = _trace_of(trace_file, origin)
    (case,) = load_cases({"benchmarks": [bench]})
    (timed,) = case.requests
    events = case.conn_events()[port]
    assert sum(e.ev == "ready" for e in events) >= 3, [e.ev for e in events]
    phases = [s.phase for s in case.segments(timed, events)]
    assert "given back: the client, then the queue" not in phases
    waits = [i for i, p in enumerate(phases) if p == "waiting on the client"]
    assert len(waits) >= 3
    # Each wait on the client ends where the connection queues for the worker again.
    assert all(phases[i + 1] == "queued for a worker" for i in waits if i + 1 < len(phases))
    names = Counter(e["name"] for e in render_trace_events([case])["traceEvents"]
                    if e["ph"] == "b")  # fmt: skip
    # The trace events have a slice for each wait that ended (a ready, a take); a last
    # give-back after the answer, with the client still reading it, has no end there.
    ended = [i for i in waits if i + 1 < len(phases)]
    assert names["waiting on the client"] == len(ended)


def test_real_refusals_have_ids_of_their_own(tmp_path: Path) -> None:
    """A real server capped at one connection: the next two are refused, each with a
    conn id of its own, and each joins its client by its peer."""
    trace_file = tmp_path / "trace.jsonl"
    server = ServerProcess(
        "thread", 1, tmp_path / "root",
        extra_args=["--trace", str(trace_file), "--max-connections", "1"],
    ).start()  # fmt: skip
    origin = time.monotonic()
    ports = []
    try:
        with socket.create_connection(("127.0.0.1", server.port), timeout=10) as held:
            _wait_for_lines(trace_file, '"accepted"', 1)
            for _ in range(2):
                with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
                    ports.append(sock.getsockname()[1])
                    answer = b""
                    while not answer.endswith(b"\r\n\r\n"):
                        chunk = sock.recv(65536)
                        if not chunk:
                            break
                        answer += chunk
                    assert b"busy" in answer.lower(), answer
            _wait_for_lines(trace_file, '"refused"', 2)
            held.close()
    finally:
        server.stop()
    events = _trace_of(trace_file, origin)
    refusals = [e for e in events if e["ev"] == "refused"]
    assert len(refusals) == 2
    assert len({e["conn"] for e in refusals}) == 2
    assert all(e["conn"].startswith("refused-") for e in refusals)
    bench = simulated_case("thread", 2, 1)
    bench["extra_info"]["timeline"] = {
        "clients": [{"client": i, "op": "LIST", "port": p, "ok": False, "error": "busy",
                     "connect": 0.0, "connected": None, "sent": None, "first_byte": None,
                     "done": None} for i, p in enumerate(ports)],
        "probes": [], "bound": 100, "dropped": 0,
    }  # fmt: skip
    bench["extra_info"]["server_events"] = events
    (case,) = load_cases({"benchmarks": [bench]})
    joined = case.conn_events()
    for port in ports:
        assert [e.ev for e in joined[port]] == ["refused"]

"""What a reader sees of a case's timeline, from small hand-made cases: the workers by
readable names and the order in which each took its clients (the PNG's rows and bands,
the trace's tracks), the trace's flows from a client to its worker, no negative time in
the trace, and the LIST probes: late only when held back, cut off rather than failed
when the case ended first (docs/trace.md)."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest

from fileproto.report.cases import Case, load_cases
from fileproto.report.probes import counts, held_back, in_order, probe_waits
from fileproto.report.timeline import timeline_figure
from fileproto.report.trace_events import render_trace_events
from fileproto.report.workers import bands, rows, worker_names
from tests.helpers.timeline_runs import simulated_case

pytestmark = pytest.mark.smoke

#: Four clients connecting in order 0..3; worker thread:7 takes client 2 first, then 0;
#: worker thread:3 takes client 3, then 1.
TAKES = {2: ("thread:7", 0.010), 0: ("thread:7", 0.050), 3: ("thread:3", 0.020),
         1: ("thread:3", 0.030)}  # fmt: skip


def _case(probes: list[dict[str, Any]] | None = None, **info: Any) -> tuple[Case, dict[str, Any]]:
    """The made-up case of TAKES, with its own probes if given."""
    bench = simulated_case("thread", 4, 2)
    extra = bench["extra_info"]
    requests, events = [], []
    for client in range(4):
        port, connect = 41000 + client, 0.001 * client
        worker, taken = TAKES[client]
        conn = str(client + 1)
        requests.append(
            {"client": client, "op": "UPLOAD", "port": port, "ok": True, "error": None,
             "connect": connect, "connected": connect + 0.0002, "sent": taken + 0.009,
             "first_byte": taken + 0.0101, "done": taken + 0.0102}
        )  # fmt: skip
        events += [
            {"at": connect + 0.0003, "conn": conn, "ev": "accepted", "worker": None,
             "peer": f"127.0.0.1:{port}"},
            {"at": taken, "conn": conn, "ev": "taken", "worker": worker},
            {"at": taken + 0.01, "conn": conn, "ev": "response", "worker": worker,
             "cmd": "UPLOAD", "status": "OK"},
            {"at": taken + 0.0105, "conn": conn, "ev": "closed", "worker": worker,
             "reason": "eof", "deadline": None},
        ]  # fmt: skip
    extra["timeline"]["clients"] = requests
    if probes is not None:
        extra["timeline"]["probes"] = probes
    extra["server_events"] = sorted(events, key=lambda e: e["at"])
    extra.update(info)
    (case,) = load_cases({"benchmarks": [bench]})
    return case, bench


def _names(events: list[dict[str, Any]], kind: str) -> dict[int, Any]:
    return {e["tid"]: e["args"] for e in events if e["name"] == kind}


# -- workers and the order in which they took their clients --------------------------------


def test_workers_are_named_in_the_order_they_first_took_a_connection() -> None:
    case, _ = _case()
    assert worker_names(case.server_events) == {"thread:7": "thread 1", "thread:3": "thread 2"}
    (loops,) = load_cases({"benchmarks": [simulated_case("asyncio", 3, 1)]})
    assert set(worker_names(loops.server_events).values()) == {"loop 1"}


def test_rows_by_worker_in_the_order_it_took_them() -> None:
    case, _ = _case()
    ordered = rows(case)
    assert [r.request.client for r in ordered] == [2, 0, 3, 1]
    assert [r.worker for r in ordered] == ["thread 1", "thread 1", "thread 2", "thread 2"]
    assert bands(ordered) == [("thread 1", 0, 1), ("thread 2", 2, 3)]
    assert [r.request.client for r in rows(case, "connect")] == [0, 1, 2, 3]
    with pytest.raises(ValueError, match="unknown order"):
        rows(case, "random")


def test_the_png_rows_and_bands_follow_the_workers() -> None:
    case, _ = _case()
    figure = timeline_figure(case)
    lanes = figure.axes[0]
    assert [t.get_text() for t in lanes.get_yticklabels()] == [
        "client 2", "client 0", "client 3", "client 1"
    ]  # fmt: skip
    # The workers, named on an axis of their own at the right, one per band of rows.
    (side,) = lanes.child_axes
    assert [t.get_text() for t in side.get_yticklabels()] == ["thread 1", "thread 2"]
    assert [t for t in side.get_yticks()] == [0.5, 2.5]
    connect = timeline_figure(case, order="connect").axes[0]
    assert [t.get_text() for t in connect.get_yticklabels()] == [f"client {i}" for i in range(4)]


def test_trace_tracks_follow_the_workers_and_flows_lead_to_them() -> None:
    case, _ = _case()
    events = render_trace_events([case])["traceEvents"]
    names = {tid: args["name"] for tid, args in _names(events, "thread_name").items()}
    sort = {tid: args["sort_index"] for tid, args in _names(events, "thread_sort_index").items()}
    tracks = [names[tid] for tid in sorted(names, key=lambda t: sort[t])]
    assert tracks == [
        "client 2", "client 2: at the server", "client 0", "client 0: at the server",
        "client 3", "client 3: at the server", "client 1", "client 1: at the server",
        "thread 1", "thread 2",
    ]  # fmt: skip
    slices = [e for e in events if e["ph"] == "X"]
    served = [e for e in slices if names[e["tid"]].startswith("thread ")]
    assert {e["args"]["worker"] for e in served} == {"thread:7", "thread:3"}
    # One flow per take: from the client's wait that the take ended, on its own
    # server-side track, to the slice of the worker that took it.
    outs = {e["bind_id"]: e for e in slices if e.get("flow_out")}
    ins = {e["bind_id"]: e for e in slices if e.get("flow_in")}
    assert len(outs) == 4 and outs.keys() == ins.keys()
    for bind_id, source in outs.items():
        target = ins[bind_id]
        client = int(names[source["tid"]].split()[1].rstrip(":"))
        assert names[source["tid"]] == f"client {client}: at the server"
        worker, taken = TAKES[client]
        assert target["args"]["worker"] == worker and target["ts"] == pytest.approx(taken * 1e6)
        assert source["ts"] + source["dur"] == pytest.approx(target["ts"])
    phases = Counter(e["name"] for e in slices if names[e["tid"]].endswith("at the server"))
    assert phases["queued for a worker"] == 4
    assert phases["being served (thread 1)"] == phases["being served (thread 2)"] == 2


def test_a_case_with_events_before_its_start_is_shifted_not_negative() -> None:
    """A connection accepted 0.25 s before the go (a waiting background connection):
    viewers drop negative times, so the whole case moves 0.25 s later, its go with it."""
    case, bench = _case()
    extra = bench["extra_info"]
    extra["server_events"][:0] = [
        {"at": -0.25, "conn": "99", "ev": "accepted", "worker": None,
         "peer": "127.0.0.1:49999"},
        {"at": -0.2, "conn": "99", "ev": "taken", "worker": "thread:3"},
    ]  # fmt: skip
    (shifted,) = load_cases({"benchmarks": [bench]})
    events = render_trace_events([shifted])["traceEvents"]
    timed = [e for e in events if "ts" in e]
    assert min(e["ts"] for e in timed) == 0.0
    (go,) = [e for e in timed if e["name"] == "go"]
    assert go["ts"] == pytest.approx(250_000)
    # Every time moved alike: a take keeps its place after the go.
    before = {e["args"]["conn"]: e["ts"] for e in render_trace_events([case])["traceEvents"]
              if e["ph"] == "X" and e["name"].startswith("serving")}  # fmt: skip
    after = {e["args"]["conn"]: e["ts"] for e in events
             if e["ph"] == "X" and e["name"].startswith("serving")}  # fmt: skip
    assert {c: after[c] - before[c] for c in before} == pytest.approx(
        {c: 250_000.0 for c in before}
    )
    # Without events before the go, no shift: the go at 0.
    (go,) = [e for e in render_trace_events([case])["traceEvents"] if e["name"] == "go"]
    assert go["ts"] == 0.0


# -- the LIST probes ---------------------------------------------------------------------


def _probe(due: float, connect: float | None, done: float | None, **more: Any) -> dict[str, Any]:
    sent = None if connect is None else connect + 0.0001
    return {"due": due, "connect": connect, "connected": sent, "sent": sent,
            "first_byte": done, "done": done, "ok": done is not None, "port": None,
            **more}  # fmt: skip


def _held_spans(case: Case) -> list[float]:
    events = render_trace_events([case])["traceEvents"]
    return sorted(e["args"]["due"] for e in events if e["ph"] == "b" and e["name"] ==
                  "LIST probe" and e["args"]["late"])  # fmt: skip


def test_a_probe_is_late_only_when_the_bound_held_it_back() -> None:
    """Every probe begins a moment after its due time (the thread wakes late); only one
    that waited for a slot was held back. Without the record's flag (older runs) the
    times tell: at its due time the bound was full, or one due before it was unsent."""
    probes = [
        _probe(0.0, 0.0002, 0.25),
        _probe(0.1, 0.25, 0.26),  # probe 0 holds the only slot until 0.25
        _probe(0.2, 0.2601, 0.27),  # probe 1 not sent yet at 0.2
        _probe(0.3, 0.3002, 0.301),  # on time, 0.2 ms late
    ]
    case, _ = _case(probes, probe_in_flight=1)
    assert held_back(case) == [False, True, True, False]
    assert _held_spans(case) == [0.1, 0.2]
    events = render_trace_events([case])["traceEvents"]
    assert (
        Counter(e["name"] for e in events if e["ph"] == "b")["held back by the bound: not yet sent"]
        == 2
    )
    # As recorded, when recorded: the flag wins over the times.
    flagged = [dict(p, late=k == 3) for k, p in enumerate(probes)]
    case, _ = _case(flagged, probe_in_flight=1)
    assert held_back(case) == [False, False, False, True]
    assert _held_spans(case) == [0.3]


def test_probes_cut_off_by_the_end_are_neither_failures_nor_timeouts() -> None:
    """A 0.44 s case: probes due at 0.2 and 0.3 s still wait when it ends, the one due
    at 0.4 s was never sent. They are cut off: drawn at the time they had waited, not
    at the 5 s timeout, and counted as cut off, not failed."""
    probes = [
        _probe(0.0, 0.0002, 0.05),
        _probe(0.1, 0.1002, 0.12),
        _probe(0.2, 0.2002, None),
        _probe(0.3, 0.3002, None),
        _probe(0.4, None, None),
    ]
    case, _ = _case(probes)
    end = case.end
    assert 0.4 <= end < 0.5
    assert counts(in_order(case), held_back(case)) == {
        "due": 5, "answered": 2, "failed": 0, "cut off": 3, "late": 0
    }  # fmt: skip
    assert [p.corrected_s for p in in_order(case)][2:] == [None, None, None]
    # The percentiles: the two answered, and the cut-off waits longer than both.
    due, _ = probe_waits(case)
    assert due is not None and due.max == pytest.approx(end - 0.2) and due.max < 1.0
    assert due.count == 4  # the one due at 0.4 s had waited less than any answered
    figure = timeline_figure(case)
    latency = next(a for a in figure.axes if a.get_ylabel() == "LIST probe (ms)")
    labels = [t.get_text() for t in latency.get_legend().get_texts()]
    assert not [label for label in labels if label.startswith("failed")]
    assert "cut off by the case's end: waited at least" in labels
    highest = max(float(y) for c in latency.collections for _, y in c.get_offsets())
    assert highest < 1000  # ms: nothing drawn at the 5 s timeout
    assert "3 cut off by the case's end" in latency.get_legend().get_title().get_text()
    events = render_trace_events([case])["traceEvents"]
    cut = [e for e in events if e["ph"] == "b" and e["name"] == "LIST probe (cut off by the end)"]
    assert len(cut) == 3 and all("latency from due (ms)" not in e["args"] for e in cut)


def test_a_failed_probe_stays_a_failure() -> None:
    """Unanswered within its timeout (it has an end, and no OK): a failure, drawn at its
    own latency."""
    failed = _probe(0.1, 0.1002, 5.1002)
    failed["ok"] = False
    case, _ = _case([_probe(0.0, 0.0002, 0.05), failed])
    assert counts(in_order(case), held_back(case))["failed"] == 1
    latency = next(a for a in timeline_figure(case).axes if a.get_ylabel() == "LIST probe (ms)")
    labels = [t.get_text() for t in latency.get_legend().get_texts()]
    assert [label for label in labels if label.startswith("failed")]

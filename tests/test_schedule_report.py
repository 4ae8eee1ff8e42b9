"""Runs under different schedules side by side (``fileproto report RUN --beside OTHER``),
and the preemptions on a case's timeline (docs/architecture.md, "Scheduling";
docs/trace.md). Made-up runs: a fifo run whose clients finish one after another and
whose probe waits, an mlfq run whose probe is answered at once."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from fileproto import report
from fileproto.report import schedules
from fileproto.report.trace_events import render_trace_events
from fileproto.report.workers import rows
from tests.test_report import DOCUMENT, _case, _run_cli

pytestmark = pytest.mark.smoke

CLIENTS = 4


def _run(schedule: str, probe_p99: float, finished: list[float], preempt: bool) -> dict[str, Any]:
    """A document with one pool case of 4 clients under ``schedule``."""
    entry = _case("thread", "UPLOAD", 100, CLIENTS, 1, 50.0)
    info = entry["extra_info"]
    info["avg_time_s"] = sum(finished) / len(finished)
    info["dispatch"] = "ready"
    info["schedule"] = schedule
    info["probe_s"] = {"count": 20, "p50": probe_p99 / 2, "p90": probe_p99, "p99": probe_p99,
                       "max": probe_p99}  # fmt: skip
    info["probe_failures"] = 0
    clients = [
        {"client": i, "op": "UPLOAD", "port": 40000 + i, "ok": True, "error": None,
         "connect": 0.0, "connected": 0.001, "sent": done - 0.01, "first_byte": done - 0.001,
         "done": done}
        for i, done in enumerate(finished)
    ]  # fmt: skip
    info["timeline"] = {"clients": clients, "probes": [], "dropped": 0}
    events: list[dict[str, Any]] = []
    for i in range(CLIENTS):
        conn = str(i)
        events += [
            {"at": 0.001, "conn": conn, "ev": "accepted", "peer": f"127.0.0.1:{40000 + i}"},
            {"at": 0.002 + i * 0.02, "conn": conn, "ev": "taken", "worker": "thread:0"},
        ]
        if preempt:
            events += [
                {"at": 0.022 + i * 0.02, "conn": conn, "ev": "given_back", "why": "read",
                 "waited_s": 0.0, "preempted": "shorter"},
                {"at": 0.022 + i * 0.02, "conn": conn, "ev": "ready", "writing": False},
                {"at": finished[i] - 0.3, "conn": conn, "ev": "taken", "worker": "thread:0"},
            ]  # fmt: skip
        events.append({"at": finished[i], "conn": conn, "ev": "response", "cmd": "UPLOAD"})
    info["server_events"] = events
    return {**DOCUMENT, "benchmarks": [entry]}


FIFO = _run("fifo", 2.5, [0.3, 0.6, 0.9, 1.2], preempt=False)
MLFQ = _run("mlfq", 0.04, [0.4, 0.7, 1.0, 1.3], preempt=True)


def _cases(document: dict[str, Any]) -> list[report.Case]:
    return report.load_cases(document)


def test_the_loads_of_two_runs_side_by_side_with_the_mean_against_fifo() -> None:
    (load,) = schedules.loads([_cases(MLFQ), _cases(FIFO)])
    by = {side.schedule: schedules.row(load, side) for side in load.sides}
    headers = schedules.HEADERS
    mlfq = dict(zip(headers, by["mlfq"], strict=True))
    fifo = dict(zip(headers, by["fifo"], strict=True))
    assert (mlfq["p99"], fifo["p99"]) == ("40 ms", "2.50 s")
    assert mlfq["mean / fifo's"] == "1.13x" and fifo["mean / fifo's"] == "1.00x"
    assert mlfq["clients' times: min to max"] == "400 ms to 1.30 s"
    (said,) = schedules.findings(load)
    assert "mlfq" in said and "40 ms against fifo's 2.50 s" in said and "1.13x" in said


def test_one_run_alone_has_nothing_beside_it() -> None:
    assert schedules.loads([_cases(MLFQ)]) == []


def test_preemptions_are_on_the_rows_of_the_timeline() -> None:
    (case,) = _cases(MLFQ)
    ticks = {row.request.client: row.preempted for row in rows(case)}
    assert ticks == {i: (0.022 + i * 0.02,) for i in range(CLIENTS)}
    (plain,) = _cases(FIFO)
    assert all(row.preempted == () for row in rows(plain))


def test_preemptions_are_instants_of_the_trace_events_export() -> None:
    events = render_trace_events(_cases(MLFQ))["traceEvents"]
    marks = [(e["name"], e["ts"], e["args"]["why"]) for e in events if e["ph"] == "i"
             and "preempted" in e["name"]]  # fmt: skip
    assert marks == [(f"conn {i} preempted: shorter", pytest.approx((0.022 + i * 0.02) * 1e6),
                      "read") for i in range(CLIENTS)]  # fmt: skip
    plain = render_trace_events(_cases(FIFO))["traceEvents"]
    assert not [e for e in plain if "preempted" in e["name"]]


def test_cli_writes_the_page_and_prints_the_table(tmp_path: Path) -> None:
    mlfq, fifo = tmp_path / "mlfq.json", tmp_path / "fifo.json"
    mlfq.write_text(json.dumps(MLFQ))
    fifo.write_text(json.dumps(FIFO))
    printed = _run_cli(mlfq, "--beside", fifo)
    assert printed.returncode == 0, printed.stderr
    assert "4 clients UPLOAD 100 MiB on 1 worker" in printed.stdout
    assert "1.13x fifo's" in printed.stdout
    page = tmp_path / "side.html"
    written = _run_cli(mlfq, "--beside", fifo, "--html", page)
    assert written.returncode == 0, written.stderr
    html = page.read_text()
    assert html.count('<img src="data:image/png;base64,') == 2
    assert "mean / fifo&#x27;s" in html
    alone = _run_cli(mlfq, "--beside", mlfq)
    assert alone.returncode == 2 and "share no load under two schedules" in alone.stderr

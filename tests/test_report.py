"""The report layer: what a reader of the tables, the CSV and the chart would notice."""

from __future__ import annotations

import copy
import csv
import io
import json
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest

from fileproto import report
from tests.helpers.cli import run_cli

pytestmark = pytest.mark.smoke

MIB = 1024 * 1024
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _case(
    kind: str,
    operation: str,
    size_mib: int,
    clients: int,
    server_workers: int | str,
    per_client_mib_s: float,
    *,
    failures: int = 0,
    error: str | None = None,
) -> dict[str, Any]:
    """One benchmark entry as pytest-benchmark writes it, figures from a plausible run."""
    size = size_mib * MIB
    avg = size / (per_client_mib_s * MIB)
    wall = avg * 1.1
    ok = clients - failures
    info = {
        "operation": operation,
        "size_mib": size_mib,
        "size_bytes": size,
        "client_workers": clients,
        "server_workers": server_workers,
        "server_kind": kind,
        "method": "thread",
        "dialect": "json",
        "avg_time_s": avg,
        "throughput_Bps": size / avg,
        "aggregate_Bps": ok * size / wall,
        "wall_time_s": wall,
        "successes": ok,
        "failures": failures,
        "verified": failures == 0,
        "first_error": error,
        "client_peak_rss_bytes": 61_234_688,
    }
    if kind != "external":
        info["server_peak_rss_bytes"] = 48_123_904
    name = f"test_matrix[{kind}-{operation}-{size_mib}MiB-c{clients}-s{server_workers}]"
    return {
        "group": f"{kind} {operation}",
        "name": name,
        "fullname": f"tests/test_matrix.py::{name}",
        "params": None,
        "param": None,
        "extra_info": info,
        "options": {"max_time": 1.0},
        "stats": {
            "min": wall,
            "max": wall,
            "mean": wall,
            "stddev": 0,
            "rounds": 1,
            "median": wall,
            "iqr": 0,
            "q1": wall,
            "q3": wall,
            "iterations": 1,
            "total": wall,
            "ops": 1 / wall,
        },
    }


FAILING_ERROR = "client 7: timeout: timed out | after 300 s"

BENCHMARKS = [
    # Deliberately out of order: the tables must sort them.
    _case("process", "DOWNLOAD", 10, 5, 5, 240.0),
    _case("thread", "DOWNLOAD", 10, 1, 1, 380.0),
    _case("thread", "UPLOAD", 50, 5, 1, 60.0),
    _case("thread", "UPLOAD", 10, 1, 5, 300.0),
    _case("thread", "UPLOAD", 10, 50, 5, 21.5),
    _case("process", "UPLOAD", 100, 50, 1, 6.8, failures=3, error=FAILING_ERROR),
    _case("process", "UPLOAD", 10, 1, 1, 220.0),
    {
        "name": "test_limit[100MiB]",
        "group": "limit",
        "extra_info": {
            "reference": "limit",
            "size_mib": 100,
            "size_bytes": 100 * MIB,
            "time_s": 0.07,
            "throughput_Bps": 100 * MIB / 0.07,
        },
    },
    {"name": "test_protocol_roundtrip", "extra_info": {}},
]
DOCUMENT: dict[str, Any] = {
    "machine_info": {"node": "ci-3", "processor": "x86_64", "python_version": "3.11.9"},
    "commit_info": {"id": "4f2a9c1", "branch": "main", "dirty": False},
    "benchmarks": BENCHMARKS,
    "datetime": "2024-06-01T12:00:00.000000+00:00",
    "version": "4.0.0",
}


@pytest.fixture
def results_json(tmp_path: Path) -> Path:
    path = tmp_path / "out.json"
    path.write_text(json.dumps(DOCUMENT), encoding="utf-8")
    return path


def _run_cli(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return run_cli("report", *args)


def _table_rows(section: str) -> list[str]:
    return [
        line
        for line in section.splitlines()
        if line.startswith("| ") and not line.startswith("| No ")
    ]


# --- loading ------------------------------------------------------------------------------


def test_load_keeps_only_matrix_cases(results_json: Path) -> None:
    cases = report.load_results(results_json)
    assert len(cases) == 7
    failing = next(c for c in cases if c.failures)
    assert (failing.server_kind, failing.operation, failing.size_mib) == ("process", "UPLOAD", 100)
    assert failing.first_error == FAILING_ERROR and failing.verified is False
    assert report.load_results(DOCUMENT) == cases  # an already-parsed dict works the same


def test_load_references_are_separate(results_json: Path) -> None:
    refs = report.load_references(results_json)
    assert [(r["name"], r["size_mib"]) for r in refs] == [("test_limit[100MiB]", 100)]


def test_stress_json_without_stats_and_optional_fields() -> None:
    bench = _case("external", "UPLOAD", 10, 5, "external", 100.0)
    del bench["stats"], bench["extra_info"]["client_peak_rss_bytes"]
    [case] = report.load_results({"benchmarks": [bench]})
    assert case.server_workers == "external"
    assert case.server_peak_rss_bytes is None and case.client_peak_rss_bytes is None


def test_missing_required_field_is_named() -> None:
    document = copy.deepcopy(DOCUMENT)
    broken = document["benchmarks"][2]
    del broken["extra_info"]["aggregate_Bps"]
    with pytest.raises(ValueError, match="aggregate_Bps") as excinfo:
        report.load_results(document)
    assert broken["name"] in str(excinfo.value)


def test_wrong_type_is_rejected_with_the_benchmark_name() -> None:
    document = copy.deepcopy(DOCUMENT)
    document["benchmarks"][0]["extra_info"]["failures"] = "none"
    with pytest.raises(ValueError, match=r"test_matrix\[process-DOWNLOAD.*failures"):
        report.load_results(document)


def test_not_a_benchmark_file(tmp_path: Path) -> None:
    path = tmp_path / "list.json"
    path.write_text("[1, 2]", encoding="utf-8")
    with pytest.raises(ValueError, match="benchmarks"):
        report.load_results(path)


# --- ordering and tables ------------------------------------------------------------------


def test_sort_order() -> None:
    cases = report.sort_results(report.load_results(DOCUMENT))
    keys = [(c.server_kind, c.operation, c.size_mib, c.client_workers) for c in cases]
    assert keys == [
        ("thread", "UPLOAD", 10, 1),
        ("thread", "UPLOAD", 10, 50),
        ("thread", "UPLOAD", 50, 5),
        ("thread", "DOWNLOAD", 10, 1),
        ("process", "UPLOAD", 10, 1),
        ("process", "UPLOAD", 100, 50),
        ("process", "DOWNLOAD", 10, 5),
    ]


def test_external_server_workers_sort_last() -> None:
    benches = [
        _case("thread", "UPLOAD", 10, 1, "external", 1.0),
        _case("thread", "UPLOAD", 10, 1, 50, 1.0),
        _case("thread", "UPLOAD", 10, 1, 5, 1.0),
    ]
    cases = report.sort_results(report.load_results({"benchmarks": benches}))
    assert [c.server_workers for c in cases] == [5, 50, "external"]


def test_markdown_sections_rows_and_numbers() -> None:
    markdown = report.render_markdown(report.load_results(DOCUMENT))
    assert markdown.count("### ") == 2
    thread, process = markdown.split("### process pool")
    assert thread.startswith("### thread pool")
    assert (
        "| No | Operation | Size (MiB) | Client Workers | Server Workers | Avg Time (s) "
        "| Throughput (MiB/s) | Aggregate (MiB/s) | Client Success | Client Fail |"
    ) in thread
    thread_rows, process_rows = _table_rows(thread), _table_rows(process)
    assert [row.split(" | ")[0] for row in thread_rows] == ["| 1", "| 2", "| 3", "| 4"]
    assert len(process_rows) == 3
    # 10 MiB at 300 MiB/s: avg 0.033 s, 300 MiB/s per client (the chart's unit too).
    assert "| 1 | UPLOAD | 10 | 1 | 5 | 0.033 | 300.0 |" in thread_rows[0]


def test_failure_marker_and_footnote_only_for_the_failing_case() -> None:
    markdown = report.render_markdown(report.load_results(DOCUMENT))
    thread, process = markdown.split("### process pool")
    assert report.MARK not in thread
    marked = [row for row in _table_rows(process) if report.MARK in row]
    assert len(marked) == 1 and "| 100 | 50 | 1 |" in marked[0]
    assert marked[0].endswith(f"| 47 | 3 {report.MARK} |")
    notes = [line for line in process.splitlines() if line.startswith(f"- {report.MARK}")]
    assert len(notes) == 1
    assert "No 2" in notes[0] and "3 of 50 clients failed" in notes[0]
    # The error text is kept, its pipe escaped so the Markdown table stays intact.
    assert "client 7: timeout: timed out \\| after 300 s" in notes[0]


def test_text_table_matches_markdown() -> None:
    cases = report.load_results(DOCUMENT)
    text = report.render_text(cases)
    assert "thread pool\n===========" in text and "process pool\n============" in text
    header = next(line for line in text.splitlines() if line.startswith("No"))
    assert header.split("  ")[0:2] == ["No", "Operation"]
    for title in report.HEADERS:
        assert title in header
    assert text.count(report.MARK) == 2  # the failing row and its footnote
    assert FAILING_ERROR in text
    # Header, rule and rows end at one column: the columns line up, the marker sticks out.
    process = text.split("process pool")[1].splitlines()[2:7]
    assert len({len(line.removesuffix(f" {report.MARK}")) for line in process}) == 1, process


def test_csv_round_trip() -> None:
    cases = report.sort_results(report.load_results(DOCUMENT))
    rows = list(csv.DictReader(io.StringIO(report.render_csv(cases))))
    assert list(rows[0]) == list(report.CSV_COLUMNS)
    assert len(rows) == len(cases)
    for row, case in zip(rows, cases, strict=True):
        assert row["server_kind"] == case.server_kind and row["operation"] == case.operation
        assert int(row["size_mib"]) == case.size_mib
        assert int(row["client_workers"]) == case.client_workers
        assert row["server_workers"] == str(case.server_workers)
        assert float(row["avg_time_s"]) == case.avg_time_s
        assert float(row["throughput_Bps"]) == case.throughput_Bps
        assert float(row["aggregate_Bps"]) == case.aggregate_Bps
        assert (int(row["successes"]), int(row["failures"])) == (case.successes, case.failures)
        assert row["verified"] == ("true" if case.verified else "false")
        assert int(row["server_peak_rss_bytes"]) == case.server_peak_rss_bytes


# --- chart --------------------------------------------------------------------------------


def test_png_with_references(tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    path = tmp_path / "chart.png"
    report.render_png(
        report.load_results(DOCUMENT), path, references=report.load_references(DOCUMENT)
    )
    data = path.read_bytes()
    assert data.startswith(PNG_MAGIC) and len(data) > 20_000


# --- command line -------------------------------------------------------------------------


def test_cli_prints_text_table(results_json: Path) -> None:
    result = _run_cli(results_json)
    assert result.returncode == 0, result.stderr
    assert "thread pool" in result.stdout and "process pool" in result.stdout
    assert "Throughput (MiB/s)" in result.stdout and "  300.0  " in result.stdout


def test_cli_writes_md_csv_png(results_json: Path, tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    md, table, png = tmp_path / "r.md", tmp_path / "r.csv", tmp_path / "r.png"
    result = _run_cli(results_json, "--md", md, "--csv", table, "--png", png)
    assert result.returncode == 0, result.stderr
    for path in (md, table, png):
        assert str(path) in result.stdout
    assert md.read_text(encoding="utf-8").count("### ") == 2
    assert len(list(csv.DictReader(table.open(encoding="utf-8")))) == 7
    data = png.read_bytes()
    assert data.startswith(PNG_MAGIC) and len(data) > 20_000


def test_cli_missing_file(tmp_path: Path) -> None:
    missing = tmp_path / "nope.json"
    result = _run_cli(missing)
    assert result.returncode == 2
    assert str(missing) in result.stderr and "No such file" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1  # a message, not a traceback


def test_cli_invalid_json(tmp_path: Path) -> None:
    path = tmp_path / "bad.json"
    path.write_text('{"benchmarks": [', encoding="utf-8")
    result = _run_cli(path)
    assert result.returncode == 2 and "not valid JSON" in result.stderr


def test_cli_no_matrix_cases(tmp_path: Path) -> None:
    path = tmp_path / "refs.json"
    path.write_text(json.dumps({"benchmarks": BENCHMARKS[-2:]}), encoding="utf-8")
    result = _run_cli(path)
    assert result.returncode == 2 and "no matrix cases" in result.stderr


# --- slow-client cases --------------------------------------------------------------------


def _slow(
    kind: str,
    dispatch: str,
    workers: int,
    scenario: str,
    done: int,
    clients: int,
    moved_mib_s: float,
    probe_p99: float,
) -> dict[str, Any]:
    """A slow-client case as the slowclients matrix writes it."""
    bench = _case(kind, "UPLOAD", 10, clients, workers, 1.0, failures=clients - done)
    info = bench["extra_info"]
    rate = float(MIB) if scenario == "slow-links" else None
    info.update(
        dispatch=dispatch, scenario=scenario, deadline_s=15.0,
        moved_bytes=int(moved_mib_s * 15 * MIB), moved_Bps=moved_mib_s * MIB,
        failure_kinds={"deadline": clients - done} if clients > done else {},
        probe_s={"count": 20, "p50": 0.001, "p90": 0.002, "p99": probe_p99, "max": probe_p99},
        probe_failures=0 if probe_p99 < 5 else 2,
    )  # fmt: skip
    if done:
        info["ttfb_s"] = {"count": done, "p50": 13.2, "p90": 13.2, "p99": 13.25, "max": 13.3}
    if rate:
        info.update(
            rate_Bps=rate,
            offered_Bps=clients * rate,
            ratio_to_offered=moved_mib_s * MIB / (clients * rate),
        )
    else:
        info["background"] = {"idle": 200, "slowloris": 20, "parked": 0}
    bench["name"] = f"test_slowclients[{kind}-{dispatch}-w{workers}-{scenario}]"
    return bench


SLOW = [
    _slow("process", "ready", 5, "slow-links", 5, 20, 4.6, 5.0),
    _slow("thread", "ready", 1, "idle", 5, 5, 500.0, 0.0064),
    _slow("thread", "accept", 1, "idle", 0, 5, 0.0, 5.0),
    _slow("asyncio", "loop", 1, "slow-links", 20, 20, 15.0, 0.004),
]
MIXED: dict[str, Any] = {**DOCUMENT, "benchmarks": [*BENCHMARKS, *SLOW]}


def test_slow_cases_have_their_own_table() -> None:
    classic, slow = report.split(report.load_results(MIXED))
    assert len(classic) == 7 and len(slow) == 4
    assert report.render_text(classic) == report.render_text(report.load_results(DOCUMENT))
    text = report.render_slow_text(slow)
    rows = [line.split() for line in text.splitlines() if re.match(r"\s*\d+\s+[a-z]", line)]
    # idle before slow-links; in each, kinds in the registry's order, accept before ready
    assert [row[1:5] for row in rows] == [
        ["thread", "accept", "1", "idle"],
        ["thread", "ready", "1", "idle"],
        ["process", "ready", "5", "slow-links"],
        ["asyncio", "loop", "1", "slow-links"],
    ]
    accept_idle = rows[0]
    assert accept_idle[5:7] == ["0", "5"] and accept_idle[-1] == report.MARK
    assert accept_idle[8] == "—"  # no link rate, no ratio
    assert rows[2][7:9] == ["4.6", "0.23"] and rows[3][7:9] == ["15.0", "0.75"]
    assert rows[3][-1] == "13,250.0"  # TTFB p99, in ms as every latency
    assert "slow-links: 20 clients UPLOAD 10 MiB, at 1 MiB/s each, deadline 15 s" in text
    assert "idle: 5 clients UPLOAD 10 MiB, beside 200 idle + 20 slowloris connections" in text
    note = f"{report.MARK} No 1 (thread accept, 1 server worker, idle): 5 of 5 clients failed"
    assert f"{note} (by kind: deadline 5)" in text


def test_the_stalled_scenario_names_its_connections() -> None:
    """Stalled readers (a GET that reads nothing) are described like every other role,
    not as "beside  connections"."""
    stalled = _slow("thread", "ready", 1, "stalled", 5, 5, 300.0, 0.01)
    stalled["extra_info"]["background"] = {"idle": 0, "slowloris": 0, "parked": 0, "stalled": 20}
    (case,) = report.load_results({"benchmarks": [stalled]})
    text = report.render_slow_text([case])
    assert "stalled: 5 clients UPLOAD 10 MiB, beside 20 stalled connections" in text
    assert "beside  connections" not in report.render_slow_markdown([case])


def test_slow_markdown_and_csv() -> None:
    _, slow = report.split(report.load_results(MIXED))
    markdown = report.render_slow_markdown(slow)
    assert markdown.startswith("### slow clients") and markdown.count("\n| ") == 5  # header, 4 rows
    rows = list(csv.DictReader(io.StringIO(report.render_slow_csv(slow))))
    assert list(rows[0]) == list(report.SLOW_CSV_COLUMNS)
    first = rows[0]
    assert (first["server_kind"], first["dispatch"], first["scenario"]) == (
        "thread",
        "accept",
        "idle",
    )
    assert rows[0]["failure_kinds"] == "deadline:5" and rows[0]["ttfb_p99"] == ""
    assert float(rows[3]["probe_p99"]) == 0.004 and rows[3]["ratio_to_offered"]


def test_older_runs_have_no_slow_table(results_json: Path) -> None:
    assert report.split(report.load_results(results_json))[1] == []
    result = _run_cli(results_json)
    assert "slow clients" not in result.stdout


def test_cli_renders_both_tables_and_writes_sibling_files(tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    path = tmp_path / "mixed.json"
    path.write_text(json.dumps(MIXED), encoding="utf-8")
    shown = _run_cli(path)
    assert shown.returncode == 0, shown.stderr
    assert shown.stdout.index("thread pool") < shown.stdout.index("slow clients\n")
    md, table, png = tmp_path / "r.md", tmp_path / "r.csv", tmp_path / "r.png"
    result = _run_cli(path, "--md", md, "--csv", table, "--png", png)
    assert result.returncode == 0, result.stderr
    siblings = [tmp_path / "r-slowclients.csv", tmp_path / "r-slowclients.png"]
    for written in (md, table, png, *siblings):
        assert str(written) in result.stdout
    assert md.read_text(encoding="utf-8").count("### ") == 3  # two kinds, then slow clients
    assert len(list(csv.DictReader(table.open(encoding="utf-8")))) == 7  # classic only
    assert len(list(csv.DictReader(siblings[0].open(encoding="utf-8")))) == 4
    for chart in (png, siblings[1]):
        data = chart.read_bytes()
        assert data.startswith(PNG_MAGIC) and len(data) > 20_000

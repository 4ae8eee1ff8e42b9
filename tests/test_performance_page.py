"""docs/performance.md is written from the committed runs (fileproto/report/performance.py):
dated by each run's own datetime, with the commands, the totals and the answer."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from fileproto.report.performance import main, performance_page
from tests.helpers.timeline_runs import simulated_run, with_rounds

pytestmark = pytest.mark.smoke

DOCS = Path(__file__).resolve().parent.parent / "docs"


def _slow_run(scenarios: set[str]) -> dict[str, Any]:
    """The committed slow-client run, cut down to some of its scenarios."""
    document: dict[str, Any] = json.loads((DOCS / "slow-run.json").read_text())
    document = copy.deepcopy(document)
    document["benchmarks"] = [
        b for b in document["benchmarks"] if b["extra_info"].get("scenario") in scenarios
    ]
    return document


def test_the_committed_page_is_what_the_committed_runs_write(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """docs/performance.md is never edited by hand: written again from docs/full-run.json
    and docs/slow-run.json, it is the same page."""
    monkeypatch.chdir(DOCS.parent)
    out = tmp_path / "performance.md"
    argv = ["docs/full-run.json", "--slow", "docs/slow-run.json", "--output", str(out)]
    assert main(argv) == 0
    assert out.read_text() == (DOCS / "performance.md").read_text()


def test_the_page_is_dated_by_the_run_and_says_what_it_holds(tmp_path: Path) -> None:
    run = with_rounds(simulated_run(kinds=("thread", "process"), clients=(1, 50)))
    run["datetime"] = "2026-07-14T21:05:09.123+00:00"
    run["benchmarks"][0]["extra_info"]["failures"] = 3
    page = performance_page(run, "docs/full-run.json")
    assert page.startswith("# Performance\n")
    assert "Run on 2026-07-14 21:05 UTC (docs/full-run.json)" in page
    assert "Test CPU, 2 cores, Python 3.11.7" in page
    clients = sum(b["extra_info"]["successes"] for b in run["benchmarks"])
    assert f"8 cases, {clients:,} clients succeeded, 3 failed" in page
    assert "pytest -m full --benchmark-json=docs/full-run.json" in page
    assert "python -m fileproto.report.performance docs/full-run.json --output" in page
    # The report follows: the answer table with a column per model and worker count.
    assert "| thread pool on 1 worker | thread pool on 5 workers |" in page
    assert "## Clients that wait" not in page


def test_the_page_says_which_cases_keep_the_servers_events() -> None:
    """A committed run may keep the server's events of some cases only (a whole run's are
    several times the rest of it): the page says which, since the reasons rest on them."""
    run = with_rounds(simulated_run(kinds=("thread", "process"), clients=(1, 50)))
    assert "keeps the server's events" not in performance_page(run, "full.json")
    for bench in run["benchmarks"]:
        if bench["extra_info"]["client_workers"] != 50:
            del bench["extra_info"]["server_events"]
    page = performance_page(run, "full.json")
    assert "The file keeps the server's events of 4 of its 8 cases (10 MiB, 50 clients)" in page
    assert "Why: the server's events were not recorded" not in page


def test_a_slow_run_is_set_against_the_cases_the_code_defines() -> None:
    run = simulated_run(kinds=("thread",), clients=(1,), workers=(1,))
    page = performance_page(run, "full.json", _slow_run({"idle"}), "slow.json")
    section = page[page.index("## Clients that wait") :]
    assert "10 of the 30 cases the code defines for asyncio, process, thread" in section
    assert "this run has no slow-links, stalled scenario" in section
    for scenario in ("idle", "slow-links", "stalled"):
        assert f"- **{scenario}**: " in section
    assert "--slow slow.json" in page
    complete = performance_page(run, "full.json", _slow_run({"idle", "slow-links"}), "s.json")
    assert "20 of the 30 cases" in complete and "no stalled scenario" in complete


def test_the_command_writes_the_page_and_refuses_a_run_without_a_date(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run = simulated_run(kinds=("thread",), clients=(1,), workers=(1,))
    source = tmp_path / "run.json"
    source.write_text(json.dumps(run))
    out = tmp_path / "performance.md"
    assert main([str(source), "--output", str(out)]) == 0
    assert out.read_text().startswith("# Performance\n")
    assert "Run on 2026-12-03 09:00 UTC" in out.read_text()
    del run["datetime"]
    source.write_text(json.dumps(run))
    assert main([str(source)]) == 2
    assert "the run has no 'datetime'" in capsys.readouterr().err
    assert main([str(tmp_path / "missing.json")]) == 2

"""``fileproto compare OLD.json NEW.json`` on hand-made runs: a real change is found,
equal runs are unchanged, too few rounds decide nothing, lone cases are listed, the
gate's exit status follows its threshold, and the three outputs say the same."""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from fileproto.cli import main
from fileproto.report.compare import Run, compare_runs
from fileproto.report.compare_render import render_json, render_markdown, render_text
from fileproto.results import LoadResult
from fileproto.results.document import BenchmarkEntry, benchmark_document, write_document

pytestmark = pytest.mark.smoke

_BASE = LoadResult(
    operation="UPLOAD", size_mib=10, size_bytes=10 << 20, client_workers=5, server_workers=1,
    server_kind="thread", method="thread", avg_time_s=1.0, throughput_Bps=1.0,
    aggregate_Bps=1.0, wall_time_s=1.0, successes=5, failures=0, verified=True,
    first_error=None, dispatch="ready",
)  # fmt: skip

#: One run's rounds of a case, as spread as back-to-back rounds on a quiet machine.
JITTER = (1.00, 1.04, 0.97, 1.02, 0.99, 1.03, 0.98, 1.01)


def _case(clients: int, times: Sequence[float], **changes: Any) -> LoadResult:
    return dataclasses.replace(
        _BASE,
        client_workers=clients,
        avg_time_s=sum(times) / len(times),
        rounds=len(times),
        round_times_s=list(times),
        **changes,
    )


def _document(*cases: LoadResult, parallel: bool = False) -> dict[str, Any]:
    entries = [
        BenchmarkEntry(
            name=f"test_matrix[{c.id}]",
            fullname=f"tests/test_matrix.py::test_matrix[{c.id}]",
            extra_info=c.extra_info(),
            durations=c.times_of_rounds() or [c.avg_time_s],
        )
        for c in cases
    ]
    machine = {"parallel": {"runner": "pytest-xdist"}} if parallel else {}
    return benchmark_document(entries, machine=machine, version="test")


def _save(path: Path, *cases: LoadResult) -> str:
    write_document(_document(*cases), path)
    return str(path)


def _scaled(factor: float, rounds: int = 8, shift: int = 3) -> list[float]:
    # Another run's rounds: the same spread in another order, times the factor.
    order = JITTER[shift:] + JITTER[:shift]
    return [factor * t for t in order[:rounds]]


def _compare(old: Sequence[LoadResult], new: Sequence[LoadResult]) -> Any:
    return compare_runs(Run.load(_document(*old), "old"), Run.load(_document(*new), "new"))


def test_a_real_change_is_found_with_its_size() -> None:
    old = [_case(5, _scaled(1.0, shift=0)), _case(50, _scaled(2.0, shift=0))]
    new = [_case(5, _scaled(1.5)), _case(50, _scaled(1.2))]  # 50% slower; 40% faster
    result = _compare(old, new)
    slower, faster = result.changes
    assert (slower.id, slower.verdict) == ("thread-UPLOAD-10MiB-c5-w1", "slower")
    assert slower.comparison.low < 1.5 < slower.comparison.high
    assert (faster.id, faster.verdict) == ("thread-UPLOAD-10MiB-c50-w1", "faster")
    assert faster.comparison.low < 0.6 < faster.comparison.high
    assert result.counts() == {"faster": 1, "slower": 1, "unchanged": 0, "undecided": 0}


def test_two_runs_of_the_same_code_are_unchanged() -> None:
    old = [_case(c, _scaled(0.1 * c, shift=0)) for c in (1, 5, 50)]
    new = [_case(c, _scaled(0.1 * c, shift=5)) for c in (1, 5, 50)]
    result = _compare(old, new)
    assert [c.verdict for c in result.changes] == ["unchanged"] * 3
    mean, over = result.geometric_mean()
    assert over == 3 and mean == pytest.approx(1.0, abs=0.02)


def test_one_round_decides_nothing_and_says_how_to_get_more() -> None:
    old, new = [_case(5, [1.0])], [_case(5, [3.0])]
    result = _compare(old, new)
    (change,) = result.changes
    # Three times slower in its one round, and still nothing can be said from it.
    assert change.verdict == "undecided" and change.comparison.ratio == pytest.approx(3.0)
    assert change.too_few_rounds
    text = render_text(result)
    assert "too few rounds" in text and "--fileproto-rounds N" in text
    case = render_json(result)["cases"][0]
    assert case["low"] is None and case["high"] is None
    assert "too few for an interval" in case["notes"][0]


def test_an_interval_across_the_margin_is_undecided() -> None:
    # Four rounds a side give the widest interval there is: min to max of the ratios.
    old = [_case(5, [1.0, 1.3, 0.8, 1.1])]
    new = [_case(5, [1.25, 0.9, 1.5, 1.1])]
    (change,) = _compare(old, new).changes
    assert change.verdict == "undecided" and not change.too_few_rounds
    assert change.comparison.low < 1 / 1.1 and change.comparison.high > 1.1
    assert "more rounds narrow it" in change.notes()[0]


def test_cases_in_one_run_only_are_listed_and_counted() -> None:
    old = [_case(1, _scaled(1.0)), _case(5, _scaled(1.0))]
    new = [_case(5, _scaled(1.0, shift=6)), _case(50, _scaled(1.0))]
    result = _compare(old, new)
    assert [c.id for c in result.changes] == ["thread-UPLOAD-10MiB-c5-w1"]
    assert list(result.only_old) == ["thread-UPLOAD-10MiB-c1-w1"]
    assert list(result.only_new) == ["thread-UPLOAD-10MiB-c50-w1"]
    text = render_text(result)
    assert "Only in OLD (old): 1 case(s): thread-UPLOAD-10MiB-c1-w1" in text
    assert "Only in NEW (new): 1 case(s): thread-UPLOAD-10MiB-c50-w1" in text
    summary = render_json(result)["summary"]
    assert (summary["cases"], summary["only_old"], summary["only_new"]) == (1, 1, 1)


def test_what_weakens_a_comparison_is_said() -> None:
    slow = _case(5, _scaled(1.0), scenario="idle")
    old = [_case(5, _scaled(1.0)), slow]
    new = [_case(5, _scaled(1.0), dispatch="accept", failures=1)]
    result = compare_runs(
        Run.load(_document(*old), "old"), Run.load(_document(*new, parallel=True), "new")
    )
    warnings = " ".join(result.warnings())
    assert "NEW ran its cases side by side" in warnings
    assert "1 slow-client case(s) left out" in warnings
    notes = " ".join(result.changes[0].notes())
    assert "dispatch: ready in OLD, accept in NEW" in notes
    assert "NEW: 1 client(s) failed" in notes


def test_the_geometric_mean_is_over_the_cases_in_both() -> None:
    old = [_case(c, _scaled(1.0, shift=0)) for c in (1, 5)]
    new = [_case(1, _scaled(2.0, shift=0)), _case(5, _scaled(0.5, shift=0))]
    result = _compare(old, new)
    assert [c.comparison.ratio for c in result.changes] == pytest.approx([2.0, 0.5])
    mean, over = result.geometric_mean()
    assert over == 2 and mean == pytest.approx(1.0)
    summary = render_json(result)["summary"]
    assert summary["geometric_mean_ratio"] == pytest.approx(1.0)
    assert summary["geometric_mean_over"] == 2
    assert "over the 2 case(s) with times in both runs: 1.000" in render_text(result)


def test_the_three_outputs_state_the_same_verdicts() -> None:
    old = [_case(5, _scaled(1.0, shift=0)), _case(50, _scaled(1.0, shift=0))]
    new = [_case(5, _scaled(1.5)), _case(50, _scaled(1.0))]
    result = _compare(old, new)
    document = json.loads(json.dumps(render_json(result)))
    cases = {c["id"]: c for c in document["cases"]}
    slow = cases["thread-UPLOAD-10MiB-c5-w1"]
    assert slow["verdict"] == "slower" and slow["low"] < slow["ratio"] < slow["high"]
    assert slow["ratio"] == pytest.approx(1.5, rel=0.03)
    assert cases["thread-UPLOAD-10MiB-c50-w1"]["verdict"] == "unchanged"
    assert document["summary"]["slower"] == 1 and document["summary"]["unchanged"] == 1

    text_rows = [line.split() for line in render_text(result).splitlines()]
    by_id = {row[0]: row for row in text_rows if row and row[0].startswith("thread-")}
    assert by_id["thread-UPLOAD-10MiB-c5-w1"][-1] == "slower"
    assert by_id["thread-UPLOAD-10MiB-c50-w1"][-1] == "unchanged"
    assert float(by_id["thread-UPLOAD-10MiB-c5-w1"][4]) == pytest.approx(slow["ratio"], abs=1e-3)

    markdown = render_markdown(result)
    cells = [
        [cell.strip() for cell in line.strip("|").split("|")]
        for line in markdown.splitlines()
        if line.startswith("| thread-")
    ]
    assert [(row[0], row[6]) for row in cells] == [
        ("thread-UPLOAD-10MiB-c5-w1", "slower"),
        ("thread-UPLOAD-10MiB-c50-w1", "unchanged"),
    ]
    assert "1 slower" in markdown and "1 unchanged" in markdown


# -- the command: outputs and exit status ------------------------------------------------


@pytest.fixture
def runs(tmp_path: Path) -> tuple[str, str]:
    """OLD and NEW: the c5 case 50% slower in NEW, the c50 case the same."""
    old = _save(
        tmp_path / "old.json", _case(5, _scaled(1.0, shift=0)), _case(50, _scaled(1.0, shift=0))
    )
    new = _save(tmp_path / "new.json", _case(5, _scaled(1.5)), _case(50, _scaled(1.0)))
    return old, new


def _run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(["compare", *args])
    out, err = capsys.readouterr()
    return code, out, err


def test_the_gate_fails_only_beyond_its_threshold(
    runs: tuple[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    old, new = runs
    code, out, _ = _run(capsys, old, new)
    assert code == 0 and "slower" in out  # no gate asked for
    code, out, _ = _run(capsys, old, new, "--fail-slower", "20")
    assert code == 1
    assert "Gate --fail-slower 20: FAILED: 1 case(s)" in out
    assert "thread-UPLOAD-10MiB-c5-w1: NEW/OLD 1.5" in out
    # The gate's line is the interval's low end: above 1 + PERCENT/100 fails, below passes.
    (low,) = [
        c["low"]
        for c in json.loads(_run(capsys, old, new, "--json", "-")[1])["cases"]
        if c["verdict"] == "slower"
    ]
    assert 1.3 < low < 1.5
    code, _, _ = _run(capsys, old, new, "--fail-slower", f"{(low - 1) * 100 - 0.5:.2f}")
    assert code == 1
    above = f"{(low - 1) * 100 + 0.5:.2f}"
    code, out, _ = _run(capsys, old, new, "--fail-slower", f"{above}%")
    assert code == 0 and f"Gate --fail-slower {float(above):g}: passed" in out
    # New against old the other way round: faster never fails the gate.
    code, _, _ = _run(capsys, new, old, "--fail-slower", "0")
    assert code == 0


def test_the_gate_cannot_pass_runs_it_cannot_judge(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    old = _save(tmp_path / "old.json", _case(5, [1.0]))
    new = _save(tmp_path / "new.json", _case(5, [9.0]))
    code, out, err = _run(capsys, old, new)
    assert code == 0 and "undecided" in out
    code, _, err = _run(capsys, old, new, "--fail-slower", "10")
    assert code == 2
    assert "no case has rounds enough to be judged" in err and "--fileproto-rounds" in err


def test_bad_input_exits_2_and_says_why(
    tmp_path: Path, runs: tuple[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    old, _ = runs
    code, _, err = _run(capsys, old, str(tmp_path / "missing.json"))
    assert code == 2 and "NEW file" in err and "does not exist" in err
    not_json = tmp_path / "notes.txt"
    not_json.write_text("hello")
    code, _, err = _run(capsys, str(not_json), old)
    assert code == 2 and "is not valid JSON" in err
    other = tmp_path / "other.json"
    other.write_text(json.dumps({"results": []}))
    code, _, err = _run(capsys, old, str(other))
    assert code == 2 and "not a benchmark JSON" in err
    elsewhere = _save(tmp_path / "elsewhere.json", _case(1, _scaled(1.0)))
    code, _, err = _run(capsys, old, elsewhere)
    assert code == 2 and "no case in common" in err
    twice = _save(tmp_path / "twice.json", _case(5, _scaled(1.0)), _case(5, _scaled(2.0)))
    code, _, err = _run(capsys, old, twice)
    assert code == 2 and "holds case thread-UPLOAD-10MiB-c5-w1 twice" in err
    code, _, err = _run(capsys, old, old, "--json", str(tmp_path / "no-such-dir" / "x.json"))
    assert code == 2 and "cannot write" in err


def test_json_to_a_file_or_alone_on_stdout(
    tmp_path: Path, runs: tuple[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    old, new = runs
    target = tmp_path / "cmp.json"
    code, out, _ = _run(capsys, old, new, "--json", str(target), "--fail-slower", "20")
    assert code == 1 and "NEW/OLD" in out  # the text still goes to stdout
    written = json.loads(target.read_text())
    assert written["gate"] == {
        "fail_slower_percent": 20.0,
        "passed": False,
        "failing": ["thread-UPLOAD-10MiB-c5-w1"],
    }
    code, out, _ = _run(capsys, old, new, "--json", "-")
    assert code == 0
    assert json.loads(out)["cases"] == written["cases"]  # nothing but the JSON
    for case in written["cases"]:
        assert {"id", "verdict", "ratio", "low", "high"} <= case.keys()
        assert math.isfinite(case["ratio"])
    code, out, _ = _run(capsys, old, new, "--markdown")
    assert code == 0 and out.startswith("## NEW against OLD")


def test_a_threshold_below_the_margin_acts_as_the_margin(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # 7% slower, surely more than 5%, yet within the 10% margin: unchanged, not a failure.
    tight = (1.0, 1.005, 0.995, 1.002, 0.998, 1.003, 0.997, 1.001)
    old = _save(tmp_path / "old.json", _case(5, tight))
    new = _save(tmp_path / "new.json", _case(5, [1.07 * t for t in reversed(tight)]))
    document = json.loads(_run(capsys, old, new, "--json", "-")[1])
    (case,) = document["cases"]
    assert case["verdict"] == "unchanged" and case["low"] > 1.05
    code, _, _ = _run(capsys, old, new, "--fail-slower", "5")
    assert code == 0
    # With a margin of 5% the same rounds are slower, and the gate fails.
    code, out, _ = _run(capsys, old, new, "--fail-slower", "5", "--margin", "5")
    assert code == 1 and "slower" in out

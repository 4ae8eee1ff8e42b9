"""The answer first: the table of time per client relative to the best for each load,
marked by the verdict of each cell against the best, and the sentences on why under it.
Small made-up results, every figure known in advance."""

from __future__ import annotations

import dataclasses
import math
import re

import pytest

from fileproto.report.answer import OPEN, SLOWER, answer, decided_line
from fileproto.report.answer_render import (
    explained,
    render_answer_html,
    render_answer_markdown,
    render_answer_text,
)
from fileproto.report.cases import load_cases
from fileproto.report.findings.queued import phase_seconds
from fileproto.report.verdicts import comparison_of, document_verdicts, run_verdicts
from fileproto.report.why import MOST, reasons
from fileproto.results import LoadResult
from fileproto.results.verdict import CONFIDENCE, MARGIN, Verdict, compare
from fileproto.server.registry import KINDS
from tests.helpers.timeline_runs import simulated_run, with_rounds, without_timelines

pytestmark = pytest.mark.smoke

TIGHT = (0.98, 0.99, 1.0, 1.01, 1.02)
_BASE = LoadResult(
    operation="UPLOAD", size_mib=10, size_bytes=10 << 20, client_workers=5, server_workers=1,
    server_kind="thread", method="thread", avg_time_s=1.0, throughput_Bps=1.0,
    aggregate_Bps=1.0, wall_time_s=1.0, successes=5, failures=0, verified=True,
    first_error=None,
)  # fmt: skip


def _case(
    kind: str, workers: int, seconds: float, *, clients: int = 5, op: str = "UPLOAD",
    spread: tuple[float, ...] = TIGHT,
) -> LoadResult:  # fmt: skip
    rounds = [seconds * f for f in spread]
    return dataclasses.replace(
        _BASE, server_kind=kind, server_workers=workers, client_workers=clients, operation=op,
        avg_time_s=sum(rounds) / len(rounds), round_times_s=rounds, rounds=len(rounds),
    )  # fmt: skip


def _marks(results: list[LoadResult]) -> dict[str, tuple[str, float]]:
    table = answer(results, run_verdicts(results))
    return {
        cell.result.id: (cell.mark.key, round(cell.ratio, 2))
        for row in table.rows
        for cell in row.cells.values()
    }


def test_each_cell_against_the_best_of_its_load() -> None:
    """One load, four cases: the fastest is the best; 4% slower with tight rounds is the
    same within the margin; 60% slower is slower; 60% slower with rounds that spread is open."""
    results = [
        _case("thread", 1, 1.0),
        _case("thread", 5, 1.04),
        _case("process", 1, 1.6),
        _case("process", 5, 1.6, spread=(0.5, 0.8, 1.0, 1.3, 1.9)),
    ]
    assert _marks(results) == {
        "thread-UPLOAD-10MiB-c5-w1": ("best", 1.0),
        "thread-UPLOAD-10MiB-c5-w5": ("same", 1.04),
        "process-UPLOAD-10MiB-c5-w1": ("slower", 1.6),
        "process-UPLOAD-10MiB-c5-w5": ("open", pytest.approx(1.6, rel=0.15)),
    }


def test_the_best_is_per_load_and_the_mark_is_the_statistics_modules() -> None:
    """Two loads with different winners; each cell's number and mark are compare()'s
    ratio and verdict against its own load's best."""
    results = [
        _case("thread", 1, 1.0, clients=5),
        _case("thread", 5, 2.0, clients=5),
        _case("thread", 1, 9.0, clients=50),
        _case("thread", 5, 3.0, clients=50),
    ]
    table = answer(results)
    assert [(row.load, row.best.id) for row in table.rows] == [
        (("UPLOAD", 10.0, 5), "thread-UPLOAD-10MiB-c5-w1"),
        (("UPLOAD", 10.0, 50), "thread-UPLOAD-10MiB-c50-w5"),
    ]
    loser = table.rows[1].cells["thread pool", 1]
    expected = compare(results[3].times_of_rounds(), results[2].times_of_rounds())
    assert loser.comparison == expected
    assert loser.mark is SLOWER and loser.ratio == pytest.approx(3.0)
    assert table.best_counts() == [(("thread pool", 1), 1), (("thread pool", 5), 1)]


def test_no_number_is_below_the_best_and_each_is_the_comparisons_ratio() -> None:
    # Medians and geometric means disagree here: the lower median is the other case's.
    spread = dataclasses.replace(_case("thread", 1, 1.0), round_times_s=[0.5, 1.0, 1.0, 3.0, 3.0])
    steady = dataclasses.replace(_case("thread", 5, 1.0), round_times_s=[0.9, 0.9, 1.1, 1.1, 1.1])
    row = answer([spread, steady]).rows[0]
    assert row.best.id == steady.id
    cell = row.cells["thread pool", 1]
    assert cell.comparison is not None
    assert cell.ratio == cell.comparison.ratio >= 1.0


def test_one_round_decides_no_cell_and_a_failed_case_is_never_best() -> None:
    failed = dataclasses.replace(
        _case("process", 1, 0.5), successes=0, failures=5, avg_time_s=0.0, round_times_s=[]
    )
    results = [_case("thread", 1, 1.0, spread=(1.0,)), _case("thread", 5, 3.0, spread=(1.0,))]
    results.append(failed)
    table = answer(results)
    (row,) = table.rows
    assert row.best.id == "thread-UPLOAD-10MiB-c5-w1"
    plain = row.cells["thread pool", 5]
    # No interval with one round: the plain ratio, not decided.
    assert plain.mark is OPEN and plain.ratio == pytest.approx(3.0) and plain.text == "? 3.00"
    cell = row.cells["process pool", 1]
    assert cell.mark is OPEN and math.isnan(cell.ratio) and cell.text == "? -"


def test_how_firmly_each_load_is_decided_is_said() -> None:
    clear = [_case("thread", 1, 1.0, clients=5), _case("thread", 5, 2.0, clients=5)]
    tied = [_case("thread", 1, 1.0, clients=50), _case("thread", 5, 1.03, clients=50)]
    assert decided_line(answer(clear)) == (
        f"In its load, every other case is slower than the best (at {CONFIDENCE:.0%} confidence)."
    )
    assert decided_line(answer(clear + tied)) == (
        f"In 1 of the 2 loads every other case is slower than the best (at {CONFIDENCE:.0%} "
        f"confidence); in the other 1, some case is the same within {MARGIN:.0%} or not decided."
    )
    assert decided_line(answer(tied)).startswith("In no load is every other case decided")
    single = [dataclasses.replace(r, round_times_s=r.round_times_s[:1]) for r in clear]
    assert decided_line(answer(single)) == (
        "In no load is every other case decided slower than the best: a verdict needs at "
        "least 2 rounds per case, and every case has 1."
    )


def test_slow_client_cases_are_left_out_and_missing_models_named() -> None:
    slow = dataclasses.replace(_case("thread", 5, 0.1), scenario="idle")
    table = answer([_case("thread", 1, 1.0), slow])
    assert [list(r.cells) for r in table.rows] == [[("thread pool", 1)]]
    # Every other kind of the registry, by its label.
    assert table.not_run == [kind.label for name, kind in KINDS.items() if name != "thread"]


def _document(results: list[LoadResult]) -> dict[str, object]:
    return {
        "machine_info": {"cpu": {"count": 2}},
        "benchmarks": [
            {"name": f"test_matrix[{r.id}]", "param": r.id, "extra_info": r.extra_info(),
             "stats": {"data": [1.0]}}
            for r in results
        ],
    }  # fmt: skip


def _three_loads() -> list[LoadResult]:
    return [
        _case(kind, workers, seconds * scale, clients=clients, op=op)
        for op, scale in (("UPLOAD", 1.0), ("DOWNLOAD", 0.5))
        for clients in (5, 50)
        for kind, workers, seconds in (("thread", 1, 1.0), ("thread", 5, 1.5),
                                       ("process", 1, 1.04), ("process", 5, 3.0))
        if not (op == "DOWNLOAD" and clients == 50)
    ]  # fmt: skip


def test_text_markdown_and_html_show_the_same_cells() -> None:
    results = _three_loads()
    document = _document(results)
    e = explained(document, load_cases(document))
    assert e is not None
    text, markdown = render_answer_text(e), render_answer_markdown(e)
    page = render_answer_html(e)
    # The best first, in words, above the table.
    assert "The best, load by load: thread pool on 1 worker for all 3 loads." in text
    assert markdown.index("The best, load by load") < markdown.index("| Operation")
    # Row by row, the same cells in the same column order.
    text_rows = [re.split(r"\s{2,}", line)[3:7] for line in text.splitlines()
                 if line.startswith(("UPLOAD", "DOWNLOAD"))]  # fmt: skip
    md_rows = [line.strip("| ").split(" | ")[3:7] for line in markdown.splitlines()
               if line.startswith(("| UPLOAD", "| DOWNLOAD"))]  # fmt: skip
    html_cells = re.findall(r'<td class="cell [a-z]+" data-case="[^"]+" [^>]*>([^<]*)</td>', page)
    assert len(md_rows) == 3 and len(html_cells) == 12
    assert [c for row in md_rows for c in row] == html_cells
    assert text_rows == md_rows
    assert md_rows[0] == ["★ 1.00", "1.50", "≈ 1.04", "3.00"]
    # Each model over its workers, one unit per quantity in the headers.
    assert re.search(r"thread pool +process pool +\(server workers\)", text)
    assert "Size (MiB)" in text and "Best time (s)" in text
    assert "thread pool on 5 workers" in markdown and "Best time (s)" in page
    others = [kind.label for name, kind in KINDS.items() if name not in ("thread", "process")]
    flat = text.replace("\n", " ")
    assert f"Not run: {' and '.join(others)} (add " in flat
    assert f" with --fileproto-kinds {','.join(KINDS)})." in flat
    for output in (text.replace("\n", " "), markdown):
        assert (
            f"at {CONFIDENCE:.0%} confidence, from 5 rounds per case (docs/statistics.md)" in output
        )


def test_a_recorded_verdict_reads_back_and_wins_over_the_rounds() -> None:
    a, b = _case("thread", 1, 1.0), _case("thread", 5, 2.0)
    (computed,) = run_verdicts([a, b])
    assert computed.comparison.verdict is Verdict.SLOWER
    assert comparison_of(computed.comparison.as_dict()) == computed.comparison
    entry = {**computed.as_dict(), "verdict": "same", "ratio": 1.01, "low": 0.97, "high": None}
    (recorded,) = run_verdicts([a, b], [entry])
    assert recorded.comparison.verdict is Verdict.SAME
    assert recorded.comparison.high == math.inf
    document = {**_document([a, b]), "fileproto_verdicts": [entry]}
    (read,) = document_verdicts(document, [a, b])
    assert read == recorded
    # An entry that is not one is ignored: the pair keeps its computed verdict.
    (kept,) = run_verdicts([a, b], [{**entry, "verdict": "maybe"}])
    assert kept == computed


# -- why ------------------------------------------------------------------------------------


def test_why_reads_queued_and_served_from_the_timelines() -> None:
    """The made-up server serves 50 clients first come, first served: on 1 worker most
    of a client's time is queued; the sentences give each figure and cite both cases."""
    document = with_rounds(simulated_run(kinds=("thread", "process"), clients=(50,),
                                         workers=(1, 5)))  # fmt: skip
    cases = load_cases(document)
    found = reasons(cases, document_verdicts(document, [c.result for c in cases]), 2)
    assert 1 <= len(found) <= MOST
    first = found[0]
    assert first.cases == ["thread-UPLOAD-10MiB-c50-w1", "thread-UPLOAD-10MiB-c50-w5"]
    one = next(c for c in cases if c.id == first.cases[0])
    seconds = phase_seconds(one)
    assert seconds is not None
    queued = seconds["queued for a worker"] / len(one.requests)
    assert queued > 0.4  # 50 clients of 20 ms each through one worker
    text = first.plain()
    assert text.startswith("thread pool, 50 clients, UPLOAD 10 MiB: on 1 worker a client spent ")
    assert f"{queued:.3f} s queued for a worker" in text
    assert "(timeline thread-UPLOAD-10MiB-c50-w1)" in text
    # The made-up server serves each client as fast on 5 workers: no sharing is claimed.
    assert "share the machine" not in text
    assert f"faster, at {CONFIDENCE:.0%} confidence" in text
    models = found[-1].plain()
    assert models.startswith("On 1 worker, a client was served for ")
    assert (
        f"process pool took 1.00x thread pool's time per client (the same within {MARGIN:.0%}"
        in models
    )


def test_why_says_when_workers_share_the_cores() -> None:
    """Served four times as long on 5 workers, on a 2-core machine: the sentence says
    the workers share the cores; on a 8-core machine it does not."""
    document = simulated_run(kinds=("thread",), clients=(5,), workers=(1, 5))
    for bench in document["benchmarks"]:
        info = bench["extra_info"]
        if info["server_workers"] == 5:
            for event in info["server_events"]:
                event["at"] *= 4
            for request in info["timeline"]["clients"]:
                for mark in ("connected", "sent", "first_byte", "done"):
                    request[mark] *= 4
    cases = load_cases(document)
    (two,) = reasons(cases, [], 2)
    assert "its 5 workers share the machine's 2 cores, so each client is served" in two.plain()
    (eight,) = reasons(cases, [], 8)
    assert "share the machine" not in eight.plain()


def test_no_timelines_no_reasons_and_it_says_why() -> None:
    document = without_timelines(simulated_run(kinds=("thread",), clients=(5,), workers=(1, 5)))
    e = explained(document, load_cases(document))
    assert e is not None and e.reasons == []
    assert e.note.startswith("Why: this run recorded no timelines")
    assert e.note in render_answer_text(e).replace("\n", " ")
